"""One error convention across the library (issue 9, section 6).

Wrong types raise ``TypeError``, wrong values or shapes ``ValueError``, and both
messages name the argument, what was expected and what was received. The checkers live
in ``kexue_lib._validate``; the unit tests below pin their behaviour, and
``test_every_public_function_follows_the_convention`` calls every public function and
class of the library once with an argument of the wrong type and once with an argument
of the wrong value.
"""

from __future__ import annotations

import importlib
import inspect
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
import torch

from kexue_lib import _validate as V

# --- the checkers --------------------------------------------------------------------


def test_integer():
    assert V.integer("n", 3) == 3 and type(V.integer("n", np.int64(3))) is int
    assert V.integer("n", torch.tensor(4)) == 4  # a 0-dim integer tensor has __index__
    assert V.integer("d", 4, minimum=2, even=True) == 4
    for bad in (2.0, 2.5, True, "2", None, [2], torch.tensor(2.0)):
        with pytest.raises(TypeError, match=r"^n must be an int >= 1, got "):
            V.integer("n", bad, minimum=1)
    with pytest.raises(ValueError, match=r"^n must be an int >= 1, got 0$"):
        V.integer("n", 0, minimum=1)
    with pytest.raises(ValueError, match=r"^k must be an int in \[0, 3\], got 4$"):
        V.integer("k", 4, minimum=0, maximum=3)
    with pytest.raises(ValueError, match=r"^d must be an even int >= 2, got 3$"):
        V.integer("d", 3, minimum=2, even=True)


def test_real():
    assert V.real("x", 2) == 2.0 and type(V.real("x", np.float32(1.5))) is float
    assert V.real("x", torch.tensor([2.5])) == 2.5  # one-element tensor
    assert V.real("x", np.array(3.0)) == 3.0  # 0-dim array
    assert V.real("x", math.inf, finite=False) == math.inf
    for bad in ("1", None, True, 1j, torch.tensor(True), np.array("a")):
        with pytest.raises(TypeError, match=r"^x must be a finite real number, got "):
            V.real("x", bad)
    for bad in (np.ones(2), torch.ones(3)):
        with pytest.raises(ValueError, match=r"^x must be a single number, got "):
            V.real("x", bad)
    for bad in (math.nan, math.inf):
        with pytest.raises(ValueError, match=r"^x must be a finite real number, got "):
            V.real("x", bad)
    with pytest.raises(ValueError, match=r"^x must be a real number, got nan$"):
        V.real("x", math.nan, finite=False)
    cases = [
        (dict(gt=0), 0, r"> 0"),
        (dict(ge=1), 0.5, r">= 1"),
        (dict(lt=1), 1, r"< 1"),
        (dict(le=1), 2, r"<= 1"),
        (dict(gt=0, lt=1), 1, r"in \(0, 1\)"),
        (dict(gt=0, le=1), 0, r"in \(0, 1\]"),
        (dict(ge=0, lt=1), -1, r"in \[0, 1\)"),
    ]
    for bounds, value, text in cases:
        with pytest.raises(
            ValueError, match=rf"^t must be a finite real number {text}"
        ):
            V.real("t", value, **bounds)
        # the bounds themselves
    assert V.real("t", 1, le=1) == 1.0 and V.real("t", 0, ge=0) == 0.0


def test_boolean_choice_string_path_generator_module():
    assert V.boolean("b", np.bool_(True)) is True
    with pytest.raises(TypeError, match=r"^b must be a bool, got int 1$"):
        V.boolean("b", 1)
    assert V.choice("kind", "a", ("a", "b")) == "a"
    with pytest.raises(
        TypeError, match=r"^kind must be one of \('a', 'b'\), got int 3"
    ):
        V.choice("kind", 3, ("a", "b"))
    with pytest.raises(ValueError, match=r"^kind must be one of \('a', 'b'\), got 'c'"):
        V.choice("kind", "c", ("a", "b"))
    assert V.string("s", "x") == "x" and V.string("s", None, optional=True) is None
    with pytest.raises(TypeError, match=r"^s must be a str or None, got int 3"):
        V.string("s", 3, optional=True)
    assert V.path("p", Path("a")) == Path("a")
    with pytest.raises(TypeError, match=r"^p must be a path"):
        V.path("p", 3)
    assert V.generator("g", None) is None
    with pytest.raises(
        TypeError, match=r"^g must be a torch.Generator or None, got int"
    ):
        V.generator("g", 0)
    assert V.module("m", None, optional=True) is None
    with pytest.raises(TypeError, match=r"^m must be a torch.nn.Module, got function"):
        V.module("m", lambda x: x)
    assert V.function("f", abs) is abs
    with pytest.raises(TypeError, match=r"^f must be callable, got int"):
        V.function("f", 3)


def test_positive_ints():
    assert V.positive_ints("h", 3) == (3,) and V.positive_ints("h", [2, 4]) == (2, 4)
    for bad in (2.5, "12", [2, 2.5], (True,), None):
        with pytest.raises(TypeError, match=r"^h must be a positive int or a sequence"):
            V.positive_ints("h", bad)
    for bad in ((), (2, 0), -1):
        with pytest.raises(
            ValueError, match=r"^h must be a positive int or a sequence"
        ):
            V.positive_ints("h", bad)


def test_tensor():
    x = torch.zeros(2, 3)
    assert V.tensor("x", x, shape="(b, n)", ndim=2, last=3, floating=True) is x
    with pytest.raises(
        TypeError, match=r"^x must be a torch.Tensor of shape \(b, n\), "
    ):
        V.tensor("x", np.zeros((2, 3)), shape="(b, n)")
    with pytest.raises(
        ValueError, match=r"^x must have shape \(b, n, d\), got \(2, 3\)$"
    ):
        V.tensor("x", x, shape="(b, n, d)", ndim=3)
    with pytest.raises(ValueError, match=r"^x must be a tensor with at least 3 dim"):
        V.tensor("x", x, min_ndim=3)
    with pytest.raises(
        ValueError, match=r"^x must have shape \(\.\.\., 4\), got \(2, 3\)"
    ):
        V.tensor("x", x, last=4)
    with pytest.raises(
        TypeError, match=r"^x must be a floating-point tensor, got dtype"
    ):
        V.tensor("x", x.long(), floating=True)
    with pytest.raises(TypeError, match=r"^x must be an integer tensor, got dtype"):
        V.tensor("x", x, integral=True)
    with pytest.raises(TypeError, match=r"^x must be an integer tensor, got dtype"):
        V.tensor("x", x.bool(), integral=True)
    with pytest.raises(ValueError, match=r"^x must be finite, got NaN or inf entries$"):
        V.tensor("x", torch.tensor([0.0, math.nan]), finite=True)


