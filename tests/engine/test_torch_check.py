"""The report's own verification: the engine against PyTorch float64 autograd, across magnitudes.

The engine and PyTorch evaluate the same formulas in float64; they agree to 1e-9 relative
(in practice to a few ulps) wherever the value is well determined. ``torch_check`` adds a
per-entry rounding bound (γ·scale, see engine.gradcheck.rounding_scales), needed only where
the mathematics itself loses relative precision on either side: sums that cancel, and
σ'(a) = σ(1 − σ) where σ rounds near 1. The tests below show both: a flat 1e-9 relative
agreement where neither happens, and the bound where it does.
"""

from __future__ import annotations

import os
import random
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import backprop_lab.engine.torch_check as torch_check_module
from backprop_lab.engine.gradcheck import CheckReport
from backprop_lab.engine.model import Model, forward, loss_and_grads, sigmoid
from backprop_lab.engine.torch_check import (
    INSTALL_HINT,
    TORCH_RTOL,
    TorchUnavailable,
    torch_available,
    torch_check,
    torch_loss_and_grads,
)
from backprop_lab.engine.variant import ACTIVATIONS, CONVENTIONS, Variant

NO_TORCH = "PyTorch is not installed (optional extra 'torch'): the cross-check against autograd is skipped"


@pytest.fixture
def torch():
    return pytest.importorskip("torch", reason=NO_TORCH)


def _model(example: dict) -> tuple:
    m = example["model"]
    return m["x"], m["A"], m["B"], m["C"]


def _random_model(k: int, scales: tuple[float, float, float, float], seed: int, positive: bool = False):
    rng = random.Random(seed)
    low = 0.0 if positive else -1.0

    def draw(scale: float) -> float:
        return rng.uniform(low, 1.0) * scale

    sx, sA, sB, sC = scales
    x = [draw(sx) for _ in range(k)]
    A, B, C = ([[draw(s) for _ in range(k)] for _ in range(k)] for s in (sA, sB, sC))
    return x, A, B, C


# --------------------------------------------------------------------------- without PyTorch


def test_without_torch_the_check_says_how_to_install_it(monkeypatch, report_example):
    # None in sys.modules makes ``import torch`` fail exactly as if it were not installed.
    monkeypatch.setitem(sys.modules, "torch", None)
    assert torch_available() is False
    with pytest.raises(TorchUnavailable) as info:
        torch_check(Model(*_model(report_example)))
    assert str(info.value) == INSTALL_HINT
    assert str(info.value) == (
        "PyTorch is not installed; install the optional extra: pip install 'backprop-lab[torch]'"
    )
    with pytest.raises(TorchUnavailable, match="PyTorch is not installed"):
        torch_loss_and_grads(*_model(report_example))
    assert isinstance(info.value, RuntimeError) and not isinstance(info.value, ImportError)


def test_a_broken_torch_install_is_reported_in_one_line(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def failing_import(name, *args, **kwargs):
        if name == "torch":
            raise OSError("libtorch_cpu.so: cannot open shared object file\nsecond line")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "torch", raising=False)
    monkeypatch.setattr(builtins, "__import__", failing_import)
    assert torch_available() is False
    with pytest.raises(TorchUnavailable) as info:
        torch_loss_and_grads([1.0], [[1.0]], [[1.0]], [[1.0]])
    assert str(info.value) == (
        "PyTorch is installed but cannot be imported: libtorch_cpu.so: cannot open shared object file"
    )


def test_bad_input_is_refused_before_torch_is_needed(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ValueError, match=r"B\[0\]\[0\] is not finite"):
        torch_check(Model([1.0], [[1.0]], [[float("inf")]], [[1.0]]))


# --------------------------------------------------------------------------- with PyTorch


def test_report_example_is_identical_to_autograd(torch, report_example):
    # The report: "if my results are converted to tensors, they would be identical": to a few ulps,
    # as PyTorch's sums round differently on different CPUs (vector kernels).
    x, A, B, C = _model(report_example)
    assert torch_available()
    loss, grads = loss_and_grads(x, A, B, C)
    t_loss, t_grads = torch_loss_and_grads(x, A, B, C)
    assert t_loss == pytest.approx(loss, rel=1e-14)
    assert t_loss == pytest.approx(report_example["expected"]["loss"], rel=1e-12)
    for name in "ABC":
        for i in range(3):
            for j in range(3):
                assert t_grads[name][i][j] == pytest.approx(grads[name][i][j], rel=1e-14, abs=0)
    report = torch_check(Model(x, A, B, C))
    assert isinstance(report, CheckReport)
    assert report.passed and report.method == "PyTorch float64 autograd"
    assert report.rtol == TORCH_RTOL == 1e-9 and report.eps is None
    assert report.loss == loss and report.reference_loss == t_loss
    assert len(report.entries) == 27 and report.max_rel_error < 1e-14


# (x, A, B, C) magnitudes: tiny, unit, the report's [0, 1) scale times 10, 1e3 everywhere,
# and mixed ones, including |xA| in the hundreds (saturated sigmoids).
MAGNITUDES = [
    (1e-3, 1e-3, 1e-3, 1e-3),
    (1.0, 1.0, 1.0, 1.0),
    (10.0, 10.0, 10.0, 10.0),
    (1e3, 1e3, 1e3, 1e3),
    (10.0, 50.0, 1.0, 1.0),
    (1e-8, 1.0, 1.0, 1e3),
    (1e3, 1e-3, 1e2, 1e-2),
]


