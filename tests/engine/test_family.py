"""The assignment's family: every activation × convention × target, checked three ways.

Against PyTorch's float64 autograd (which knows nothing of the hand-derived chain rules), against
central finite differences, and against the exact identity between the two conventions (column
vectors with Aᵀ, Bᵀ, Cᵀ are row vectors with A, B, C, gradients transposed). Each σ′ is checked
against a central difference of its σ, and each check is shown to fail when the hand-derived side
gets a member of the family wrong.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
import random
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import backprop_lab.engine.gradcheck as gradcheck
import backprop_lab.engine.model as model_module
from backprop_lab.engine.gradcheck import DEFAULT_EPS, central_difference, finite_difference_check
from backprop_lab.engine.model import Model, forward, loss_and_grads, transpose
from backprop_lab.engine.rounding import SIGMA_BOUNDS, rounding_scales
from backprop_lab.engine.torch_check import TORCH_RTOL, torch_check, torch_loss_and_grads
from backprop_lab.engine.variant import ACTIVATIONS, CONVENTIONS, SOFTPLUS_THRESHOLD, Variant, sigmoid
from backprop_lab.engine.verification import run_checks

NO_TORCH = "PyTorch is not installed (optional extra 'torch'): the family's autograd check is skipped"
VALID = "sigmoid, tanh, relu, softplus, identity"
#: Every member of the family: (activation, convention, with a target).
FAMILY = list(itertools.product(ACTIVATIONS, CONVENTIONS, (False, True)))


def _ids(member: tuple[str, str, bool]) -> str:
    activation, convention, target = member
    return f"{activation}-{convention}-{'target' if target else 'no-target'}"


def _model(k: int, scale: float, seed: int, member: tuple[str, str, bool]) -> Model:
    """A random model with entries uniform in ±scale (mixed signs: sums cancel; ±900 saturates)."""
    rng = random.Random(seed)

    def draw() -> float:
        return rng.uniform(-scale, scale)

    x = [draw() for _ in range(k)]
    A, B, C = ([[draw() for _ in range(k)] for _ in range(k)] for _ in range(3))
    activation, convention, target = member
    t = tuple(draw() for _ in range(k)) if target else None
    return Model(x, A, B, C, Variant(activation, convention, t))


def _sizes(n: int) -> list[int]:
    """K = 1, 2, 3 and 33 for every member, and every K in 1…33 for some member (n picks which)."""
    return sorted({1, 2, 3, 33} | {k for k in range(1, 34) if k % 5 == n % 5})


@pytest.fixture
def torch():
    return pytest.importorskip("torch", reason=NO_TORCH)


# --------------------------------------------------------------------------- PyTorch float64 autograd


@pytest.mark.parametrize("member", FAMILY, ids=_ids)
def test_every_member_agrees_with_autograd_to_1e9_plus_the_rounding_bound(torch, member):
    n = FAMILY.index(member)
    for k in _sizes(n):
        for scale in (1.0, 10.0, 900.0):
            model = _model(k, scale, seed=1000 * n + 10 * k + int(scale), member=member)
            report = torch_check(model)
            assert report.passed, (k, scale, report.failures[:3])
            assert report.reference_loss == pytest.approx(report.loss, rel=TORCH_RTOL)
            # Where the rounding bound is not what let an entry pass, 1e-9 relative holds flat.
            for e in report.entries:
                if e.tolerance <= 2 * TORCH_RTOL * max(abs(e.analytic), abs(e.reference)):
                    assert e.rel_error <= 1e-9, (k, scale, e)


def test_autograd_is_built_per_member(torch):
    # One small model, worked by hand through torch's own functions: the keywords reach PyTorch.
    x, A, B, C = [0.5, -1.5], [[1.0, 2.0], [-3.0, 0.5]], [[0.2, -0.1], [0.4, 0.3]], [[1.0, -1.0], [0.5, 2.0]]
    f64 = torch.float64
    At, Bt, Ct = (torch.tensor(M, dtype=f64, requires_grad=True) for M in (A, B, C))
    xt = torch.tensor([[0.5], [-1.5]], dtype=f64)
    t = torch.tensor([[3.0], [-2.0]], dtype=f64)
    loss = ((Ct @ (torch.tanh(At @ xt) + Bt @ xt) - t) ** 2).sum()
    loss.backward()
    got_loss, got = torch_loss_and_grads(
        x, A, B, C, activation="tanh", convention="column", target=[3.0, -2.0]
    )
    assert got_loss == loss.item()
    assert got == {"A": At.grad.tolist(), "B": Bt.grad.tolist(), "C": Ct.grad.tolist()}
    ours_loss, _ = loss_and_grads(x, A, B, C, activation="tanh", convention="column", target=[3.0, -2.0])
    assert ours_loss == pytest.approx(got_loss, rel=1e-14)
    # The row model with the same numbers is another function altogether.
    row_loss, _ = torch_loss_and_grads(x, A, B, C, activation="tanh", target=[3.0, -2.0])
    assert row_loss != pytest.approx(got_loss, rel=1e-3)


def test_relu_and_softplus_take_pytorchs_values_at_their_kinks(torch):
    # a = 0 exactly for relu: σ′(0) = 0 on both sides. a = 20 exactly for softplus: both take
    # log(1 + e^a) there and a itself just above (PyTorch's threshold), so σ′ = sigmoid(20), then 1.
    x = [1.0, 2.0]
    B, C = [[0.5, -0.25], [0.75, 1.0]], [[1.0, -2.0], [0.5, 1.5]]
    zero = [[1.0, -3.0], [-0.5, 1.5]]  # a = xA = [0, 0]
    for convention in CONVENTIONS:
        A = zero if convention == "row" else transpose(zero)
        ours = loss_and_grads(x, A, B, C, activation="relu", convention=convention)
        assert ours == torch_loss_and_grads(x, A, B, C, activation="relu", convention=convention)
        assert ours[1]["A"] == [[0.0, 0.0], [0.0, 0.0]]
    for a0 in (SOFTPLUS_THRESHOLD, math.nextafter(SOFTPLUS_THRESHOLD, math.inf)):
        A = [[a0, 0.0], [0.0, 0.0]]
        loss, grads = loss_and_grads([1.0, 0.0], A, B, C, activation="softplus")
        t_loss, t_grads = torch_loss_and_grads([1.0, 0.0], A, B, C, activation="softplus")
        assert t_loss == pytest.approx(loss, rel=1e-15)
        assert t_grads["A"][0][0] == pytest.approx(grads["A"][0][0], rel=1e-15)
    assert ACTIVATIONS["softplus"].derivative(SOFTPLUS_THRESHOLD) == sigmoid(SOFTPLUS_THRESHOLD) < 1.0
    assert ACTIVATIONS["softplus"].derivative(math.nextafter(SOFTPLUS_THRESHOLD, math.inf)) == 1.0


# --------------------------------------------------------------------------- finite differences


@pytest.mark.parametrize("member", FAMILY, ids=_ids)
def test_every_member_passes_the_finite_difference_check(member):
    n = FAMILY.index(member)
    for k, scale in ((1, 1.0), (3, 10.0), (4, 900.0), (5, 1.0)):
        report = finite_difference_check(_model(k, scale, seed=7 * n + k, member=member))
        assert report.passed, (k, scale, report.failures[:3])
        assert len(report.entries) == 3 * k * k


@settings(
    max_examples=int(os.environ.get("BACKPROP_LAB_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    k=st.integers(1, 5),
    scale=st.sampled_from([1e-3, 0.1, 1.0, 10.0, 1e3]),
    seed=st.integers(0, 2**32 - 1),
    member=st.sampled_from(FAMILY),
)
def test_property_every_member_agrees_with_finite_differences_across_magnitudes(k, scale, seed, member):
    report = finite_difference_check(_model(k, scale, seed, member))
    assert report.passed, report.failures


def test_a_relu_kink_between_the_steps_is_allowed_and_shown_as_unresolved():
    # A = 0: every a_j = 0, where relu′ jumps. The central difference straddles the kink and
    # gives half the slope; the analytic value is relu′(0) = 0. Not a failure, and not hidden.
    model = Model([1.0, 2.0], [[0.0, 0.0], [0.0, 0.0]], [[1.0, 2.0], [3.0, 4.0]], [[1.0, 0.0], [0.0, 1.0]])
    report = finite_difference_check(model.with_variant(Variant("relu")))
    assert report.passed
    a_entries = [e for row in report.by_matrix("A") for e in row]
    assert all(e.analytic == 0.0 and e.reference != 0.0 for e in a_entries)
    assert set(report.unresolved) == set(a_entries)
    # Away from the kink there is nothing to allow: the same model moved off it resolves every entry.
    away = Model(model.x, [[0.5, -0.5], [0.25, -0.25]], model.B, model.C, Variant("relu"))
    assert finite_difference_check(away).unresolved == ()


def test_the_kink_allowance_is_only_where_a_kink_lies_within_the_steps():
    model = Model([1.0], [[1e-7]], [[1.0]], [[1.0]], Variant("relu"))
    scales = rounding_scales(model)
    assert scales.kink_allowance("A", 0, 0, 1e-6) > 0.0  # a = 1e-7 is inside ±2e-6
    assert scales.kink_allowance("A", 0, 0, 1e-8) == 0.0  # and outside ±2e-8
    assert scales.kink_allowance("B", 0, 0, 1e-6) == 0.0  # B does not move a
    smooth = rounding_scales(model.with_variant(Variant("tanh")))
    assert smooth.kink_allowance("A", 0, 0, 1.0) == 0.0


@pytest.mark.parametrize("member", FAMILY, ids=_ids)
def test_the_rounding_scales_bound_every_members_values(member):
    n = FAMILY.index(member)
    for k, scale in ((1, 0.1), (4, 1.0), (6, 30.0)):
        model = _model(k, scale, seed=n + 100 * k, member=member)
        v = model.variant
        loss, grads = loss_and_grads(
            model.x,
            model.A,
            model.B,
            model.C,
            activation=v.activation,
            convention=v.convention,
            target=v.target,
        )
        scales = rounding_scales(model)
        assert scales.loss >= loss * (1 - 1e-12)
        for name in "ABC":
            for row, srow in zip(grads[name], scales.grads[name], strict=True):
                for value, s in zip(row, srow, strict=True):
                    assert s >= abs(value) * (1 - 1e-12), (name, value, s)


@pytest.mark.parametrize("member", FAMILY, ids=_ids)
def test_the_moved_loss_scale_bounds_the_loss_at_both_steps(member):
    # loss_moved is what the finite differences' rounding allowance is made of: it must bound
    # L(θ ± h) for the weight actually moved, in the member's own index order.
    n = FAMILY.index(member)
    model = _model(3, 0.1, seed=50 + n, member=member)
    scales = rounding_scales(model)
    h = 100.0  # a step that dwarfs the model: the moved weight's own path decides the bound
    for m, name in enumerate("ABC"):
        for i in range(3):
            for j in range(3):
                for sign in (1.0, -1.0):
                    weights = [[row[:] for row in M] for M in (model.A, model.B, model.C)]
                    weights[m][i][j] += sign * h
                    loss = forward(model.x, *weights, model.variant)["loss"]
                    assert scales.loss_moved(name, i, j, h) >= loss * (1 - 1e-12), (name, i, j, sign)


def test_tanh_near_saturation_differs_by_ulps_absolute_and_passes(torch):
    # a in 8…12: 1 − tanh(a)² ≈ 1e-7…1e-10 keeps few digits, and PyTorch's tanh differs from the C
    # library's by one ulp for some of these inputs (which ones depends on the CPU), so the relative
    # error of ∂L/∂A may reach 1e-6. What both sides do agree on is σ′ to a few ulps *absolute*:
    # that, not a looser rtol, is what the bound allows.
    for n in range(41):
        a = 8.0 + n / 10.0
        report = torch_check(Model([1.0], [[a]], [[0.0]], [[1.0]], Variant("tanh")))
        (entry,) = report.by_matrix("A")[0]
        g = 2.0 * math.tanh(a)  # ∂L/∂z for w = z = tanh(a)
        assert report.passed
        assert entry.abs_error <= 4 * sys.float_info.epsilon * g, (a, entry)
        assert entry.tolerance <= 1e-12 * g  # the allowance stays at the rounding's level


# --------------------------------------------------------------------------- the two conventions


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("target", [False, True])
def test_column_vectors_with_transposed_weights_are_row_vectors_exactly(activation, target):
    # a = Aᵀx sums x_i·A_ij over i in the same order as a = xA does: the same floats, bit for bit.
    for k in (1, 2, 3, 7):
        row = _model(k, 2.0, seed=k, member=(activation, "row", target))
        t = row.variant.target
        loss, grads = loss_and_grads(row.x, row.A, row.B, row.C, activation=activation, target=t)
        c_loss, c_grads = loss_and_grads(
            row.x,
            transpose(row.A),
            transpose(row.B),
            transpose(row.C),
            activation=activation,
            convention="column",
            target=t,
        )
        assert c_loss == loss
        for name in "ABC":
            assert c_grads[name] == transpose(grads[name])
        if k > 1:  # and the same numbers read the other way are a different model
            other, _ = loss_and_grads(
                row.x, row.A, row.B, row.C, activation=activation, convention="column", target=t
            )
            assert other != loss


# --------------------------------------------------------------------------- σ and σ′


POINTS = [-300.0, -30.0, -5.0, -1.3, -0.2, -1e-3, 1e-3, 0.3, 1.0, 4.5, 19.5, 20.5, 35.0, 300.0]


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_each_derivative_is_the_central_difference_of_its_function(name):
    act = ACTIVATIONS[name]
    for a in POINTS:
        numerical = central_difference(lambda p: act.function(p[0]), [a], 0, DEFAULT_EPS)
        # The difference keeps about u^(2/3) of |σ|/h: relative 1e-7, absolute at that scale.
        floor = 1e-9 * max(1.0, abs(act.function(a)))
        assert act.derivative(a) == pytest.approx(numerical, rel=1e-7, abs=floor), (name, a)


def test_each_bound_covers_its_derivatives_slope_and_curvature():
    # SIGMA_BOUNDS states sup |σ′| and sup |σ″|; sample both on a fine grid, σ″ by a difference of σ′.
    grid = [i / 100.0 for i in range(-1500, 1501)]
    for name, act in ACTIVATIONS.items():
        bounds = SIGMA_BOUNDS[name]
        assert max(abs(act.derivative(a)) for a in grid) <= bounds.slope
        derivative = act.derivative
        curvature = max(
            abs(central_difference(lambda p, d=derivative: d(p[0]), [a], 0, DEFAULT_EPS))
            for a in grid
            if bounds.kink is None or abs(a - bounds.kink) > 1e-3
        )
        assert curvature <= bounds.curvature * (1 + 1e-6), name


def test_relu_and_softplus_kinks_are_where_the_bounds_say():
    relu, softplus = ACTIVATIONS["relu"], ACTIVATIONS["softplus"]
    assert relu.derivative(0.0) == 0.0 and relu.derivative(5e-324) == 1.0
    jump = softplus.function(SOFTPLUS_THRESHOLD) - softplus.function(
        math.nextafter(SOFTPLUS_THRESHOLD, math.inf)
    )
    assert jump == pytest.approx(SIGMA_BOUNDS["softplus"].jump, rel=1e-6)
    assert 2e-9 < SIGMA_BOUNDS["softplus"].jump < 2.1e-9


# --------------------------------------------------------------------------- names


def test_unknown_names_are_refused_listing_the_valid_ones():
    with pytest.raises(ValueError, match=f"unknown activation 'gelu'; expected one of {VALID}"):
        Variant("gelu")
    with pytest.raises(ValueError, match="unknown convention 'diagonal'; expected one of row, column"):
        Variant(convention="diagonal")
    with pytest.raises(ValueError, match=f"expected one of {VALID}"):
        loss_and_grads([1.0], [[1.0]], [[1.0]], [[1.0]], activation="Sigmoid")
    # Refused before PyTorch is needed, with or without it.
    with pytest.raises(ValueError, match="expected one of row, column"):
        torch_loss_and_grads([1.0], [[1.0]], [[1.0]], [[1.0]], convention="col")
    with pytest.raises(ValueError, match="the target t has 2 entries; expected K = 1"):
        torch_loss_and_grads([1.0], [[1.0]], [[1.0]], [[1.0]], target=[1.0, 2.0])


# --------------------------------------------------------------------------- the checks catch a wrong member


WRONG_DERIVATIVES = {
    "sigmoid": lambda a: sigmoid(a),  # σ instead of σ′
    "tanh": lambda a: 1.0 - math.tanh(a),  # 1 − y instead of 1 − y²
    "relu": lambda a: 1.0,  # the slope of the identity, also where a < 0
    "softplus": lambda a: ACTIVATIONS["softplus"].function(a),  # σ instead of σ′
    "identity": lambda a: 0.0,
}


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_a_wrong_derivative_fails_both_checks_on_A_only(monkeypatch, name):
    model = Model(
        [0.8, -0.6, 1.1],
        [[0.5, -1.2, 0.3], [0.9, 0.4, -0.7], [-0.2, 0.6, 1.0]],
        [[0.1, 0.2, -0.3], [0.4, -0.5, 0.6], [-0.7, 0.8, 0.9]],
        [[1.0, -0.5, 0.25], [0.75, 1.5, -1.0], [-0.25, 0.5, 2.0]],
        Variant(name),
    )
    a = forward(model.x, model.A, model.B, model.C, model.variant)["a"]
    assert min(a) < 0 < max(a)  # both sides of relu's kink
    wrong = dataclasses.replace(ACTIVATIONS[name], derivative=WRONG_DERIVATIVES[name])
    monkeypatch.setitem(ACTIVATIONS, name, wrong)
    reports = [finite_difference_check(model)]
    if _has_torch():
        reports.append(torch_check(model))
    for report in reports:
        assert not report.passed, report.method
        assert {e.matrix for e in report.failures} == {"A"}, report.method


def _has_torch() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def test_a_backward_pass_that_ignores_the_target_fails_the_checks(monkeypatch):
    model = _model(3, 1.0, seed=5, member=("tanh", "column", True))
    assert finite_difference_check(model).passed

    def no_target(w, variant=None):
        return [2.0 * wj for wj in w]

    monkeypatch.setattr(model_module, "output_gradient", no_target)
    report = finite_difference_check(model)
    assert not report.passed and len(report.failures) == len(report.entries)


def test_the_checks_take_the_models_variant_not_the_reports(monkeypatch):
    # A checker that asked for the report's member whatever the model is would compare sigmoid
    # gradients with tanh differences: make the analytic side deaf to the variant and watch it fail.
    model = _model(3, 1.0, seed=9, member=("tanh", "row", False))
    monkeypatch.setattr(gradcheck, "model_loss_and_grads", lambda m: loss_and_grads(m.x, m.A, m.B, m.C))
    assert not finite_difference_check(model).passed


def test_the_windows_verification_checks_the_models_variant():
    model = _model(3, 1.0, seed=3, member=("softplus", "column", True))
    results = run_checks(model, with_torch=_has_torch(), with_sweep=False)
    v = model.variant
    loss, grads = loss_and_grads(
        model.x, model.A, model.B, model.C, activation=v.activation, convention=v.convention, target=v.target
    )
    assert results.passed and results.fd.loss == loss
    assert [e.analytic for e in results.fd.entries] == [g for n in "ABC" for row in grads[n] for g in row]
    if results.torch is not None:
        assert results.torch.loss == loss and results.torch.passed


def test_the_eps_sweep_of_another_member_shows_the_same_v():
    # Truncation falling as eps² on the left, rounding rising as 1/eps on the right, for the
    # member's own loss: a sweep of the report's loss would not reach 1e-9 at its bottom here.
    model = _model(3, 1.0, seed=11, member=("tanh", "column", True))
    errors = dict(gradcheck.eps_sweep(model))
    best = min(errors, key=errors.__getitem__)
    assert 1e-7 <= best <= 1e-3 and errors[best] < 1e-8
    assert errors[gradcheck.SWEEP_EPS[0]] > 100 * errors[best]
    assert errors[gradcheck.SWEEP_EPS[-1]] > 100 * errors[best]