def test_real_array():
    out = V.real_array("x", [[1, 2], [3, 4]])
    assert out.dtype == np.float64 and out.shape == (2, 2)
    assert V.real_array("x", torch.tensor([True])).tolist() == [1.0]
    for bad in (["a"], np.ones(2, dtype=complex), {"a": 1}):
        with pytest.raises(TypeError, match=r"^x must be a real number or array, got "):
            V.real_array("x", bad)
    with pytest.raises(ValueError, match=r"^x must be finite, got NaN or inf entries$"):
        V.real_array("x", [0.0, math.inf])
    assert V.real_array("x", [math.inf], finite=False)[0] == math.inf


def test_shapes():
    a, b = torch.zeros(2, 3), torch.zeros(3, 2)
    assert V.same_shape("b", a.clone(), "a", a).shape == a.shape
    with pytest.raises(ValueError, match=r"^b must have the shape of a, \(2, 3\), got"):
        V.same_shape("b", b, "a", a)
    assert V.broadcast(a=(2, 1), b=(3,)) == torch.Size([2, 3])
    with pytest.raises(ValueError, match=r"^a, b must have shapes that broadcast"):
        V.broadcast(a=(2, 3), b=(4,))
    V.broadcasts_to("bias", (1, 3), "the logits' shape", (2, 3))
    for shape in (
        (2, 4),
        (3, 2, 3),
    ):  # incompatible, and broadcasting beyond the target
        with pytest.raises(ValueError, match=r"^bias must broadcast to the logits'"):
            V.broadcasts_to("bias", shape, "the logits' shape", (2, 3))


def test_describe_is_short():
    assert V.describe(2.5) == "float 2.5"
    assert V.describe("abc") == "str 'abc'"
    assert V.describe(None) == "None"
    assert V.describe(list(range(100))) == "list"
    assert V.describe(torch.zeros(2, dtype=torch.int64)) == (
        "tensor of shape (2,) and dtype torch.int64"
    )


# --- every public function and class ------------------------------------------------
#
# One row per public callable: a call with an argument of the wrong type (TypeError) and
# a call with an argument of the wrong value or shape (ValueError), each with the name
# of the argument the message must mention. A value case may be None, with the reason.


class Case(NamedTuple):
    bad_type: Callable[[], object]
    type_arg: str
    bad_value: Callable[[], object] | None
    value_arg: str | None


def _f(*shape, dtype=torch.float64):
    return torch.zeros(*shape, dtype=dtype)


def _qkv():
    g = torch.Generator().manual_seed(0)
    return (torch.randn(1, 8, 4, generator=g, dtype=torch.float64) for _ in range(3))


def _unit(*shape):
    x = torch.zeros(*shape, dtype=torch.float64)
    x[..., 0] = 1.0
    return x


