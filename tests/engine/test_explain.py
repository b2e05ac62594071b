"""backprop_lab.engine.explain and step_phases: the chain rule of every entry, the loss along the gradient,
and one training step taken apart. No Qt here."""

from __future__ import annotations

import math

import pytest

from backprop_lab.engine.explain import derive, feeding_cells, loss_along_gradient
from backprop_lab.engine.model import (
    MATRIX_NAMES,
    Model,
    NumericalOverflowError,
    forward,
    loss_and_grads,
    sigmoid,
    sigmoid_prime,
)
from backprop_lab.engine.session import Session
from backprop_lab.engine.step_phases import PHASES, next_batch, plan_step
from backprop_lab.engine.training import Trainer, TrainingSettings, batch_loss_and_grads


def _models():
    report = Session.report_example().model
    yield "report", report
    for seed in (1, 7):
        yield f"random K=5 seed {seed}", Session.random(5, seed).model


MODELS = list(_models())


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


# --------------------------------------------------------------------------- derive


@pytest.mark.parametrize(("label", "model"), MODELS, ids=[m[0] for m in MODELS])
def test_product_equals_engine_entry_for_every_entry(label, model):
    _, grads = loss_and_grads(model.x, model.A, model.B, model.C)
    k = model.K
    for name in MATRIX_NAMES:
        for i in range(k):
            for j in range(k):
                d = derive(model, name, i, j)
                expected = grads[name][i][j]
                assert _rel(d.product, expected) <= 1e-12, (label, name, i, j)
                assert d.product == d.engine_value == expected  # same order of operations: bit-identical
                # The product of the displayed factor values is the entry too (up to one rounding).
                f = d.factors
                assert _rel(f[0].value * f[1].value * f[2].value, expected) <= 1e-14


def test_report_example_entry_matches_the_report():
    m = Session.report_example().model
    d = derive(m, "A", 0, 0)
    assert math.isclose(d.product, 2.164841106297983, rel_tol=1e-12)  # the report's ∂L/∂A[0][0]


@pytest.mark.parametrize("name", MATRIX_NAMES)
def test_factors_are_figure_2_in_the_models_terms(name):
    m = Session.random(4, 3).model
    i, j = 2, 1
    v = forward(m.x, m.A, m.B, m.C)
    a, z, w = v["a"], v["z"], v["w"]
    g = [sum(m.C[r][t] * 2.0 * w[t] for t in range(4)) for r in range(4)]
    d = derive(m, name, i, j)
    upstream, act, inp = d.factors
    assert [f.role for f in d.factors] == ["∂E/∂o_j", "∂o_j/∂net_j", "∂net_j/∂w_ij"]
    if name == "A":
        assert (d.net, d.output) == ("a_1", "y_1")
        assert math.isclose(upstream.value, g[j], rel_tol=1e-13)
        assert act.value == sigmoid_prime(a[j])
        assert math.isclose(act.value, sigmoid(a[j]) * (1 - sigmoid(a[j])), rel_tol=1e-15)
        assert inp.value == m.x[i]
        assert upstream.symbol == "g_1" and act.symbol == "σ′(a_1)" and inp.symbol == "x_2"
    elif name == "B":
        assert (d.net, d.output) == ("u_1", "u_1")
        assert math.isclose(upstream.value, g[j], rel_tol=1e-13)
        assert act.value == 1.0
        assert inp.value == m.x[i]
    else:
        assert (d.net, d.output) == ("w_1", "w_1")
        assert upstream.value == 2.0 * w[j]
        assert act.value == 1.0
        assert inp.value == z[i]
        assert d.terms == ()


@pytest.mark.parametrize("name", ["A", "B"])
def test_upstream_sum_is_expanded_term_by_term(name):
    m = Session.random(7, 11).model
    d = derive(m, name, 3, 5)
    w = forward(m.x, m.A, m.B, m.C)["w"]
    assert [t.k for t in d.terms] == list(range(7))
    for t in d.terms:
        assert t.weight == m.C[5][t.k]
        assert t.upstream == 2.0 * w[t.k]
        assert t.value == t.weight * t.upstream
    assert d.upstream_sum == d.factors[0].value  # bit-identical to the engine's g_j
    top = d.largest_terms(3)
    assert [abs(t.value) for t in top] == sorted((abs(t.value) for t in d.terms), reverse=True)[:3]


