"""Tests for kexue_lib.nlp.weissi (chapter nlp/weissi).

Independent references: the penalty written out with NumPy; the function of the network
before and after a shift; the closed-form minimum of the L2 penalty over shifts (AM–GM).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from kexue_lib.nlp import rescale_layers, weissi_penalty


def mlp(sizes, bias=True, seed=0, act=nn.ReLU):
    torch.manual_seed(seed)
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b, bias=bias, dtype=torch.float64))
        if i < len(sizes) - 2:
            layers.append(act())
    net = nn.Sequential(*layers)
    if bias:
        with torch.no_grad():
            for m in net:
                if isinstance(m, nn.Linear):
                    m.bias.normal_()
    return net


def linears(model):
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


def numpy_weissi(Ws, lam1, lam2):
    out = 0.0
    for W in Ws:
        n = np.sqrt((W**2).sum())
        out += lam1 * np.log(n) + lam2 * np.abs(W / n).sum()
    return out


def test_matches_numpy_formula():
    g = torch.Generator().manual_seed(0)
    Ws = [torch.randn(5, 3, generator=g, dtype=torch.float64) * s for s in (0.1, 2, 7)]
    got = weissi_penalty(Ws, 0.7, 0.05)
    want = numpy_weissi([W.numpy() for W in Ws], 0.7, 0.05)
    assert got.shape == () and abs(got.item() - want) < 1e-12


def test_batched_equals_one_network_at_a_time():
    g = torch.Generator().manual_seed(1)
    Ws = [torch.randn(4, 6, 5, generator=g), torch.randn(4, 5, 2, generator=g)]
    batched = weissi_penalty(Ws, 1.0, 0.3, batch_dims=1)
    assert batched.shape == (4,)
    for k in range(4):
        one = weissi_penalty([W[k] for W in Ws], 1.0, 0.3)
        torch.testing.assert_close(batched[k], one)


def test_gradient_of_log_term():
    """d/dW log||W|| = W / ||W||^2 (the 1/gamma scaling discussed in the chapter)."""
    W = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    weissi_penalty([W], 1.0, 0.0).backward()
    torch.testing.assert_close(W.grad, W.detach() / W.detach().norm() ** 2)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    logs=st.lists(st.floats(-2.0, 2.0), min_size=2, max_size=4),
    bias=st.booleans(),
)
def test_shift_keeps_function_and_weissi_but_not_l2(seed, logs, bias):
    lg = np.array(logs)
    lg[-1] = -lg[:-1].sum()  # product 1
    gammas = np.exp(lg).tolist()
    sizes = [6] + [7] * (len(gammas) - 1) + [3]
    net = mlp(sizes, bias=bias, seed=seed)
    x = torch.randn(
        50, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(seed)
    )
    shifted = rescale_layers(net, gammas)
    with torch.no_grad():
        torch.testing.assert_close(shifted(x), net(x), rtol=1e-10, atol=1e-10)
    W0 = [m.weight for m in linears(net)]
    W1 = [m.weight for m in linears(shifted)]
    torch.testing.assert_close(
        weissi_penalty(W1, 1.0, 0.1),
        weissi_penalty(W0, 1.0, 0.1),
        rtol=1e-12,
        atol=1e-12,
    )
    for g, a, b in zip(gammas, W0, W1):
        torch.testing.assert_close(b, g * a)
    # biases scale by the cumulative product of the gammas
    if bias:
        cum = np.cumprod(gammas)
        for c, a, b in zip(cum, linears(net), linears(shifted)):
            torch.testing.assert_close(b.bias, c * a.bias)


def test_per_layer_bias_scaling_would_break_the_function():
    net = mlp([4, 8, 8, 2])
    gammas = [2.0, 0.25, 2.0]
    wrong = rescale_layers(net, gammas)
    with torch.no_grad():
        for g, a, b in zip(gammas, linears(net), linears(wrong)):
            b.bias.copy_(g * a.bias)
        x = torch.randn(20, 4, dtype=torch.float64)
        assert (wrong(x) - net(x)).abs().max() > 1e-3


def test_balancing_shift_reaches_the_amgm_minimum():
    net = mlp([5, 9, 9, 9, 2], seed=3)
    with torch.no_grad():
        for s, m in zip((5.0, 0.2, 1.0, 3.0), linears(net)):
            m.weight.mul_(s)
    a = np.array([m.weight.norm().item() for m in linears(net)])
    L = len(a)
    gm = np.prod(a) ** (1 / L)
    gammas = gm / a
    gammas[-1] = 1 / np.prod(gammas[:-1])
    shifted = rescale_layers(net, gammas.tolist())
    l2 = sum((m.weight**2).sum().item() for m in linears(shifted))
    assert abs(l2 - L * gm**2) < 1e-9 * l2
    assert l2 < (a**2).sum()


def test_original_model_untouched_and_deterministic():
    net = mlp([3, 4, 2])
    before = [p.clone() for p in net.parameters()]
    out1 = rescale_layers(net, [2.0, 0.5])
    out2 = rescale_layers(net, [2.0, 0.5])
    for p, q in zip(net.parameters(), before):
        assert torch.equal(p, q)
    for p, q in zip(out1.parameters(), out2.parameters()):
        assert torch.equal(p, q)
    assert out1 is not net


def test_tensor_gammas_accepted():
    net = mlp([3, 4, 2])
    a = rescale_layers(net, torch.tensor([4.0, 0.25]))
    b = rescale_layers(net, (4.0, 0.25))
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q)


@pytest.mark.parametrize(
    "call, exc, pattern",
    [
        (
            lambda: weissi_penalty(torch.ones(2, 2), 1.0, 0.0),
            TypeError,
            r"^weights must",
        ),
        (lambda: weissi_penalty("W", 1.0, 0.0), TypeError, r"^weights must"),
        (lambda: weissi_penalty([], 1.0, 0.0), ValueError, r"^weights must hold"),
        (
            lambda: weissi_penalty([np.ones((2, 2))], 1.0, 0.0),
            TypeError,
            r"^weights\[0\] must be a torch.Tensor",
        ),
        (
            lambda: weissi_penalty([torch.ones(2, 2, dtype=torch.long)], 1.0, 0.0),
            TypeError,
            r"^weights\[0\] must be a floating-point tensor",
        ),
        (
            lambda: weissi_penalty([torch.ones(2), torch.zeros(3, 2)], 1.0, 0.0),
            ValueError,
            r"^weights\[1\] must have a nonzero norm",
        ),
        (
            lambda: weissi_penalty([torch.tensor([1.0, float("nan")])], 1.0, 0.0),
            ValueError,
            r"^weights\[0\] must be finite",
        ),
        (lambda: weissi_penalty([torch.ones(2)], -1.0, 0.0), ValueError, r"^lam1 must"),
        (lambda: weissi_penalty([torch.ones(2)], 1.0, "0"), TypeError, r"^lam2 must"),
        (
            lambda: weissi_penalty([torch.ones(2)], 1.0, 0.0, batch_dims=1),
            ValueError,
            r"^weights\[0\] must have more than batch_dims",
        ),
        (
            lambda: weissi_penalty(
                [torch.ones(2, 3), torch.ones(3, 3)], 1.0, 0.0, batch_dims=1
            ),
            ValueError,
            r"^weights\[1\] must have the batch shape",
        ),
        (
            lambda: weissi_penalty([torch.ones(2)], 1.0, 0.0, batch_dims=-1),
            ValueError,
            r"^batch_dims must be an int >= 0",
        ),
        (lambda: rescale_layers("net", [1.0]), TypeError, r"^model must be"),
        (lambda: rescale_layers(mlp([2, 2]), 1.0), TypeError, r"^gammas must be"),
        (lambda: rescale_layers(nn.ReLU(), [1.0]), ValueError, r"^model must contain"),
        (
            lambda: rescale_layers(mlp([2, 3, 2]), [1.0]),
            ValueError,
            r"^gammas must have one factor per linear layer \(2\), got 1",
        ),
        (
            lambda: rescale_layers(mlp([2, 3, 2]), [-1.0, -1.0]),
            ValueError,
            r"^gammas\[0\] must be a finite real number > 0",
        ),
        (
            lambda: rescale_layers(mlp([2, 3, 2]), [2.0, 0.6]),
            ValueError,
            r"^gammas must have product 1",
        ),
        (
            lambda: rescale_layers(mlp([2, 3, 2]), [2.0, "x"]),
            TypeError,
            r"^gammas\[1\] must be a finite real number",
        ),
    ],
)
def test_bad_arguments(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()