def _cases() -> dict[str, Case]:
    from kexue_lib import attention as A
    from kexue_lib import (
        checks,
        data,
        device,
        linalg,
        physics,
        plotting,
        seed_all,
        timing,
        vae,
        vmf,
        vq,
        widgets,
    )
    from kexue_lib import diffusion as D
    from kexue_lib import flows as FL
    from kexue_lib import gan as G
    from kexue_lib import nlp as NLP
    from kexue_lib import nn as N
    from kexue_lib import ot as O
    from kexue_lib import position as P
    from kexue_lib import sampling as S
    from kexue_lib.data import copy_task as task
    from kexue_lib.nn import training as T
    from kexue_lib.position import experiments as PE

    q, k, v = _qkv()
    tok = torch.zeros(2, 5, dtype=torch.long)
    mha = N.MultiHeadAttention(8, 2)
    tiny = N.TinyTransformer(5, 8, 2, 1)
    univae = N.UniVAE(6, 3, d_model=8, n_heads=2, n_layers=2, k=1, z_dim=4)
    gvae = vae.GaussianVAE(4, 2, (8,), (8,))
    hvae = vae.HierVAE(4, 8, (2, 2))
    bn = vae.BNScaler(0.5, 4)
    quant = vq.VectorQuantizer(3, 2)
    sampler = vmf.VMFSampler(3, 2.0, grid=64)
    fig, ax = plotting.subplots()
    lm_batch = lambda step: (tok, torch.ones_like(tok, dtype=torch.bool))  # noqa: E731
    not_a_file = "a missing file raises FileNotFoundError, as open() does"
    critic, gen, enc = G.mlp(2, 1), G.mlp(2, 2), G.mlp(2, 2)
    p2 = np.array([0.5, 0.5])
    abar, _ = D.linear_schedule(10)
    eps0 = lambda x, t: torch.zeros_like(x)  # noqa: E731
    logits = lambda x, *a: x  # noqa: E731
    tmlp = D.TimeMLP(2, 2, 10)
    cln = N.ConditionalLayerNorm(4, 2).double()
    iblock, iflow = FL.IResBlock(2, 8), FL.IResFlow(2, 8, n_blocks=2)
    gp = NLP.GlobalPointer(8, 2, 4).double()
    _p2 = torch.tensor([0.5, 0.5], dtype=torch.float64)
    bigram = S.BigramLM(_p2, torch.full((2, 2), 0.5, dtype=torch.float64), 3)
    seqs = torch.zeros(2, 3, dtype=torch.long)
    lrho, lq = bigram.log_prob, bigram.log_prob
    f1 = lambda x: torch.ones(len(x), dtype=torch.float64)  # noqa: E731
    bigram_sample = bigram.sample
    prop = lambda x, generator=None: S.propose_edit(x, 2, generator=generator)  # noqa: E731
    fwd = lambda x0, e, t: 0.9 * x0 + 0.1 * e  # noqa: E731
    inv = lambda x0, xt, t: (xt - 0.9 * x0) / 0.1  # noqa: E731
    blur = D.LinearDegradation(D.heat_blur_operators(2, [0.0, 0.5, 1.0]))
    return {
        # kexue_lib
        "seed_all": Case(lambda: seed_all("0"), "seed", lambda: seed_all(-1), "seed"),
        "device": Case(lambda: device(3), "prefer", lambda: device("gpu"), "prefer"),
        # checks
        "claim": Case(
            lambda: checks.claim(1, "s"), "cid", lambda: checks.claim("X1", "s"), "cid"
        ),
        "reproduction": Case(
            lambda: checks.reproduction(
                headline=1, result="r", verdict="partly", reason="x"
            ),
            "headline",
            lambda: checks.reproduction(
                headline="h", result="r", verdict="maybe", reason="x"
            ),
            "verdict",
        ),
        "assert_close": Case(
            lambda: checks.assert_close(1.0, 1.0, rtol="1"),
            "rtol",
            lambda: checks.assert_close(1.0, 1.0, atol=-1.0),
            "atol",
        ),
        "assert_less": Case(
            lambda: checks.assert_less(1.0, "2"),
            "bound",
            lambda: checks.assert_less(1.0, math.nan),
            "bound",
        ),
        "assert_quoted": Case(
            lambda: checks.assert_quoted(0.22, 0.22),
            "quoted",
            lambda: checks.assert_quoted(0.22, "0.2.2"),
            "quoted",
        ),
        "assert_sympy_zero": Case(
            lambda: checks.assert_sympy_zero(0, name=1), "name", None, "any expression"
        ),
        "assert_sympy_equal": Case(
            lambda: checks.assert_sympy_equal(0, 0, name=1), "name", None, "any pair"
        ),
        "listed_claims": Case(
            lambda: checks.listed_claims(3), "nb_path", None, not_a_file
        ),
        "checked_claims": Case(
            lambda: checks.checked_claims(3), "nb_path", None, not_a_file
        ),
        "reproduction_rows": Case(
            lambda: checks.reproduction_rows(3), "nb_path", None, not_a_file
        ),
        "claim_blocks": Case(
            lambda: checks.claim_blocks(3),
            "source",
            None,
            "unparsable code: SyntaxError",
        ),
        # widgets and plotting
        "figure_png": Case(
            lambda: widgets.figure_png(3),
            "fig",
            lambda: widgets.figure_png(fig, 0),
            "dpi",
        ),
        "precomputed_slider": Case(
            lambda: widgets.precomputed_slider(3, [1]),
            "render",
            lambda: widgets.precomputed_slider(lambda v: fig, []),
            "values",
        ),
        "show_source": Case(
            lambda: widgets.show_source(3),
            "objs",
            lambda: widgets.show_source(),
            "objs",
        ),
        "subplots": Case(
            lambda: plotting.subplots("1"),
            "nrows",
            lambda: plotting.subplots(0),
            "nrows",
        ),
        "finish": Case(lambda: plotting.finish(3), "ax", None, "labels are free text"),
        "apply_style": Case(None, None, None, "takes no argument"),
        # data
        "digits": Case(
            lambda: data.digits(threshold="0.5"),
            "threshold",
            lambda: data.digits(threshold=2.0),
            "threshold",
        ),
        "train_test": Case(
            lambda: data.train_test(3, [1]),
            "x",
            lambda: data.train_test([1, 2], [1, 2], test_fraction=1.5),
            "test_fraction",
        ),
        "ring_of_gaussians": Case(
            lambda: data.ring_of_gaussians(2.5),
            "n",
            lambda: data.ring_of_gaussians(4, std=0.0),
            "std",
        ),
        "two_moons": Case(
            lambda: data.two_moons("5"), "n", lambda: data.two_moons(1), "n"
        ),
        "copy_task": Case(
            lambda: data.copy_task(1.5, 8),
            "batch",
            lambda: data.copy_task(0, 8),
            "batch",
        ),
        "reverse_task": Case(
            lambda: data.reverse_task(1, "3"), "m", lambda: data.reverse_task(1, 0), "m"
        ),
        "random_transitions": Case(
            lambda: data.random_transitions(1, 3, sharpness="2"),
            "sharpness",
            lambda: data.random_transitions(1, 3, sharpness=-1.0),
            "sharpness",
        ),
        "markov_language": Case(
            lambda: data.markov_language(1, 5, 2.0),
            "vocab",
            lambda: data.markov_language(1, 5, 2, transitions=torch.ones(2, 2)),
            "transitions",
        ),
        # timing
        "interleaved_times": Case(
            lambda: timing.interleaved_times([lambda: None], 1),
            "calls",
            lambda: timing.interleaved_times({"a": lambda: None}, 0),
            "rounds",
        ),
        # linalg
        "expm_series": Case(
            lambda: linalg.expm_series([[1.0]], 3),
            "A",
            lambda: linalg.expm_series(_f(2, 3), 3),
            "A",
        ),
        "logm_series": Case(
            lambda: linalg.logm_series(_f(2, 2), 2.0),
            "n_terms",
            lambda: linalg.logm_series(_f(2, 2), 0),
            "n_terms",
        ),
        "logdet_series": Case(
            lambda: linalg.logdet_series(_f(2, 2), 3, check="yes"),
            "check",
            lambda: linalg.logdet_series(3 * torch.eye(2, dtype=torch.float64), 3),
            "A",
        ),
        "spectral_radius": Case(
            lambda: linalg.spectral_radius("A"),
            "A",
            lambda: linalg.spectral_radius(_f(2, 3)),
            "A",
        ),
        # physics
        "rope_rhs": Case(
            lambda: physics.rope_rhs(0.0, np.ones(4, dtype=complex), 1.0),
            "state",
            lambda: physics.rope_rhs(0.0, np.ones(4), -1.0),
            "omega",
        ),
        "troposkien": Case(
            lambda: physics.troposkien(["a"], 1.0, 1.0),
            "y",
            lambda: physics.troposkien([0.1], -1.0, 1.0),
            "a",
        ),
        "troposkien_span": Case(
            lambda: physics.troposkien_span("1", 1.0),
            "a",
            lambda: physics.troposkien_span(1.0, 0.0),
            "c",
        ),
        "troposkien_length": Case(
            lambda: physics.troposkien_length(1.0, None),
            "c",
            lambda: physics.troposkien_length(math.nan, 1.0),
            "a",
        ),
        "troposkien_params": Case(
            lambda: physics.troposkien_params("1", 2.0),
            "span",
            lambda: physics.troposkien_params(1.0, 0.5),
            "length",
        ),
        "catenary": Case(
            lambda: physics.catenary([0.0], "1"),
            "a",
            lambda: physics.catenary([0.0], 0.0),
            "a",
        ),
        "catenary_params": Case(
            lambda: physics.catenary_params(1.0, "2"),
            "length",
            lambda: physics.catenary_params(1.0, 1.0),
            "length",
        ),
        "solve_rope_bvp": Case(
            lambda: physics.solve_rope_bvp(2.0, 1.0, "1"),
            "omega",
            lambda: physics.solve_rope_bvp(2.0, -1.0, 1.0),
            "span",
        ),
        # vq
        "straight_through": Case(
            lambda: vq.straight_through([0.0], _f(1)),
            "z",
            lambda: vq.straight_through(_f(2, 3), _f(3, 2)),
            "zq",
        ),
        "VectorQuantizer": Case(
            lambda: vq.VectorQuantizer(2.5, 2),
            "num_codes",
            lambda: vq.VectorQuantizer(3, 2, decay=1.0),
            "decay",
        ),
        "VectorQuantizer.forward": Case(
            lambda: quant(_f(4, 2, dtype=torch.long)), "z", lambda: quant(_f(4, 3)), "z"
        ),
        "code_perplexity": Case(
            lambda: vq.code_perplexity(_f(3), 3),
            "indices",
            lambda: vq.code_perplexity(_f(3, dtype=torch.long), 0),
            "num_codes",
        ),
        # vae
        "reparameterize": Case(
            lambda: vae.reparameterize([0.0], _f(1)),
            "mu",
            lambda: vae.reparameterize(_f(2, 3), _f(2, 4)),
            "logvar",
        ),
        "kl_std_normal": Case(
            lambda: vae.kl_std_normal(_f(2), "0"),
            "logvar",
            lambda: vae.kl_std_normal(_f(()), _f(())),
            "mu",
        ),
        "kl_diag_gaussians": Case(
            lambda: vae.kl_diag_gaussians(_f(2), _f(2), _f(2, dtype=torch.long), _f(2)),
            "mu_p",
            lambda: vae.kl_diag_gaussians(_f(2, 3), _f(2, 3), _f(4, 3), _f(4, 3)),
            "mu_q",
        ),
        "BNScaler": Case(
            lambda: vae.BNScaler("0.5", 4),
            "tau",
            lambda: vae.BNScaler(1.5, 4),
            "tau",
        ),
        "BNScaler.forward": Case(
            lambda: bn([[0.0] * 4] * 2, _f(2, 4)),
            "mu",
            lambda: bn(_f(8, 3), _f(8, 3)),
            "mu",
        ),
        "discrete_mi": Case(
            lambda: vae.discrete_mi([["a"]]),
            "p_xz",
            lambda: vae.discrete_mi([[0.5, 0.6]]),
            "p_xz",
        ),
        "relative_posterior": Case(
            lambda: vae.relative_posterior(_f(2), _f(2), [0.0, 0.0], _f(2)),
            "dmu",
            lambda: vae.relative_posterior(_f(2), _f(2), _f(2), _f(3)),
            "dlogvar",
        ),
        "HierVAE": Case(
            lambda: vae.HierVAE(x_dim=4.0),
            "x_dim",
            lambda: vae.HierVAE(z_dims=()),
            "z_dims",
        ),
        "HierVAE.forward": Case(
            lambda: hvae([[0.0] * 4]), "x", lambda: hvae(_f(2, 5)), "x"
        ),
        "HierVAE.sample": Case(
            lambda: hvae.sample("3"), "n", lambda: hvae.sample(0), "n"
        ),
        "GaussianVAE": Case(
            lambda: vae.GaussianVAE("4", 2),
            "x_dim",
            lambda: vae.GaussianVAE(4, 2, enc_hidden=(8, 0)),
            "enc_hidden",
        ),
        "GaussianVAE.forward": Case(
            lambda: gvae(_f(2, 4).float(), generator=0),
            "generator",
            lambda: gvae(_f(2, 5)),
            "x",
        ),
        "GaussianVAE.decode": Case(
            lambda: gvae.decode([[0.0, 0.0]]), "z", lambda: gvae.decode(_f(2, 3)), "z"
        ),
        "GaussianVAE.loss": Case(
            lambda: gvae.loss(_f(2, 4), likelihood=3),
            "likelihood",
            lambda: gvae.loss(_f(2, 4), beta=-1.0),
            "beta",
        ),
        # vmf
        "vmf_log_norm": Case(
            lambda: vmf.vmf_log_norm(2.5, 1.0),
            "d",
            lambda: vmf.vmf_log_norm(3, -1.0),
            "kappa",
        ),
        "vmf_mean_resultant": Case(
            lambda: vmf.vmf_mean_resultant(3, "1"),
            "kappa",
            lambda: vmf.vmf_mean_resultant(1, 1.0),
            "d",
        ),
        "vmf_mutual_information": Case(
            lambda: vmf.vmf_mutual_information([[1.0, 0.0, 0.0]], 2.0, 10),
            "mu",
            lambda: vmf.vmf_mutual_information(_unit(3, 3), -1.0, 10),
            "kappa",
        ),
        "vmf_kl_uniform": Case(
            lambda: vmf.vmf_kl_uniform(True, 1.0),
            "d",
            lambda: vmf.vmf_kl_uniform(3, np.array([1.0, math.inf])),
            "kappa",
        ),
        "log_sphere_area": Case(
            lambda: vmf.log_sphere_area("3"), "d", lambda: vmf.log_sphere_area(1), "d"
        ),
        "sample_vmf": Case(
            lambda: vmf.sample_vmf(np.array([1.0, 0.0]), 1.0),
            "mu",
            lambda: vmf.sample_vmf(2 * _unit(3), 1.0),
            "mu",
        ),
        "VMFSampler": Case(
            lambda: vmf.VMFSampler(3.0, 1.0),
            "d",
            lambda: vmf.VMFSampler(3, 1.0, grid=4),
            "grid",
        ),
        "VMFSampler.sample": Case(
            lambda: sampler.sample([1.0, 0.0, 0.0]),
            "mu",
            lambda: sampler.sample(_unit(2, 4)),
            "mu",
        ),
        # attention
        "softmax_attention": Case(
            lambda: A.softmax_attention(q, k, v, causal="yes"),
            "causal",
            lambda: A.softmax_attention(q, k, v, bias=_f(3, 3)),
            "bias",
        ),
        "linear_attention": Case(
            lambda: A.linear_attention(q, k, v, feature=3),
            "feature",
            lambda: A.linear_attention(q, k, v, feature="gelu"),
            "feature",
        ),
        "performer_features": Case(
            lambda: A.performer_features([[0.0]], _f(2, 1)),
            "x",
            lambda: A.performer_features(q, _f(6, 4), kind="cosine"),
            "kind",
        ),
        "gaussian_orthogonal_projection": Case(
            lambda: A.gaussian_orthogonal_projection(2.5, 4),
            "m",
            lambda: A.gaussian_orthogonal_projection(4, 0),
            "d",
        ),
        "segment_means": Case(
            lambda: A.segment_means(q, 2.0), "m", lambda: A.segment_means(q, 9), "m"
        ),
        "iterative_pinv": Case(
            lambda: A.iterative_pinv([[1.0]]),
            "a",
            lambda: A.iterative_pinv(_f(3, 4)),
            "a",
        ),
        "nystrom_attention": Case(
            lambda: A.nystrom_attention(q, k, v, 2.5),
            "num_landmarks",
            lambda: A.nystrom_attention(q, k, v, 4, pinv_iters=-1),
            "pinv_iters",
        ),
        # position
        "sinusoidal_pe": Case(
            lambda: P.sinusoidal_pe("4", 8), "n", lambda: P.sinusoidal_pe(4, 7), "d"
        ),
        "rope_inv_freq": Case(
            lambda: P.rope_inv_freq(8.0),
            "d",
            lambda: P.rope_inv_freq(8, base=1.0),
            "base",
        ),
        "apply_rope": Case(
            lambda: P.apply_rope(_f(3, 8), "abc", P.rope_inv_freq(8)),
            "positions",
            lambda: P.apply_rope(_f(3, 8), torch.arange(3), P.rope_inv_freq(6)),
            "inv_freq",
        ),
        "pairs_to_halves": Case(
            lambda: P.pairs_to_halves([0.0, 1.0]),
            "x",
            lambda: P.pairs_to_halves(_f(3)),
            "x",
        ),
        "halves_to_pairs": Case(
            lambda: P.halves_to_pairs(np.zeros(2)),
            "x",
            lambda: P.halves_to_pairs(_f(5)),
            "x",
        ),
        "rope_2d": Case(
            lambda: P.rope_2d(_f(3, 8), torch.arange(3), ["a"] * 3),
            "ys",
            lambda: P.rope_2d(_f(3, 8), torch.arange(3), torch.arange(2)),
            "ys",
        ),
        "rope_scaling": Case(
            lambda: P.rope_scaling(3, 8, 2.0),
            "kind",
            lambda: P.rope_scaling("pi", 8, 0.5),
            "factor",
        ),
        "logn_scale": Case(
            lambda: P.logn_scale(10, 2.5), "train_len", lambda: P.logn_scale(0, 64), "n"
        ),
        "alibi_slopes": Case(
            lambda: P.alibi_slopes(2.5), "heads", lambda: P.alibi_slopes(0), "heads"
        ),
        "alibi_bias": Case(
            lambda: P.alibi_bias("4", 2), "n", lambda: P.alibi_bias(0, 2), "n"
        ),
        "kerple_bias": Case(
            lambda: P.kerple_bias(4, "1", 1.0),
            "r1",
            lambda: P.kerple_bias(4, -1.0, 1.0),
            "r1",
        ),
        "sliding_window_mask": Case(
            lambda: P.sliding_window_mask(4, 2, causal="yes"),
            "causal",
            lambda: P.sliding_window_mask(4, 0),
            "window",
        ),
        "xpos_scale": Case(
            lambda: P.xpos_scale(torch.arange(3), 4.0),
            "d",
            lambda: P.xpos_scale(torch.arange(3), 4, gamma=0.0),
            "gamma",
        ),
        "random_position_ids": Case(
            lambda: P.random_position_ids(2, 4, generator=0),
            "generator",
            lambda: P.random_position_ids(5, 4),
            "max_len",
        ),
        # nn
        "causal_mask": Case(
            lambda: N.causal_mask(2.5), "n", lambda: N.causal_mask(0), "n"
        ),
        "attention_logits_bias": Case(
            lambda: N.attention_logits_bias([[True]], None, 1, 1, torch.float32),
            "mask",
            lambda: N.attention_logits_bias(_f(3, 3).bool(), None, 3, 3, torch.float32),
            "mask",
        ),
        "MultiHeadAttention": Case(
            lambda: N.MultiHeadAttention(8.0, 2),
            "d_model",
            lambda: N.MultiHeadAttention(8, 0),
            "n_heads",
        ),
        "MultiHeadAttention.forward": Case(
            lambda: mha(_f(1, 3, 8).float(), logit_scale="2"),
            "logit_scale",
            lambda: mha(_f(1, 3, 6).float()),
            "x",
        ),
        "TransformerBlock": Case(
            lambda: N.TransformerBlock(8, 2, mlp_ratio=2.0),
            "mlp_ratio",
            lambda: N.TransformerBlock(8, 2, mlp_ratio=0),
            "mlp_ratio",
        ),
        "TinyTransformer": Case(
            lambda: N.TinyTransformer(5.0),
            "vocab",
            lambda: N.TinyTransformer(1),
            "vocab",
        ),
        "TinyTransformer.forward": Case(
            lambda: tiny(tok.float()), "tokens", lambda: tiny(tok + 7), "tokens"
        ),
        "attention_entropy": Case(
            lambda: N.attention_entropy([0.5, 0.5]),
            "weights",
            lambda: N.attention_entropy(torch.tensor([1.5, -0.5])),
            "weights",
        ),
        "lm_loss": Case(
            lambda: N.lm_loss(_f(2, 5, 3), tok.float()),
            "targets",
            lambda: N.lm_loss(_f(2, 4, 3), tok),
            "targets",
        ),
        "train_lm": Case(
            lambda: N.train_lm(tiny, lm_batch, 1.5),
            "steps",
            lambda: N.train_lm(tiny, lm_batch, 0),
            "steps",
        ),
        "evaluate_lm": Case(
            lambda: N.evaluate_lm(tiny, tok.float(), tok.bool()),
            "tokens",
            lambda: N.evaluate_lm(tiny, tok, tok[:, :3].bool()),
            "loss_mask",
        ),
        "uniae_mask": Case(
            lambda: N.uniae_mask([0, 1]),
            "segment_ids",
            lambda: N.uniae_mask(torch.tensor([0, 2])),
            "segment_ids",
        ),
        "UniVAE": Case(
            lambda: N.UniVAE(6, 2.5), "n", lambda: N.UniVAE(6, 3, n_layers=2, k=2), "k"
        ),
        "UniVAE.forward": Case(
            lambda: univae([[0, 1, 2]]), "src", lambda: univae(tok), "src"
        ),
        "unilm_mask": Case(
            lambda: N.unilm_mask([0, 1]),
            "segment_ids",
            lambda: N.unilm_mask(torch.tensor([1, 0])),
            "segment_ids",
        ),
        "ConditionalLayerNorm": Case(
            lambda: N.ConditionalLayerNorm(4, 2.5),
            "cond_dim",
            lambda: N.ConditionalLayerNorm(4, 2, low_rank=0),
            "low_rank",
        ),
        "ConditionalLayerNorm.forward": Case(
            lambda: cln(_f(2, 4), [[0.0, 0.0]]),
            "c",
            lambda: cln(_f(2, 4), _f(3, 2)),
            "c",
        ),
        # gan
        "mlp": Case(lambda: G.mlp(2.5, 1), "d_in", lambda: G.mlp(0, 1), "d_in"),
        "MLPEnsemble": Case(
            lambda: G.MLPEnsemble("3", 2, 1), "k", lambda: G.MLPEnsemble(0, 2, 1), "k"
        ),
        "gradient_penalty": Case(
            lambda: G.gradient_penalty(critic, [[0.0, 0.0]], _f(3, 2)),
            "real",
            lambda: G.gradient_penalty(critic, _f(3, 2), _f(4, 2)),
            "fake",
        ),
        "gan_losses": Case(
            lambda: G.gan_losses(_f(3), _f(3), kind=1),
            "kind",
            lambda: G.gan_losses(_f(3), _f(3), kind="square"),
            "kind",
        ),
        "standardize": Case(
            lambda: G.standardize([[1.0, 2.0]]),
            "z",
            lambda: G.standardize(_f(1, 3)),
            "z",
        ),
        "pearson_rho": Case(
            lambda: G.pearson_rho(_f(4, 2), [[0.0, 0.0]]),
            "zhat",
            lambda: G.pearson_rho(_f(4, 2), _f(4, 3)),
            "zhat",
        ),
        "ogan_losses": Case(
            lambda: G.ogan_losses(_f(4, 2), _f(4, 2), _f(4, 2), lam="1"),
            "lam",
            lambda: G.ogan_losses(_f(4, 2), _f(4, 2), _f(3, 2), lam=0.5),
            "z",
        ),
        "ogan_reconstruct": Case(
            lambda: G.ogan_reconstruct(enc, gen, [[0.0, 0.0]]),
            "x",
            lambda: G.ogan_reconstruct(enc, gen, _f(3)),
            "x",
        ),
        "single_loss": Case(
            lambda: G.single_loss(critic, gen, _f(4, 2), _f(4, 2), lam="1"),
            "lam",
            lambda: G.single_loss(critic, gen, _f(4, 2), _f(4, 2), kind="square"),
            "kind",
        ),
        # ot
        "ot_lp": Case(
            lambda: O.ot_lp(p2, p2, "cost"),
            "cost",
            lambda: O.ot_lp(p2, p2, np.zeros((2, 3))),
            "cost",
        ),
        "ot_dual": Case(
            lambda: O.ot_dual("p", p2, np.zeros((2, 2))),
            "p",
            lambda: O.ot_dual(np.array([0.5, 0.6]), p2, np.zeros((2, 2))),
            "p",
        ),
        "w1_1d": Case(
            lambda: O.w1_1d("x", [1.0]), "x", lambda: O.w1_1d([], [1.0]), "x"
        ),
        "batch_w1": Case(
            lambda: O.batch_w1("x", np.zeros((2, 2))),
            "x",
            lambda: O.batch_w1(np.zeros((2, 2)), np.zeros((3, 2))),
            "y",
        ),
        "w1_to_point": Case(
            lambda: O.w1_to_point("x", np.zeros(2)),
            "x",
            lambda: O.w1_to_point(np.zeros((2, 2)), np.zeros(3)),
            "c",
        ),
        # diffusion
        "linear_schedule": Case(
            lambda: D.linear_schedule(10.5), "T", lambda: D.linear_schedule(0), "T"
        ),
        "from_alphas_cumprod": Case(
            lambda: D.from_alphas_cumprod("a"),
            "alphas_cumprod",
            lambda: D.from_alphas_cumprod(torch.tensor([0.5, 0.9])),
            "alphas_cumprod",
        ),
        "check_schedule": Case(
            lambda: D.check_schedule("a"),
            "alpha_bar",
            lambda: D.check_schedule(torch.tensor([0.5, 0.9])),
            "alpha_bar",
        ),
        "timestep_subsequence": Case(
            lambda: D.timestep_subsequence(10, 2.5),
            "steps",
            lambda: D.timestep_subsequence(10, 11),
            "steps",
        ),
        "ddim_sigma": Case(
            lambda: D.ddim_sigma(0.5, 0.9, eta="1"),
            "eta",
            lambda: D.ddim_sigma(0.5, 0.9, eta=-1.0),
            "eta",
        ),
        "ddim_coefficients": Case(
            lambda: D.ddim_coefficients(0.5, 0.9, "s"),
            "sigma",
            lambda: D.ddim_coefficients(0.5, 0.9, 2.0),
            "sigma",
        ),
        "predict_x0": Case(
            lambda: D.predict_x0([0.0], _f(2), 0.5),
            "x_t",
            lambda: D.predict_x0(_f(2), _f(3), 0.5),
            "eps",
        ),
        "ddim_step": Case(
            lambda: D.ddim_step(_f(2), _f(2), 0.5, 0.9, eta="0"),
            "eta",
            lambda: D.ddim_step(_f(2), _f(2), 0.5, 0.9, eta=-0.5),
            "eta",
        ),
        "ddim_sample": Case(
            lambda: D.ddim_sample(eps0, _f(3, 2), abar, [9, 0], eta="0"),
            "eta",
            lambda: D.ddim_sample(eps0, _f(3, 2), abar, [0, 9]),
            "timesteps",
        ),
        "classifier_log_prob_grad": Case(
            lambda: D.classifier_log_prob_grad(logits, [[0.0, 0.0]], tok[0, :1]),
            "x",
            lambda: D.classifier_log_prob_grad(logits, _f(3, 2), tok[0, :2]),
            "y",
        ),
        "classifier_guided_eps": Case(
            lambda: D.classifier_guided_eps(_f(2), _f(2), 0.5, scale="1"),
            "scale",
            lambda: D.classifier_guided_eps(_f(2), _f(3), 0.5),
            "grad_log_prob",
        ),
        "guided_mean": Case(
            lambda: D.guided_mean(_f(2), _f(2), "s"),
            "sigma",
            lambda: D.guided_mean(_f(2), _f(3), 0.5),
            "grad_log_prob",
        ),
        "cfg_eps": Case(
            lambda: D.cfg_eps(_f(2), _f(2), "w"),
            "w",
            lambda: D.cfg_eps(_f(2), _f(3), 1.0),
            "eps_uncond",
        ),
        "DiffusedMixture": Case(
            lambda: D.DiffusedMixture(_f(2, 2), "s", abar),
            "std",
            lambda: D.DiffusedMixture(_f(2, 2), -1.0, abar),
            "std",
        ),
        "TimeMLP": Case(
            lambda: D.TimeMLP(2, 2, 10.5), "T", lambda: D.TimeMLP(2, 2, 0), "T"
        ),
        "denoising_loss": Case(
            lambda: D.denoising_loss(tmlp, [[0.0, 0.0]], abar),
            "x0",
            lambda: D.denoising_loss(tmlp, _f(3, 2), abar, t_weights=_f(3)),
            "t_weights",
        ),
        "train_eps_model": Case(
            lambda: D.train_eps_model(tmlp, _f(3, 2), abar, steps=1.5),
            "steps",
            lambda: D.train_eps_model(tmlp, _f(3, 2), abar, steps=0),
            "steps",
        ),
        "udm_step": Case(
            lambda: D.udm_step(1, inv, _f(2), _f(2), 5, 4),
            "forward",
            lambda: D.udm_step(
                fwd, inv, _f(2), _f(2), 5, 4, sigma_tilde=1.5, noise=_f(2)
            ),
            "sigma_tilde",
        ),
        "cold_step": Case(
            lambda: D.cold_step(_f(2), _f(2), blur, 2, 1, method=3),
            "method",
            lambda: D.cold_step(_f(2), _f(2), blur, 2, 2),
            "s",
        ),
        "cold_sample": Case(
            lambda: D.cold_sample("R", blur, _f(1, 4), 2),
            "restore",
            lambda: D.cold_sample(lambda x, t: x, blur, _f(1, 4), 2, final="last"),
            "final",
        ),
        "heat_blur_operators": Case(
            lambda: D.heat_blur_operators(2.0, [0.0]),
            "side",
            lambda: D.heat_blur_operators(2, [0.0, -1.0]),
            "times",
        ),
        "LinearDegradation": Case(
            lambda: D.LinearDegradation(torch.zeros(3, 4, 4, dtype=torch.int64)),
            "operators",
            lambda: D.LinearDegradation(_f(3, 4, 5)),
            "operators",
        ),
        "mmd2_rbf": Case(
            lambda: D.mmd2_rbf(_f(3, 2), _f(3, 2), "b"),
            "bandwidth",
            lambda: D.mmd2_rbf(_f(3, 2), _f(3, 2), 0.0),
            "bandwidth",
        ),
        "sliced_w1": Case(
            lambda: D.sliced_w1(_f(3, 2), _f(3, 2), n_projections=2.5),
            "n_projections",
            lambda: D.sliced_w1(_f(3, 2), _f(3, 3)),
            "y",
        ),
        # nlp
        "argmaxable": Case(
            lambda: NLP.argmaxable("W"),
            "W",
            lambda: NLP.argmaxable(np.zeros(3)),
            "W",
        ),
        "argmax_margins": Case(
            lambda: NLP.argmax_margins("W"),
            "W",
            lambda: NLP.argmax_margins(np.zeros((3, 2)), np.zeros(4)),
            "b",
        ),
        "argmax_witness": Case(
            lambda: NLP.argmax_witness(np.zeros((3, 2)), k=1.5),
            "k",
            lambda: NLP.argmax_witness(np.zeros((3, 2)), k=3),
            "k",
        ),
        "min_norm_point": Case(
            lambda: NLP.min_norm_point("V"),
            "V",
            lambda: NLP.min_norm_point(np.zeros((3, 2)), iters=-1),
            "iters",
        ),
        "whiten": Case(
            lambda: NLP.whiten(np.zeros((5, 3)), k=1.5),
            "k",
            lambda: NLP.whiten(np.zeros((5, 3)), k=4),
            "k",
        ),
        # sampling
        "BigramLM": Case(
            lambda: S.BigramLM([0.5, 0.5], torch.eye(2, dtype=torch.float64), 3),
            "start",
            lambda: S.BigramLM(_p2, torch.eye(2, dtype=torch.float64), 0),
            "length",
        ),
        "BigramLM.tempered": Case(
            lambda: bigram.tempered("a"),
            "temperature",
            lambda: bigram.tempered(0.0),
            "temperature",
        ),
        "importance_weights": Case(
            lambda: S.importance_weights([0.0], _f(1)),
            "log_rho",
            lambda: S.importance_weights(torch.full((3,), -math.inf), _f(3)),
            "log_rho",
        ),
        "importance_expectation": Case(
            lambda: S.importance_expectation(3, lrho, bigram_sample, lq, 4),
            "f",
            lambda: S.importance_expectation(f1, lrho, bigram_sample, lq, 0),
            "n_samples",
        ),
        "rejection_sample": Case(
            lambda: S.rejection_sample(lrho, bigram_sample, lq, 0.0, 4, generator=0),
            "generator",
            lambda: S.rejection_sample(lrho, bigram_sample, lq, 0.0, 0),
            "n_proposals",
        ),
        "metropolis_hastings": Case(
            lambda: S.metropolis_hastings(lrho, prop, [[0, 1, 1]], 2),
            "x0",
            lambda: S.metropolis_hastings(lrho, prop, seqs, 0),
            "n_steps",
        ),
        "gibbs_sweep": Case(
            lambda: S.gibbs_sweep(lrho, seqs.float(), 2),
            "x",
            lambda: S.gibbs_sweep(lrho, seqs, 2, positions=[5]),
            "positions",
        ),
        "propose_edit": Case(
            lambda: S.propose_edit(seqs.float(), 2),
            "x",
            lambda: S.propose_edit(seqs, 2, moves=["swap"]),
            "moves",
        ),
        "mh_acceptance": Case(
            lambda: S.mh_acceptance(_f(2), [[1.0, 0.0], [0.0, 1.0]]),
            "Q",
            lambda: S.mh_acceptance(_f(2), torch.ones(2, 2, dtype=torch.float64)),
            "Q",
        ),
        "mh_kernel": Case(
            lambda: S.mh_kernel(_f(2), [[1.0, 0.0], [0.0, 1.0]]),
            "Q",
            lambda: S.mh_kernel(_f(2), torch.ones(2, 2, dtype=torch.float64)),
            "Q",
        ),
        "contains_keywords": Case(
            lambda: S.contains_keywords(seqs, "ab"),
            "keywords",
            lambda: S.contains_keywords(seqs, [-1]),
            "keywords",
        ),
        "total_variation": Case(
            lambda: S.total_variation("a", _p2),
            "p",
            lambda: S.total_variation(_p2, torch.ones(3, dtype=torch.float64) / 3),
            "q",
        ),
        "knn_graph": Case(
            lambda: NLP.knn_graph(np.eye(4), 2.0),
            "k",
            lambda: NLP.knn_graph(np.eye(4), 4),
            "k",
        ),
        "geodesic_distances": Case(
            lambda: NLP.geodesic_distances(np.eye(4), 2, sources=[0.5]),
            "sources",
            lambda: NLP.geodesic_distances(np.eye(4), 2, sources=[4]),
            "sources",
        ),
        "weissi_penalty": Case(
            lambda: NLP.weissi_penalty([torch.ones(2)], 1.0, "0"),
            "lam2",
            lambda: NLP.weissi_penalty([torch.ones(2)], -1.0, 0.0),
            "lam1",
        ),
        "rescale_layers": Case(
            lambda: NLP.rescale_layers("net", [1.0]),
            "model",
            lambda: NLP.rescale_layers(
                torch.nn.Sequential(
                    torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2)
                ),
                [2.0, 0.6],
            ),
            "gammas",
        ),
        "GlobalPointer": Case(
            lambda: NLP.GlobalPointer(8, 2, 4, rope="yes"),
            "rope",
            lambda: NLP.GlobalPointer(8, 2, 3),
            "head_dim",
        ),
        "GlobalPointer.forward": Case(
            lambda: gp([[0.0] * 8]), "h", lambda: gp(_f(1, 3, 5)), "h"
        ),
        "span_mask": Case(
            lambda: NLP.span_mask(torch.ones(2, 3)),
            "token_mask",
            lambda: NLP.span_mask(torch.ones(3, dtype=torch.bool)),
            "token_mask",
        ),
        "multilabel_categorical_crossentropy": Case(
            lambda: NLP.multilabel_categorical_crossentropy([[1, 0]], _f(1, 2)),
            "y_true",
            lambda: NLP.multilabel_categorical_crossentropy(_f(1, 2) + 2, _f(1, 2)),
            "y_true",
        ),
        "decode_spans": Case(
            lambda: NLP.decode_spans(_f(1, 2, 3, 3), threshold="0"),
            "threshold",
            lambda: NLP.decode_spans(_f(1, 2, 3, 4)),
            "logits",
        ),
        "entity_f1": Case(
            lambda: NLP.entity_f1({(0, 1, 2)}, [{(0, 1, 2)}]),
            "true",
            lambda: NLP.entity_f1([set()], [set(), set()]),
            "pred",
        ),
        # flows
        "spectral_normalize": Case(
            lambda: FL.spectral_normalize([[1.0]], 0.9),
            "weight",
            lambda: FL.spectral_normalize(torch.ones(3, 3), 0.0),
            "coeff",
        ),
        "IResBlock": Case(
            lambda: FL.IResBlock(2.0, 8),
            "dim",
            lambda: FL.IResBlock(2, 8, coeff=1.0),
            "coeff",
        ),
        "IResBlock.forward": Case(
            lambda: iblock([[1.0, 2.0]]), "x", lambda: iblock(torch.ones(4, 3)), "x"
        ),
        "IResBlock.inverse": Case(
            lambda: iblock.inverse(torch.ones(2, 2), 1.5),
            "n_iter",
            lambda: iblock.inverse(torch.ones(2, 2), -1),
            "n_iter",
        ),
        "IResBlock.logdet": Case(
            lambda: iblock.logdet(torch.ones(2, 2), "3"),
            "n_terms",
            lambda: iblock.logdet(torch.ones(2, 2), 3, "slogdet"),
            "estimator",
        ),
        "IResFlow": Case(
            lambda: FL.IResFlow(2, 8, n_blocks=2.0),
            "n_blocks",
            lambda: FL.IResFlow(2, 8, n_blocks=0),
            "n_blocks",
        ),
        "IResFlow.sample": Case(
            lambda: iflow.sample(3, generator=5),
            "generator",
            lambda: iflow.sample(0),
            "n",
        ),
        "IResFlow.log_prob": Case(
            lambda: iflow.log_prob([[0.0, 0.0]]),
            "x",
            lambda: iflow.log_prob(torch.ones(3, 3)),
            "x",
        ),
        "teaforn_forward": Case(
            lambda: NLP.teaforn_forward(tiny, tok.float(), 2),
            "tokens",
            lambda: NLP.teaforn_forward(tiny, tok, 0),
            "n_passes",
        ),
        "teaforn_loss": Case(
            lambda: NLP.teaforn_loss(_f(2, 2, 5, 5).long(), tok),
            "logits",
            lambda: NLP.teaforn_loss(_f(2, 2, 5, 5), tok, weights=[1.0, -1.0]),
            "weights",
        ),
        "beam_search": Case(
            lambda: NLP.beam_search(tiny, tok[:1, :2], 2, beam_size=1.5),
            "beam_size",
            lambda: NLP.beam_search(tiny, tok[:1, :2], 0),
            "length",
        ),
        "average_next_token": Case(
            lambda: NLP.average_next_token([[0.0]]),
            "logprobs",
            lambda: NLP.average_next_token(_f(2, 3), average="mean"),
            "average",
        ),
        "extractive_allowed": Case(
            lambda: NLP.extractive_allowed([], 3, 4, 0),
            "passages",
            lambda: NLP.extractive_allowed([], [[1, 2]], 4, 4),
            "end_token",
        ),
        "multi_passage_beam_search": Case(
            lambda: NLP.multi_passage_beam_search(tiny, tok.float(), 2, end_token=0),
            "sources",
            lambda: NLP.multi_passage_beam_search(tiny, tok, 0, end_token=0),
            "max_len",
        ),
        # position.experiments
        "equal_mean_positions": Case(
            lambda: PE.equal_mean_positions(8.5, 2),
            "n",
            lambda: PE.equal_mean_positions(8, 2, law="normal"),
            "law",
        ),
        "in_context_bigram_nll": Case(
            lambda: PE.in_context_bigram_nll(tok.float(), 5),
            "tokens",
            lambda: PE.in_context_bigram_nll(tok, 5, alpha=0.0),
            "alpha",
        ),
        # nn.training
        "parallel_map": Case(
            lambda: T.parallel_map(abs, [1], workers=1.5),
            "workers",
            lambda: T.parallel_map(abs, [1], workers=0),
            "workers",
        ),
        "train_tiny_lm": Case(
            lambda: T.train_tiny_lm(task, seed=0, vocab=5, train_len=8, steps=1.5),
            "steps",
            lambda: T.train_tiny_lm(task, seed=0, vocab=5, train_len=8, steps=0),
            "steps",
        ),
        "train_tiny_lms": Case(
            lambda: T.train_tiny_lms(task, [("a", {})]),
            "jobs",
            lambda: T.train_tiny_lms(task, {}),
            "jobs",
        ),
        "token_scores": Case(
            lambda: T.token_scores(tiny, tok.float(), tok.bool()),
            "tokens",
            lambda: T.token_scores(tiny, tok, tok[:, :3].bool()),
            "loss_mask",
        ),
    }