def test_feeding_cells():
    k = 4
    a = feeding_cells("A", 1, 2, k)
    assert a["x"] == {(0, 1)}
    assert a["A"] == {(r, 2) for r in range(k)}
    assert a["C"] == {(2, t) for t in range(k)}
    assert "B" not in a
    b = feeding_cells("B", 1, 2, k)
    assert b == {"x": {(0, 1)}, "B": {(1, 2)}, "C": {(2, t) for t in range(k)}}
    c = feeding_cells("C", 1, 2, k)
    assert c["x"] == {(0, s) for s in range(k)}
    assert c["A"] == c["B"] == {(s, 1) for s in range(k)}
    assert c["C"] == {(s, 2) for s in range(k)}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("D", 0, 0), "no matrix 'D'"),
        (("A", 3, 0), "i = 3 is out of range for K = 3"),
        (("B", 0, -1), "j = -1 is out of range"),
        (("C", True, 0), "i = True is out of range"),
    ],
)
def test_derive_rejects_bad_entries(args, message):
    m = Session.report_example().model
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        derive(m, *args)


def test_derive_rejects_bad_models_and_overflow():
    m = Session.report_example().model
    A = [row[:] for row in m.A]
    A[1][2] = math.nan
    with pytest.raises(ValueError, match=r"A\[1\]\[2\] is not finite"):
        derive(Model(m.x, A, m.B, m.C), "A", 0, 0)
    huge = [[1e200] * 3 for _ in range(3)]
    with pytest.raises(NumericalOverflowError):
        derive(Model(m.x, m.A, huge, huge), "B", 0, 0)


# --------------------------------------------------------------------------- loss along the gradient


def test_line_at_x_starts_at_the_loss_and_falls_with_slope_minus_grad_norm_squared():
    m = Session.report_example().model
    loss, grads = loss_and_grads(m.x, m.A, m.B, m.C)
    line = loss_along_gradient(m, 0.01)
    assert line.source == "x"
    assert line.ts[0] == 0.0 and math.isclose(line.ts[-1], 0.03) and 0.01 in line.ts
    assert list(line.ts) == sorted(line.ts)
    assert math.isclose(line.loss0, loss, rel_tol=1e-14)
    norm2 = sum(v * v for n in MATRIX_NAMES for row in grads[n] for v in row)
    assert math.isclose(line.slope, -norm2, rel_tol=1e-12)
    # The curve's own initial slope agrees with −‖g‖² (a tiny step: first order dominates).
    tiny = loss_along_gradient(m, 1e-7, span=1.0, points=3)
    assert math.isclose((tiny.loss_at_lr - tiny.loss0) / 1e-7, -norm2, rel_tol=1e-3)
    # L(θ − lr·g) is the loss after a plain gradient step at x.
    stepped = [
        [[w - 0.01 * g for w, g in zip(rw, rg, strict=True)] for rw, rg in zip(W, grads[n], strict=True)]
        for W, n in ((m.A, "A"), (m.B, "B"), (m.C, "C"))
    ]
    assert math.isclose(line.loss_at_lr, forward(m.x, *stepped)["loss"], rel_tol=1e-12)
    assert line.best_loss == min(line.losses)
    assert not line.overshoots
    assert line.verdict().startswith("Downhill")


def test_line_reports_an_overshooting_learning_rate():
    m = Session.report_example().model
    line = loss_along_gradient(m, 0.2)
    assert line.overshoots
    assert line.loss_at_lr > line.loss0
    assert line.best_t < 0.2
    assert line.verdict().startswith("Overshoots")


def test_line_over_a_batch_uses_the_batch_mean():
    m = Session.random(5, 2).model
    settings = TrainingSettings(learning_rate=0.05, batch_size=8, n_samples=100)
    indices, rows, _ = next_batch(m, settings)
    line = loss_along_gradient(m, 0.05, batch_rows=rows, batch=indices)
    loss, grads = batch_loss_and_grads(rows, m.A, m.B, m.C)
    assert line.source == "batch" and line.batch == tuple(indices)
    assert math.isclose(line.loss0, loss, rel_tol=1e-12)
    assert math.isclose(
        line.slope, -sum(v * v for n in MATRIX_NAMES for r in grads[n] for v in r), rel_tol=1e-12
    )
    # The point at t = lr is the batch loss after the training step itself.
    plan = plan_step(m, settings)
    assert math.isclose(line.loss_at_lr, plan.batch_loss_after, rel_tol=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lr": 0.0}, "learning_rate must be a positive number"),
        ({"lr": math.inf}, "learning_rate"),
        ({"lr": 0.1, "span": 0.5}, "span must be a number ≥ 1"),
        ({"lr": 0.1, "points": 2}, "points must be"),
    ],
)
def test_line_rejects_bad_arguments(kwargs, message):
    m = Session.report_example().model
    lr = kwargs.pop("lr")
    with pytest.raises(ValueError, match=message):
        loss_along_gradient(m, lr, **kwargs)


