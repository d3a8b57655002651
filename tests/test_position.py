"""Tests for kexue_lib.position (chapters book/position/*).

Reference computations are written independently of the library: the inverse-frequency
recipe and the ``rotate_half`` form used by common open-source Transformer code, complex
multiplication for adjacent pairs, matrix exponentials (scipy) for the rotation
matrices, the ALiBi paper's slope recipe, brute-force loops.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from kexue_lib.position import (
    ROPE_SCALING_KINDS,
    alibi_bias,
    alibi_slopes,
    apply_rope,
    halves_to_pairs,
    kerple_bias,
    logn_scale,
    pairs_to_halves,
    random_position_ids,
    rope_2d,
    rope_inv_freq,
    rope_scaling,
    sinusoidal_pe,
    sliding_window_mask,
    xpos_scale,
)

F64 = torch.float64


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- reference implementations (independent of the library) -------------------------


def ref_inv_freq(dim: int, base: float) -> torch.Tensor:
    """The recipe of common open-source code: 1 / base ** (arange(0, dim, 2) / dim)."""
    return 1.0 / (base ** (torch.arange(0, dim, 2, dtype=F64) / dim))


def ref_rotate_half(x: torch.Tensor) -> torch.Tensor:
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def ref_rope_split_half(
    x: torch.Tensor, pos: torch.Tensor, inv: torch.Tensor
) -> torch.Tensor:
    """Split-half RoPE: emb = cat(freqs, freqs); x*cos + rotate_half(x)*sin."""
    freqs = pos.to(F64)[:, None] * inv.to(F64)[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return x * emb.cos() + ref_rotate_half(x) * emb.sin()


def ref_rope_complex(
    x: torch.Tensor, pos: torch.Tensor, inv: torch.Tensor
) -> torch.Tensor:
    """Adjacent pairs as complex numbers x[2i] + 1j·x[2i+1], multiplied by
    exp(1j·pos·θ_i).
    """
    xc = torch.view_as_complex(x.to(F64).reshape(*x.shape[:-1], -1, 2).contiguous())
    rot = torch.polar(
        torch.ones(len(pos), len(inv), dtype=F64),
        pos.to(F64)[:, None] * inv.to(F64)[None, :],
    )
    return torch.view_as_real(xc * rot).flatten(-2)


def ref_rotation_matrix(m: float, inv: np.ndarray) -> np.ndarray:
    """R(m) = expm(m·B), B block-diagonal with blocks [[0, −θ], [θ, 0]] (adjacent
    pairs).
    """
    d = 2 * len(inv)
    B = np.zeros((d, d))
    for i, t in enumerate(inv):
        B[2 * i + 1, 2 * i] = t
        B[2 * i, 2 * i + 1] = -t
    return scipy.linalg.expm(m * B)


def ref_alibi_slopes(n: int) -> list[float]:
    """The ALiBi paper's recipe: geometric sequence starting at 2^(-8/n); non-powers of
    two interleave.
    """

    def power_of_2(k):
        start = 2 ** (-(2 ** -(math.log2(k) - 3)))
        return [start * start**i for i in range(k)]

    if math.log2(n).is_integer():
        return power_of_2(n)
    closest = 2 ** math.floor(math.log2(n))
    return power_of_2(closest) + ref_alibi_slopes(2 * closest)[0::2][: n - closest]


# --- sinusoidal_pe ------------------------------------------------------------------


def test_sinusoidal_matches_vaswani_formula():
    n, d, base = 7, 10, 10000.0
    pe = sinusoidal_pe(n, d, base, dtype=F64)
    assert pe.shape == (n, d)
    for pos in range(n):
        for i in range(d // 2):
            w = pos / base ** (2 * i / d)
            assert pe[pos, 2 * i].item() == pytest.approx(math.sin(w), abs=1e-14)
            assert pe[pos, 2 * i + 1].item() == pytest.approx(math.cos(w), abs=1e-14)
    assert sinusoidal_pe(3, 4).dtype == torch.float32


@settings(max_examples=25, deadline=None)
@given(
    st.integers(0, 200),
    st.integers(0, 200),
    st.integers(-50, 50),
    st.sampled_from([2, 8, 16]),
)
def test_sinusoidal_inner_product_depends_on_difference(m, n, s, d):
    pe = sinusoidal_pe(300, d, dtype=F64)
    m2, n2 = m + 50 + s, n + 50 + s
    a = pe[m + 50] @ pe[n + 50]
    b = pe[m2] @ pe[n2]
    expected = sum(math.cos((m - n) * 10000 ** (-2 * i / d)) for i in range(d // 2))
    assert abs(a.item() - b.item()) < 1e-10
    assert abs(a.item() - expected) < 1e-10


# --- rope_inv_freq / apply_rope -----------------------------------------------------


@pytest.mark.parametrize(
    "d,base", [(2, 10000.0), (8, 10000.0), (64, 10000.0), (128, 500000.0), (6, 7.5)]
)
def test_inv_freq_matches_common_recipe(d, base):
    ours = rope_inv_freq(d, base, dtype=F64)
    assert ours.shape == (d // 2,)
    assert torch.allclose(ours, ref_inv_freq(d, base), rtol=1e-14, atol=0)
    # float32 agrees with the float32 recipe to an ulp
    ref32 = 1.0 / (base ** (torch.arange(0, d, 2).float() / d))
    assert torch.allclose(rope_inv_freq(d, base), ref32, rtol=2e-7, atol=0)


def test_apply_rope_matches_complex_multiplication_and_expm():
    g = _gen(1)
    n, d = 6, 8
    x = torch.randn(3, n, d, generator=g, dtype=F64)
    pos = torch.tensor([0, 1, 2, 5, 17, 300])
    inv = rope_inv_freq(d, dtype=F64)
    y = apply_rope(x, pos, inv)
    assert y.shape == x.shape and y.dtype == F64
    assert torch.allclose(y, ref_rope_complex(x, pos, inv), atol=1e-12)
    for t in range(n):
        R = ref_rotation_matrix(float(pos[t]), inv.numpy())
        assert np.allclose(y[0, t].numpy(), R @ x[0, t].numpy(), atol=1e-10)


def test_converter_maps_adjacent_pairs_to_split_half_convention():
    g = _gen(2)
    n, d = 5, 12
    x = torch.randn(2, 4, n, d, generator=g, dtype=F64)
    pos = torch.arange(n) * 7
    inv = rope_inv_freq(d, 500.0, dtype=F64)
    ours = apply_rope(x, pos, inv)
    theirs = ref_rope_split_half(pairs_to_halves(x), pos, inv)
    assert torch.allclose(pairs_to_halves(ours), theirs, atol=1e-12)
    assert torch.allclose(halves_to_pairs(theirs), ours, atol=1e-12)
    assert torch.equal(halves_to_pairs(pairs_to_halves(x)), x)
    assert pairs_to_halves(torch.arange(6.0)).tolist() == [0, 2, 4, 1, 3, 5]


@settings(max_examples=25, deadline=None)
@given(
    st.integers(0, 2**16),
    st.integers(-500, 500),
    st.integers(-500, 500),
    st.integers(-1000, 1000),
    st.sampled_from([2, 4, 16, 32]),
)
def test_rope_logit_depends_only_on_relative_position(seed, m, n, shift, d):
    g = _gen(seed)
    q = torch.randn(1, d, generator=g, dtype=F64)
    k = torch.randn(1, d, generator=g, dtype=F64)
    inv = rope_inv_freq(d, dtype=F64)

    def logit(a, b):
        return (
            (
                apply_rope(q, torch.tensor([a]), inv)
                * apply_rope(k, torch.tensor([b]), inv)
            )
            .sum()
            .item()
        )

    l1, l2 = logit(m, n), logit(m + shift, n + shift)
    assert abs(l1 - l2) < 1e-9 * (1 + abs(l1))
    # and equals qᵀ R(n − m) k
    R = ref_rotation_matrix(float(n - m), inv.numpy())
    assert abs(l1 - float(q[0].numpy() @ R @ k[0].numpy())) < 1e-9 * (1 + abs(l1))


def test_apply_rope_norm_broadcast_dtype_and_gradient():
    g = _gen(3)
    x = torch.randn(2, 3, 4, 8, generator=g)
    pos = torch.arange(4)
    y = apply_rope(x, pos, rope_inv_freq(8))
    assert torch.allclose(y.norm(dim=-1), x.norm(dim=-1), rtol=1e-5)
    # batched positions broadcast like x.shape[:-1]
    pos_b = torch.stack([torch.arange(4), torch.arange(4) + 3])[:, None, :]  # (2, 1, 4)
    yb = apply_rope(x, pos_b, rope_inv_freq(8))
    assert torch.allclose(
        yb[1], apply_rope(x[1], torch.arange(4) + 3, rope_inv_freq(8))
    )
    # position 0 is the identity; fractional positions are allowed
    assert torch.allclose(apply_rope(x, torch.zeros(4), rope_inv_freq(8)), x)
    apply_rope(x, torch.linspace(0, 1.5, 4), rope_inv_freq(8))
    # half precision input stays half precision
    assert apply_rope(x.half(), pos, rope_inv_freq(8)).dtype == torch.float16
    xr = x.clone().requires_grad_(True)
    apply_rope(xr, pos, rope_inv_freq(8)).sum().backward()
    assert xr.grad is not None and torch.isfinite(xr.grad).all()


# --- rope_2d ------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    st.integers(0, 2**16),
    st.integers(-20, 20),
    st.integers(-20, 20),
    st.sampled_from([4, 8, 16]),
)
def test_rope_2d_logits_invariant_to_joint_translation(seed, tx, ty, d):
    g = _gen(seed)
    n = 6
    q = torch.randn(n, d, generator=g, dtype=F64)
    k = torch.randn(n, d, generator=g, dtype=F64)
    xs = torch.randint(0, 8, (n,), generator=g)
    ys = torch.randint(0, 8, (n,), generator=g)
    L1 = rope_2d(q, xs, ys) @ rope_2d(k, xs, ys).T
    L2 = rope_2d(q, xs + tx, ys + ty) @ rope_2d(k, xs + tx, ys + ty).T
    assert torch.allclose(L1, L2, atol=1e-9)


def test_rope_2d_is_blockwise_1d_rope():
    g = _gen(4)
    x = torch.randn(5, 8, generator=g, dtype=F64)
    xs, ys = torch.tensor([0, 1, 2, 3, 4]), torch.tensor([4, 0, 2, 1, 3])
    inv = ref_inv_freq(4, 10000.0)
    y = rope_2d(x, xs, ys)
    assert torch.allclose(y[:, :4], ref_rope_complex(x[:, :4], xs, inv), atol=1e-12)
    assert torch.allclose(y[:, 4:], ref_rope_complex(x[:, 4:], ys, inv), atol=1e-12)
    # translating only x changes only the first half
    y2 = rope_2d(x, xs + 1, ys)
    assert torch.allclose(y2[:, 4:], y[:, 4:]) and not torch.allclose(
        y2[:, :4], y[:, :4]
    )


# --- rope_scaling -------------------------------------------------------------------


@pytest.mark.parametrize("d", [8, 64, 128])
@pytest.mark.parametrize("k", [1.0, 2.0, 8.0])
def test_rope_scaling_kinds_against_formulas(d, k):
    base = 10000.0
    theta = ref_inv_freq(d, base)
    idx = torch.arange(d // 2, dtype=F64)
    lam = k ** (2 / d)
    got = {
        kind: rope_scaling(kind, d, k, base, dtype=F64) for kind in ROPE_SCALING_KINDS
    }
    assert torch.allclose(got["none"], theta, rtol=1e-13)
    assert torch.allclose(
        got["pi"], theta / k, rtol=1e-13
    )  # positions / k  (linear interpolation)
    assert torch.allclose(got["ntk-old"], ref_inv_freq(d, base * k), rtol=1e-12)
    # the widely used static NTK-aware recipe: base' = base · k^(d/(d−2))
    assert torch.allclose(
        got["ntk-aware"], ref_inv_freq(d, base * k ** (d / (d - 2))), rtol=1e-12
    )
    # ntk-fixed: θ_m = n / (λ (βλ)^(m−1)), m = i + 1
    assert torch.allclose(got["ntk-fixed"], theta / lam ** (idx + 1), rtol=1e-12)
    # the lowest frequency is divided by exactly k for pi / ntk-aware / ntk-fixed /
    # ntk-mixed
    for kind in ("pi", "ntk-aware", "ntk-fixed", "ntk-mixed"):
        assert got[kind][-1].item() == pytest.approx(theta[-1].item() / k, rel=1e-12)
    # the highest frequency is untouched by none / ntk-old / ntk-aware
    for kind in ("none", "ntk-old", "ntk-aware"):
        assert got[kind][0].item() == pytest.approx(1.0, rel=1e-15)
    if k == 1.0:
        for kind in ROPE_SCALING_KINDS:
            assert torch.allclose(got[kind], theta, rtol=1e-13)


@pytest.mark.parametrize("b", [0.0, 0.3, 0.625, 1.0])
def test_ntk_mixed_cumulative_product_and_limits(b):
    d, k, base = 32, 8.0, 10000.0
    theta = ref_inv_freq(d, base).numpy()
    got = rope_scaling("ntk-mixed", d, k, base, b, dtype=F64).numpy()
    # per-step factors λ_j with ∏_{j ≤ m} λ_j = exp(a m^b), a (d/2)^b = log k
    a = math.log(k) / (d / 2) ** b
    m = np.arange(1, d // 2 + 1)
    cum = np.exp(a * m**b)
    lam = cum / np.concatenate([[1.0], cum[:-1]])
    assert np.allclose(theta / got, np.cumprod(lam), rtol=1e-12)
    assert (theta / got)[-1] == pytest.approx(k, rel=1e-12)
    if b == 1.0:
        assert np.allclose(
            got, rope_scaling("ntk-fixed", d, k, base, dtype=F64).numpy(), rtol=1e-12
        )
    if b == 0.0:
        assert np.allclose(
            got, rope_scaling("pi", d, k, base, dtype=F64).numpy(), rtol=1e-12
        )


def test_rope_scaling_dtype_and_b_ignored_elsewhere():
    assert rope_scaling("pi", 8, 2.0).dtype == torch.float32
    assert torch.equal(
        rope_scaling("ntk-old", 8, 2.0, b=0.1), rope_scaling("ntk-old", 8, 2.0, b=0.9)
    )


# --- logn_scale ---------------------------------------------------------------------


def test_logn_scale_values():
    assert logn_scale(4096, 64) == pytest.approx(2.0)
    assert logn_scale(32, 64) == 1.0
    assert logn_scale(8, 64, clamp=False) == pytest.approx(0.5)
    t = logn_scale(torch.tensor([1, 8, 64, 512, 4096]), 64)
    assert torch.allclose(t, torch.tensor([1.0, 1.0, 1.0, 1.5, 2.0]))
    t2 = logn_scale(torch.tensor([1.0, 8.0]), 64, clamp=False)
    assert torch.allclose(t2, torch.tensor([0.0, math.log(8) / math.log(64)]))


# --- ALiBi --------------------------------------------------------------------------


@pytest.mark.parametrize("heads", [1, 2, 3, 5, 6, 8, 12, 16, 24, 32])
def test_alibi_slopes_paper_recipe(heads):
    ours = alibi_slopes(heads, dtype=F64)
    assert ours.shape == (heads,)
    assert np.allclose(ours.numpy(), ref_alibi_slopes(heads), rtol=1e-14)


def test_alibi_slopes_known_values():
    assert alibi_slopes(8, dtype=F64).tolist() == [2.0**-j for j in range(1, 9)]
    twelve = alibi_slopes(12, dtype=F64).numpy()
    assert np.allclose(twelve[8:], [2**-0.5, 2**-1.5, 2**-2.5, 2**-3.5], rtol=1e-14)


def test_alibi_bias_brute_force():
    n, h = 6, 3
    bias = alibi_bias(n, h, dtype=F64)
    s = ref_alibi_slopes(h)
    assert bias.shape == (h, n, n)
    for a in range(h):
        for i in range(n):
            for j in range(n):
                assert bias[a, i, j].item() == pytest.approx(
                    -s[a] * abs(i - j), abs=1e-15
                )
    assert not torch.signbit(bias.diagonal(dim1=-2, dim2=-1)).any()  # +0, not −0


# --- KERPLE -------------------------------------------------------------------------


def test_kerple_bias_brute_force_both_kinds():
    n = 5
    lg = kerple_bias(n, 2.0, 0.5, "log", dtype=F64)
    pw = kerple_bias(n, 1.5, 0.7, "power", dtype=F64)
    for i in range(n):
        for j in range(n):
            assert lg[i, j].item() == pytest.approx(
                -2.0 * math.log(1 + 0.5 * abs(i - j)), abs=1e-12
            )
            assert pw[i, j].item() == pytest.approx(-1.5 * abs(i - j) ** 0.7, abs=1e-12)


def test_kerple_bias_per_head_tensors_and_gradients():
    r1 = torch.tensor([1.0, 2.0], dtype=F64, requires_grad=True)
    r2 = torch.tensor([0.5, 1.5], dtype=F64, requires_grad=True)
    for kind in ("log", "power"):
        out = kerple_bias(4, r1, r2, kind)
        assert out.shape == (2, 4, 4)
        assert torch.allclose(out[1], kerple_bias(4, 2.0, 1.5, kind, dtype=F64))
        out.sum().backward()
        assert torch.isfinite(r1.grad).all() and torch.isfinite(r2.grad).all()
        r1.grad = r2.grad = None


# --- sliding window -----------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 12), st.integers(1, 15), st.booleans())
def test_sliding_window_mask_brute_force(n, w, causal):
    m = sliding_window_mask(n, w, causal=causal)
    assert m.dtype == torch.bool and m.shape == (n, n)
    for i in range(n):
        for j in range(n):
            ok = (0 <= i - j < w) if causal else (abs(i - j) < w)
            assert bool(m[i, j]) == ok
    if causal and w >= n:
        assert torch.equal(m, torch.ones(n, n, dtype=torch.bool).tril())


# --- XPOS ---------------------------------------------------------------------------


def test_xpos_zeta_matches_paper_and_relative_decay():
    d, sb = 8, 512.0
    s = xpos_scale(torch.tensor([1.0]), d, dtype=F64)[0]
    zeta = (torch.arange(0, d, 2, dtype=F64) + 0.4 * d) / (
        1.4 * d
    )  # (2i + γd)/((1+γ)d)
    assert torch.allclose(s, zeta.repeat_interleave(2) ** (1 / sb), rtol=1e-14)
    g = _gen(5)
    q = torch.randn(1, d, generator=g, dtype=F64)
    k = torch.randn(1, d, generator=g, dtype=F64)
    inv = rope_inv_freq(d, dtype=F64)

    def logit(m, n):
        qm = apply_rope(q, torch.tensor([m]), inv) * xpos_scale(
            torch.tensor([m]), d, dtype=F64
        )
        kn = apply_rope(k, torch.tensor([n]), inv) * xpos_scale(
            torch.tensor([-n]), d, dtype=F64
        )
        return (qm * kn).sum().item()

    assert logit(10, 3) == pytest.approx(logit(110, 103), rel=1e-10)
    # channel-pair-wise: qᵀ R(n−m) diag(ζ^((m−n)/sb)) k
    R = ref_rotation_matrix(3.0 - 10.0, inv.numpy())
    D = np.diag(zeta.repeat_interleave(2).numpy() ** (7 / sb))
    assert logit(10, 3) == pytest.approx(
        float(q[0].numpy() @ D @ R @ k[0].numpy()), rel=1e-10
    )
    assert xpos_scale(torch.arange(3), 4).shape == (3, 4)


# --- random positions ---------------------------------------------------------------


def test_random_position_ids_properties():
    ids = random_position_ids(8, 64, _gen(0))
    assert ids.dtype == torch.int64 and ids.shape == (8,)
    assert torch.all(ids[1:] > ids[:-1]) and ids.min() >= 0 and ids.max() < 64
    assert torch.equal(ids, random_position_ids(8, 64, _gen(0)))
    assert torch.equal(random_position_ids(5, 5), torch.arange(5))
    batch = random_position_ids(16, 256, _gen(1), batch=2000)
    assert batch.shape == (2000, 16)
    assert torch.all(batch[:, 1:] > batch[:, :-1])
    # uniform n-subset: E[min] = (L − n)/(n + 1), mean gap ≈ L/(n+1)
    assert batch[:, 0].double().mean().item() == pytest.approx(
        (256 - 16) / 17, rel=0.08
    )
    gaps = batch.diff(dim=1).double().mean().item()
    assert gaps == pytest.approx(257 / 17, rel=0.05)
    # every position is reachable
    assert len(torch.unique(batch)) == 256


# --- ValueErrors --------------------------------------------------------------------


def test_value_errors():
    x = torch.zeros(3, 8)
    cases = [
        (lambda: sinusoidal_pe(4, 7), "d"),
        (lambda: sinusoidal_pe(0, 8), "n"),
        (lambda: rope_inv_freq(7), "d"),
        (lambda: rope_inv_freq(8, base=1.0), "base"),
        (lambda: apply_rope(torch.zeros(3, 7), torch.arange(3), rope_inv_freq(8)), "d"),
        (lambda: apply_rope(x, torch.arange(3), rope_inv_freq(6)), "inv_freq"),
        (lambda: apply_rope(x, torch.arange(4), rope_inv_freq(8)), "positions"),
        (lambda: apply_rope(torch.zeros(8), torch.arange(1), rope_inv_freq(8)), "x"),
        (lambda: pairs_to_halves(torch.zeros(3)), "x"),
        (lambda: halves_to_pairs(torch.zeros(5)), "x"),
        (lambda: rope_2d(torch.zeros(3, 6), torch.arange(3), torch.arange(3)), "d"),
        (
            lambda: rope_2d(x, torch.arange(3), torch.arange(2)),
            "ys must have the shape of xs",
        ),
        (lambda: rope_scaling("yarn", 8, 2.0), "kind"),
        (lambda: rope_scaling("pi", 7, 2.0), "d"),
        (lambda: rope_scaling("pi", 8, 0.5), "factor"),
        (lambda: rope_scaling("pi", 8, float("nan")), "factor"),
        (lambda: rope_scaling("ntk-aware", 2, 2.0), "d"),
        (lambda: rope_scaling("ntk-mixed", 8, 2.0, b=-1.0), "b"),
        (lambda: rope_scaling("none", 8, 2.0, base=0.5), "base"),
        (lambda: logn_scale(0, 64), "n"),
        (lambda: logn_scale(10, 1), "train_len"),
        (lambda: logn_scale(torch.tensor([0, 3]), 64), "n"),
        (lambda: alibi_slopes(0), "heads"),
        (lambda: alibi_bias(0, 4), "n"),
        (lambda: kerple_bias(4, 1.0, 1.0, "cubic"), "kind"),
        (lambda: kerple_bias(4, -1.0, 1.0), "r1"),
        (lambda: kerple_bias(4, 1.0, 0.0), "r2"),
        (lambda: kerple_bias(4, 1.0, 2.5, "power"), "r2"),
        (lambda: kerple_bias(4, torch.ones(2), torch.ones(3)), "r1, r2 must"),
        (lambda: sliding_window_mask(4, 0), "window"),
        (lambda: sliding_window_mask(0, 2), "n"),
        (lambda: xpos_scale(torch.arange(3), 5), "d"),
        (lambda: xpos_scale(torch.arange(3), 4, gamma=0.0), "gamma"),
        (lambda: xpos_scale(torch.arange(3), 4, scale_base=-1.0), "scale_base"),
        (lambda: random_position_ids(5, 4), "max_len"),
        (lambda: random_position_ids(0, 4), "n"),
        (lambda: random_position_ids(2, 4, batch=0), "batch"),
    ]
    for fn, name in cases:
        with pytest.raises(ValueError, match=name):
            fn()


def test_type_errors():
    x = torch.zeros(3, 8)
    cases = [
        (lambda: rope_inv_freq(8.0), "d must be an even int"),
        (lambda: sinusoidal_pe("4", 8), "n must be an int"),
        (lambda: apply_rope([[0.0] * 8] * 3, torch.arange(3), rope_inv_freq(8)), "x"),
        (lambda: apply_rope(x, "abc", rope_inv_freq(8)), "positions"),
        (lambda: apply_rope(x, torch.arange(3), [1.0] * 4), "inv_freq"),
        (lambda: rope_scaling(3, 8, 2.0), "kind"),
        (lambda: logn_scale("10", 64), "n"),
        (lambda: kerple_bias(4, "1", 1.0), "r1"),
        (lambda: sliding_window_mask(4, 2, causal="yes"), "causal"),
        (lambda: random_position_ids(2, 4, generator=0), "generator"),
    ]
    for fn, name in cases:
        with pytest.raises(TypeError, match=name):
            fn()