#: The modules whose public callables must all appear in the table above.
COVERED = [
    "kexue_lib",
    "kexue_lib.checks",
    "kexue_lib.widgets",
    "kexue_lib.plotting",
    "kexue_lib.data",
    "kexue_lib.timing",
    "kexue_lib.linalg",
    "kexue_lib.physics",
    "kexue_lib.vq",
    "kexue_lib.vae",
    "kexue_lib.vmf",
    "kexue_lib.attention",
    "kexue_lib.position",
    "kexue_lib.nn",
    "kexue_lib.nn.training",
    "kexue_lib.parallel",
    "kexue_lib.gan",
    "kexue_lib.ot",
    "kexue_lib.diffusion",
    "kexue_lib.nlp",
    "kexue_lib.position.experiments",
    "kexue_lib.sampling",
    "kexue_lib.flows",
]

#: Public names that are not functions taking arguments: data containers and constants.
NOT_FUNCTIONS = {
    "ClaimFailed",  # an exception class
    "RopeSolution",  # a frozen dataclass returned by solve_rope_bvp
    "TrainedLM",  # a dataclass returned by train_tiny_lm
}


@pytest.fixture(scope="module")
def cases():
    import matplotlib

    matplotlib.use("Agg")
    out = _cases()
    yield out
    import matplotlib.pyplot as plt

    plt.close("all")


