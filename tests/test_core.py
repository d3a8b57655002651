"""kexue_lib core: seed_all, device, checks.claim and the comparison helpers, plotting,
data.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
import sympy as sp
import torch

import kexue_lib
from kexue_lib import checks, data, plotting
from kexue_lib.checks import (
    ClaimFailed,
    assert_close,
    assert_less,
    assert_quoted,
    assert_sympy_equal,
    assert_sympy_zero,
    claim,
)


def test_seed_all_makes_every_generator_repeatable():
    def draw():
        return random.random(), np.random.rand(), torch.rand(3).tolist()

    kexue_lib.seed_all(123)
    a = draw()
    kexue_lib.seed_all(123)
    b = draw()
    kexue_lib.seed_all(124)
    c = draw()
    assert a == b
    assert a != c


def test_seed_all_turns_on_deterministic_algorithms_without_loading_the_compiler():
    import subprocess
    import sys

    code = (
        "import sys, torch, kexue_lib; kexue_lib.seed_all(0); "
        "print(torch.are_deterministic_algorithms_enabled(), "
        "torch.is_deterministic_algorithms_warn_only_enabled(), "
        "'torch._inductor.config' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.split() == ["True", "True", "False"], out.stderr
    # with the compiler already loaded, its deterministic flag is set as well
    code2 = (
        "import torch._inductor.config as c, kexue_lib; c.deterministic = False; "
        "kexue_lib.seed_all(0); print(c.deterministic)"
    )
    out = subprocess.run([sys.executable, "-c", code2], capture_output=True, text=True)
    assert out.stdout.split() == ["True"], out.stderr


@pytest.mark.parametrize("bad", [-1, 2**32, 1.5, "0", True])
def test_seed_all_rejects_bad_seeds(bad):
    with pytest.raises((ValueError, TypeError), match="seed"):
        kexue_lib.seed_all(bad)


def test_device_is_cpu_without_cuda_and_rejects_unknown():
    dev = kexue_lib.device()
    assert dev.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert kexue_lib.device("cpu").type == "cpu"
    with pytest.raises(ValueError, match="prefer"):
        kexue_lib.device("tpu")


def test_claim_prints_tick_on_success(capsys):
    with claim("C1", "one plus one is two"):
        assert 1 + 1 == 2
    assert capsys.readouterr().out.strip() == "✓ C1 one plus one is two"


def test_claim_names_the_claim_on_failure(capsys):
    with pytest.raises(ClaimFailed, match=r"C7 wrong sum.*3 != 2"):
        with claim("C7", "wrong sum"):
            assert 1 + 2 == 2, "3 != 2"
    assert "✓" not in capsys.readouterr().out


def test_claim_failure_is_an_assertion_error_and_other_errors_pass_through():
    with pytest.raises(AssertionError):
        with claim("C2", "x"):
            assert_close(1.0, 2.0)
    with pytest.raises(ZeroDivisionError):
        with claim("C2", "x"):
            1 / 0  # noqa: B018


@pytest.mark.parametrize("cid", ["1", "c1", "C", "Claim1", 3])
def test_claim_rejects_bad_ids(cid):
    with pytest.raises(ValueError if isinstance(cid, str) else TypeError, match="cid"):
        with claim(cid, "statement"):
            pass


def test_claim_rejects_empty_statement():
    with pytest.raises(ValueError, match="statement"):
        with claim("C1", "  "):
            pass


def test_assert_close_tolerances_and_nan():
    assert (
        assert_close(np.array([1.0, 2.0]), np.array([1.0, 2.0 + 1e-9]), rtol=1e-8)
        <= 1e-9 + 1e-16
    )
    with pytest.raises(AssertionError, match="max error"):
        assert_close(np.array([1.0, 2.0]), np.array([1.0, 2.1]), rtol=1e-3)
    with pytest.raises(AssertionError, match="NaN"):
        assert_close(np.array([np.nan]), np.array([0.0]), atol=1.0)
    with pytest.raises(AssertionError, match="shape"):
        assert_close(np.zeros(3), np.zeros(2))
    assert assert_close(torch.tensor([1.0]), 1.0) == 0.0
    # tensors that require grad, and complex tensors, are compared without fuss
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    assert assert_close(w * 1, torch.tensor([1.0, 2.0])) == 0.0
    z = torch.tensor([1 + 2j], dtype=torch.complex128, requires_grad=True)
    assert assert_close(z * 1, np.array([1 + 2j])) == 0.0
    with pytest.raises(AssertionError, match="max error"):
        assert_close(z * 1, np.array([1 + 2.1j]), rtol=1e-3)


def test_assert_quoted_allows_one_unit_of_the_last_quoted_digit():
    assert assert_quoted(0.226, "0.22") == 0.226  # one run's 0.224 is another's 0.226
    assert_quoted(0.2100001, "0.22")
    assert_quoted(torch.tensor(68.4), "68")
    assert_quoted(-7.575, "-7.58")
    with pytest.raises(AssertionError, match="not the quoted 0.22"):
        assert_quoted(0.2311, "0.22")
    with pytest.raises(AssertionError, match="not the quoted 20.5"):
        assert_quoted(20.35, "20.5")
    with pytest.raises(AssertionError, match="not the quoted 68"):
        assert_quoted(69.6, "68")
    with pytest.raises(TypeError, match="quoted must be the number as written"):
        assert_quoted(0.22, 0.22)
    with pytest.raises(ValueError, match="decimal literal"):
        assert_quoted(0.22, "0.2x")
    with pytest.raises(ValueError, match="decimal literal"):
        assert_quoted(0.22, ".")
    with pytest.raises(TypeError, match="value must be a real scalar"):
        assert_quoted([0.22, 0.21], "0.22")


def test_assert_less_and_sympy_helpers():
    assert assert_less(1.0, 2.0) == 1.0
    with pytest.raises(AssertionError, match="not <"):
        assert_less(2.0, 2.0)
    x = sp.symbols("x")
    assert_sympy_zero(sp.sin(x) ** 2 + sp.cos(x) ** 2 - 1)
    with pytest.raises(AssertionError, match="not 0"):
        assert_sympy_zero(sp.sin(x) - sp.cos(x))
    assert_sympy_equal(sp.exp(2 * x), sp.exp(x) ** 2)
    assert_sympy_equal(sp.Matrix([[x, 0], [0, 1]]) ** 2, sp.Matrix([[x**2, 0], [0, 1]]))
    with pytest.raises(AssertionError, match="lhs - rhs"):
        assert_sympy_equal(sp.Matrix([[x]]), sp.Matrix([[x + 1]]))


def test_listed_and_checked_claims_read_a_notebook(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell(
            "# T\n\n## Claims\n\n1. **C1** — first thing\n2. **C2** — second | thing\n"
        ),
        nbformat.v4.new_code_cell(
            'with claim("C1", "a"):\n    pass\nwith claim(\'C2\', "b"):\n    pass'
        ),
    ]
    p = tmp_path / "x.ipynb"
    nbformat.write(nb, p)
    assert checks.listed_claims(p) == {"C1": "first thing", "C2": "second | thing"}
    assert checks.checked_claims(p) == ["C1", "C2"]


def test_plotting_subplots_style_and_validation():
    import matplotlib

    fig, axes = plotting.subplots(1, 2)
    assert len(axes) == 2 and matplotlib.rcParams["axes.grid"]
    plotting.finish(axes[0], "t", "x", "y")
    assert (
        axes[0].get_title() == "t"
        and axes[0].get_xlabel() == "x"
        and axes[0].get_ylabel() == "y"
    )
    with pytest.raises(ValueError, match="nrows"):
        plotting.subplots(0, 1)


def test_digits_matches_sklearn_and_binarises():
    from sklearn.datasets import load_digits

    x, y = data.digits()
    ref = load_digits()
    assert x.shape == (1797, 64) and y.shape == (1797,)
    assert torch.equal(x, torch.as_tensor(ref.data / 16.0, dtype=torch.float32))
    assert torch.equal(y, torch.as_tensor(ref.target))
    # read from scikit-learn's file without importing scikit-learn: the same arrays
    from kexue_lib.data import _digits_arrays

    raw, target = _digits_arrays()
    assert np.array_equal(raw, ref.data) and raw.dtype == ref.data.dtype
    assert np.array_equal(target, ref.target)
    xb, _ = data.digits(binarize=True)
    assert set(xb.unique().tolist()) == {0.0, 1.0}
    with pytest.raises(ValueError, match="threshold"):
        data.digits(binarize=True, threshold=1.5)


def test_train_test_split_is_a_seeded_partition():
    x, y = torch.arange(100).float()[:, None], torch.arange(100)
    a = data.train_test(x, y, test_fraction=0.2, seed=1)
    b = data.train_test(x, y, test_fraction=0.2, seed=1)
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    assert len(a[2]) == 20 and sorted(torch.cat([a[1], a[3]]).tolist()) == list(
        range(100)
    )
    with pytest.raises(ValueError, match="test_fraction"):
        data.train_test(x, y, test_fraction=1.0)
    with pytest.raises(ValueError, match="same length"):
        data.train_test(x, y[:5])


def test_toy_sets():
    g = torch.Generator().manual_seed(0)
    pts, k = data.ring_of_gaussians(4000, modes=8, radius=2.0, std=0.05, generator=g)
    assert pts.shape == (4000, 2) and set(k.tolist()) == set(range(8))
    assert torch.allclose(pts.norm(dim=1).mean(), torch.tensor(2.0), atol=0.01)
    with pytest.raises(ValueError, match="std"):
        data.ring_of_gaussians(10, std=0.0)
    with pytest.raises(ValueError, match="modes"):
        data.ring_of_gaussians(10, modes=0)
    x, y = data.two_moons(200)
    assert x.shape == (200, 2) and set(y.tolist()) == {0, 1}
    with pytest.raises(ValueError, match="n must"):
        data.two_moons(1)


def test_claim_without_any_check_fails():
    with pytest.raises(ClaimFailed, match="checked nothing"):
        with claim("C1", "nothing checked"):
            x = 1 + 1  # noqa: F841


def test_claim_counts_helper_calls_and_assert_statements(capsys):
    with claim("C1", "helper"):
        assert_close(1.0, 1.0)
    with claim("C2", "statement"):
        assert 2 > 1
    out = capsys.readouterr().out
    assert "✓ C1 helper" in out and "✓ C2 statement" in out


def test_claim_built_from_a_string_counts_only_helpers():
    ns = {"claim": claim, "assert_close": assert_close}
    exec(
        compile(
            'with claim("C1", "s"):\n    assert_close(1.0, 1.0)\n', "<string-a>", "exec"
        ),
        ns,
    )
    with pytest.raises(ClaimFailed, match="source could not be read"):
        exec(
            compile('with claim("C1", "s"):\n    assert True\n', "<string-b>", "exec"),
            ns,
        )


def test_claim_reraises_other_errors_with_the_claim_id():
    with pytest.raises(ZeroDivisionError, match=r"\[C3\] division by zero"):
        with claim("C3", "divides"):
            assert 1 / 0
    with pytest.raises(KeyError) as info:
        with claim("C4", "looks up"):
            assert {}["k"]
    assert "[C4]" in str(info.value)


def test_claim_rejects_non_string_arguments():
    with pytest.raises(TypeError, match="statement"):
        claim("C1", 3)


def test_claim_blocks_finds_bodies_without_checks():
    src = (
        "%matplotlib inline\n"
        'with claim("C1", "a"):\n    assert x\n'
        'with claim("C2", "b"):\n    print(1)\n'
        'with claim("C3", "c"):\n    np.testing.assert_allclose(1, 1)\n'
    )
    assert checks.claim_blocks(src) == [
        ("C1", 2, True),
        ("C2", 4, False),
        ("C3", 6, True),
    ]


def test_reproduction_validates_and_prints(capsys):
    checks.reproduction(headline="h", result="r", verdict="partly", reason="y")
    assert "Reproduction: partly — r" in capsys.readouterr().out
    with pytest.raises(ValueError, match="verdict"):
        checks.reproduction(headline="h", result="r", verdict="maybe", reason="y")
    with pytest.raises(ValueError, match="reason"):
        checks.reproduction(headline="h", result="r", verdict="partly", reason=" ")
    with pytest.raises(TypeError, match="result"):
        checks.reproduction(headline="h", result=3, verdict="partly", reason="y")