def test_zero_gradient_line_is_flat():
    k = 2
    zero = [[0.0] * k for _ in range(k)]
    line = loss_along_gradient(Model([0.5, 0.5], zero, zero, zero), 0.1)
    assert line.slope == 0.0
    assert set(line.losses) == {0.0}
    assert "zero" in line.verdict()


# --------------------------------------------------------------------------- one step taken apart


@pytest.mark.parametrize(("start_step", "start_epoch"), [(0, 0), (7, 2)])
@pytest.mark.parametrize(("label", "model"), MODELS[:2], ids=[m[0] for m in MODELS[:2]])
def test_plan_is_the_trainers_next_step_bit_for_bit(label, model, start_step, start_epoch):
    settings = TrainingSettings(learning_rate=0.01, batch_size=10, n_samples=200, seed=5)
    plan = plan_step(model, settings, start_step=start_step, start_epoch=start_epoch)
    trainer = Trainer(model, settings, start_step=start_step, start_epoch=start_epoch)
    assert plan.indices == tuple(next(trainer.batches()))
    record = next(trainer.steps())
    assert plan.record == record
    assert (record.step, record.epoch) == (start_step + 1, start_epoch + 1)
    assert tuple(trainer.weights()) == tuple(plan.after)
    assert plan.finite


def test_plan_phases_are_consistent():
    m = Session.random(4, 9).model
    settings = TrainingSettings(learning_rate=0.02, batch_size=6, n_samples=50, seed=1)
    plan = plan_step(m, settings)
    assert PHASES == ("Batch", "Forward", "Gradients", "Update", "New loss")
    assert plan.batch_size == 6 and len(plan.samples) == 6 and len(plan.per_sample) == 6
    trainer = Trainer(m, settings)
    for smp, idx in zip(plan.samples, plan.indices, strict=True):
        assert smp.index == idx and smp.x == trainer.samples[idx]
        v = forward(smp.x, m.A, m.B, m.C)
        assert smp.loss == v["loss"] and smp.w == v["w"] and smp.y == v["y"]
    # The mean gradient is the mean of the per-sample gradients.
    for name in MATRIX_NAMES:
        for i in range(4):
            for j in range(4):
                mean = sum(g[name][i][j] for _, g in plan.per_sample) / 6
                assert math.isclose(plan.mean_grads[name][i][j], mean, rel_tol=1e-12, abs_tol=1e-15)
                assert (
                    plan.deltas[name][i][j]
                    == plan.after[MATRIX_NAMES.index(name)][i][j]
                    - plan.before[MATRIX_NAMES.index(name)][i][j]
                )
                assert math.isclose(
                    plan.deltas[name][i][j], -0.02 * plan.mean_grads[name][i][j], rel_tol=1e-9, abs_tol=1e-15
                )
    assert math.isclose(plan.batch_loss, sum(s.loss for s in plan.samples) / 6, rel_tol=1e-12)
    assert math.isclose(plan.loss_at_x_before, forward(m.x, m.A, m.B, m.C)["loss"], rel_tol=1e-13)
    assert plan.before == (m.A, m.B, m.C)  # nothing applied
    moves = plan.largest_changes(3)
    assert len(moves) == 3 and abs(moves[0][3]) >= abs(moves[1][3]) >= abs(moves[2][3])


def test_plan_of_a_diverging_step_is_not_finite():
    big = [[1e30] * 3 for _ in range(3)]
    settings = TrainingSettings(learning_rate=1e6, batch_size=10, n_samples=20)
    plan = plan_step(Model([1.0, 1.0, 1.0], big, big, big), settings)
    assert not plan.finite


def test_plan_rejects_invalid_settings():
    m = Session.report_example().model
    with pytest.raises(ValueError, match="batch_size must be ≤ n_samples"):
        plan_step(m, TrainingSettings(batch_size=20, n_samples=10))