def test_every_public_callable_has_a_case(cases):
    missing = []
    for modname in COVERED:
        mod = importlib.import_module(modname)
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name)
            if not callable(obj) or name in NOT_FUNCTIONS:
                continue
            if inspect.isclass(obj) and issubclass(obj, tuple):  # NamedTuple results
                continue
            if name not in cases:
                missing.append(f"{modname}.{name}")
    assert not missing, f"public callables without a convention case: {missing}"


def _names_argument(message: str, arg: str) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(arg)}(?![\w])", message) is not None


def _case_ids():
    # the keys of _cases() without building the objects: parse them from its source
    src = inspect.getsource(_cases)
    return re.findall(r'^\s{8}"([\w.]+)": Case\(', src, flags=re.M)


@pytest.mark.parametrize("which", ["type", "value"])
@pytest.mark.parametrize("name", _case_ids())
def test_every_public_function_follows_the_convention(cases, name, which):
    case = cases[name]
    call, arg, exc = (
        (case.bad_type, case.type_arg, TypeError)
        if which == "type"
        else (case.bad_value, case.value_arg, ValueError)
    )
    if call is None:
        pytest.skip(f"{name}: no {which} case ({arg})")
    with pytest.raises((TypeError, ValueError)) as info:
        call()
    assert info.type is exc, (
        f"{name}: a wrong {which} must raise {exc.__name__}, got "
        f"{info.type.__name__}: {info.value}"
    )
    msg = str(info.value)
    assert _names_argument(msg, arg), f"{name}: the message must name {arg!r}: {msg}"
    assert " must " in msg and "got" in msg, (
        f"{name}: the message must say what was expected and what was received: {msg}"
    )