@pytest.mark.parametrize("k", [1, 3, 8])
@pytest.mark.parametrize("scales", MAGNITUDES, ids=lambda s: "x{:g}-A{:g}-B{:g}-C{:g}".format(*s))
def test_all_positive_models_agree_to_1e9_relative_with_no_allowance(torch, scales, k):
    # Positive entries: no sum cancels, and a = xA is either moderate or so large that σ
    # rounds to exactly 1 on both sides (σ' = 0 == 0). A flat relative test, nothing else.
    x, A, B, C = _random_model(k, scales, seed=k, positive=True)
    loss, grads = loss_and_grads(x, A, B, C)
    t_loss, t_grads = torch_loss_and_grads(x, A, B, C)
    assert t_loss == pytest.approx(loss, rel=1e-9, abs=0)
    a = forward(x, A, B, C)["a"]
    for name in "ABC":
        for i in range(k):
            for j in range(k):
                if name == "A" and 8.0 < a[j] < 37.0:
                    continue  # σ(1 − σ) with σ within 3e-4 of 1: covered by the next test
                assert t_grads[name][i][j] == pytest.approx(grads[name][i][j], rel=1e-9, abs=0), (name, i, j)
    assert torch_check(Model(x, A, B, C)).passed


@pytest.mark.parametrize("k", [1, 3, 8])
@pytest.mark.parametrize("scales", MAGNITUDES, ids=lambda s: "x{:g}-A{:g}-B{:g}-C{:g}".format(*s))
@pytest.mark.parametrize("seed", [0, 1])
def test_mixed_sign_models_agree_within_rtol_plus_the_rounding_bound(torch, scales, k, seed):
    x, A, B, C = _random_model(k, scales, seed=100 * seed + k)
    report = torch_check(Model(x, A, B, C))
    assert report.passed, report.failures
    # Where the allowance is not needed (the entry is not a cancelled sum), 1e-9 relative holds flat.
    for e in report.entries:
        if e.tolerance <= 2 * TORCH_RTOL * max(abs(e.analytic), abs(e.reference)):
            assert e.rel_error <= 1e-9, e


def test_saturated_units_agree_to_the_last_bit_where_sigma_rounds_to_0_or_1(torch):
    # |xA| in the hundreds: σ'(a) is exactly 0 (a ≥ 37) or e^a ≈ 1e-304 (a = −700) on both sides.
    x = [3.0, -2.0, 5.0]
    A = [[100.0, -100.0, 40.0], [-50.0, 60.0, -30.0], [80.0, -56.0, 10.0]]  # a = [800, −700, 230]
    B = [[0.5, -0.2, 0.1], [0.3, 0.4, -0.6], [-0.1, 0.2, 0.3]]
    C = [[1.0, -2.0, 0.5], [0.25, 0.75, -1.0], [-0.5, 1.5, 2.0]]
    a = forward(x, A, B, C)["a"]
    assert min(abs(v) for v in a) >= 100
    _, grads = loss_and_grads(x, A, B, C)
    _, t_grads = torch_loss_and_grads(x, A, B, C)
    for i in range(3):
        assert grads["A"][i][0] == t_grads["A"][i][0] == 0.0  # σ(800) == 1.0 exactly
        assert grads["A"][i][2] == t_grads["A"][i][2] == 0.0
        assert 0 < abs(grads["A"][i][1]) < 1e-300  # e^(−700), still a normal float64
        assert t_grads["A"][i][1] == pytest.approx(grads["A"][i][1], rel=1e-12, abs=0)
    assert torch_check(Model(x, A, B, C)).passed


def test_sigma_prime_near_saturation_needs_the_absolute_term(torch):
    # a ≈ 30: 1 − σ(a) ≈ 9e-14 has kept only ~3 of its digits on either side, so σ' — and
    # dA — is known to about 1e-16 absolute, not relative. The check passes on the absolute
    # rounding bound; the flat relative error may exceed 1e-9 when the two sigmoids differ
    # in their last bit.
    report = torch_check(Model([1.0], [[30.0]], [[0.0]], [[1.0]]))
    (entry,) = report.by_matrix("A")[0]
    s = sigmoid(30.0)
    assert entry.abs_error <= 4 * sys.float_info.epsilon * 2 * s  # |x|·|g|·(a few ulps of 1)
    assert report.passed


@settings(
    max_examples=int(os.environ.get("BACKPROP_LAB_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    k=st.integers(1, 8),
    scales=st.tuples(*[st.sampled_from([1e-3, 0.1, 1.0, 10.0, 1e3])] * 4),
    seed=st.integers(0, 2**32 - 1),
    activation=st.sampled_from(list(ACTIVATIONS)),
    convention=st.sampled_from(CONVENTIONS),
    target_scale=st.sampled_from([None, 1e-3, 1.0, 1e3]),
)
def test_property_engine_agrees_with_autograd_across_magnitudes(
    k, scales, seed, activation, convention, target_scale
):
    pytest.importorskip("torch", reason=NO_TORCH)
    x, A, B, C = _random_model(k, scales, seed)
    target = None if target_scale is None else tuple(target_scale * (j - k / 2) for j in range(k))
    report = torch_check(Model(x, A, B, C, Variant(activation, convention, target)))
    assert report.passed, report.failures


def test_the_torch_check_catches_a_wrong_gradient(torch, monkeypatch, report_example):
    def missing_sigma_prime(m):
        loss, g = loss_and_grads(m.x, m.A, m.B, m.C)
        g["A"] = [row.copy() for row in g["B"]]  # x_i · g_j: the chain rule without σ'(a_j)
        return loss, g

    monkeypatch.setattr(torch_check_module, "model_loss_and_grads", missing_sigma_prime)
    report = torch_check(Model(*_model(report_example)))
    assert not report.passed
    assert {e.matrix for e in report.failures} == {"A"} and len(report.failures) == 9
