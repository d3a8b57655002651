"""kexue_lib.gan: the shared toy networks and the WGAN-GP penalty."""

from __future__ import annotations

import pytest
import torch

from kexue_lib.gan import gradient_penalty, mlp


def test_mlp_shapes_and_bad_arguments():
    net = mlp(2, 3, hidden=8, depth=3)
    assert net(torch.zeros(5, 2)).shape == (5, 3)
    assert sum(isinstance(m, torch.nn.Linear) for m in net) == 4
    with pytest.raises(ValueError, match="depth"):
        mlp(2, 3, depth=0)
    with pytest.raises(TypeError, match="hidden"):
        mlp(2, 3, hidden=8.0)


def test_gradient_penalty_of_a_linear_critic_is_exact():
    """A linear critic w·x has gradient w everywhere: the penalty is (‖w‖ − 1)² for any samples."""
    lin = torch.nn.Linear(3, 1, bias=True, dtype=torch.float64)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[3.0, 4.0, 0.0]]))
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(16, 3, dtype=torch.float64), torch.randn(16, 3, dtype=torch.float64)
    gp = gradient_penalty(lin, real, fake, generator=g)
    assert torch.allclose(gp, torch.tensor(16.0, dtype=torch.float64))  # (5 - 1)^2
    gp.backward()
    # d/dw (‖w‖ − 1)² = 2(‖w‖ − 1) w/‖w‖ = 2·4·(3, 4, 0)/5
    assert torch.allclose(lin.weight.grad, torch.tensor([[4.8, 6.4, 0.0]], dtype=torch.float64))


def test_gradient_penalty_samples_on_the_segment_and_is_seeded():
    """For the critic ‖x‖²/2 the gradient at x̂ is x̂ itself, so the penalty is computed at the interpolates."""
    critic = lambda x: 0.5 * (x**2).sum(1)  # noqa: E731
    real = torch.ones(64, 2, dtype=torch.float64)
    fake = torch.zeros(64, 2, dtype=torch.float64)
    a = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(1))
    b = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(1))
    eps = torch.rand(64, 1, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert a == b
    assert torch.allclose(a, ((eps[:, 0] * 2**0.5 - 1) ** 2).mean())


def test_gradient_penalty_rejects_bad_input():
    lin = torch.nn.Linear(2, 1)
    with pytest.raises(ValueError, match="same shape"):
        gradient_penalty(lin, torch.zeros(4, 2), torch.zeros(3, 2))
    with pytest.raises(TypeError, match="tensors"):
        gradient_penalty(lin, [[0.0, 0.0]], torch.zeros(1, 2))
    with pytest.raises(ValueError, match="target"):
        gradient_penalty(lin, torch.zeros(4, 2), torch.zeros(4, 2), target=0.0)
