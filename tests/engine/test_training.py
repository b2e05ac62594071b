"""Mini-batch gradient descent: the update rule by hand, the fast kernels against the plain formulas,
determinism, divergence, continuation and the settings' refusals."""

from __future__ import annotations

import dataclasses
import math
import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backprop_lab.engine import kernel_cache, kernels
from backprop_lab.engine.model import Model, frobenius, loss_and_grads
from backprop_lab.engine.training import (
    MAX_SAMPLES,
    MAX_TRAINING_VALUES,
    Divergence,
    StepRecord,
    Trainer,
    TrainingSettings,
    apply_update,
    batch_loss_and_grads,
    epoch_order,
    epoch_permutation,
    generate_samples,
    per_sample_grads,
)

ROOT = Path(__file__).resolve().parents[2]


def _model(report_example):
    m = report_example["model"]
    return m["x"], m["A"], m["B"], m["C"]


def _random_model(k: int, seed: int, scale: float = 1.0):
    r = random.Random(seed)
    x = [r.random() for _ in range(k)]
    mats = [[[scale * (2 * r.random() - 1) for _ in range(k)] for _ in range(k)] for _ in range(3)]
    return x, mats[0], mats[1], mats[2]


def _plain_step(rows, A, B, C, lr):
    """One step written from the report's formulas: per-sample gradients, averaged, subtracted."""
    per = [loss_and_grads(x, A, B, C) for x in rows]
    n = len(per)
    loss = 0.0
    for sample_loss, _ in per:
        loss += sample_loss
    means = {}
    for name in "ABC":
        k = len(A)
        total = [[0.0] * k for _ in range(k)]
        for _, grads in per:
            for i in range(k):
                for j in range(k):
                    total[i][j] += grads[name][i][j]
        means[name] = [[v / n for v in row] for row in total]
    new = {
        name: [
            [w - lr * g for w, g in zip(rw, rg, strict=True)] for rw, rg in zip(W, means[name], strict=True)
        ]
        for name, W in zip("ABC", (A, B, C), strict=True)
    }
    return loss / n, means, new["A"], new["B"], new["C"]


def _plain_run(x, A, B, C, s: TrainingSettings, start_step=0, start_epoch=0):
    """A whole run from the documented procedure, on engine.model alone."""
    r = random.Random(s.seed)
    samples = [[r.random() for _ in range(len(x))] for _ in range(s.n_samples)]
    records = []
    step = start_step
    for epoch in range(start_epoch + 1, start_epoch + s.epochs + 1):
        order = list(range(s.n_samples))
        random.Random(f"backprop-lab/shuffle/{s.seed}/{epoch}").shuffle(order)
        for lo in range(0, s.n_samples, s.batch_size):
            rows = [samples[i] for i in order[lo : lo + s.batch_size]]
            loss, means, A, B, C = _plain_step(rows, A, B, C, s.learning_rate)
            step += 1
            records.append(
                StepRecord(
                    step,
                    epoch,
                    loss,
                    loss_and_grads(x, A, B, C)[0],
                    *(frobenius(means[name]) for name in "ABC"),
                )
            )
    return records, (A, B, C)


# Up to 3.11 sum() adds floats left to right, as the kernels do: the results are bit-identical.
# From 3.12 sum() compensates its rounding, so engine.model may differ in the last bits.
EXACT = sys.version_info < (3, 12)


def _close(a: float, b: float, rel: float = 1e-12) -> bool:
    if EXACT:
        return a == b
    return abs(a - b) <= rel * max(1.0, abs(a), abs(b))


# --------------------------------------------------------------------------- the report's acceptance


def test_report_example_loss_at_x_falls_by_more_than_half(report_example):
    x, A, B, C = _model(report_example)
    start = loss_and_grads(x, A, B, C)[0]
    assert start == pytest.approx(44.061213140343526, rel=1e-12)
    trainer = Trainer(
        Model(x, A, B, C), TrainingSettings(learning_rate=0.01, batch_size=10, n_samples=1000, epochs=1)
    )
    records = list(trainer.steps())
    assert len(records) == trainer.total_steps == 100
    assert [r.step for r in records] == list(range(1, 101))
    assert {r.epoch for r in records} == {1}
    assert records[-1].loss_at_x < start / 2  # the report: 44.06 -> 18.8
    assert trainer.divergence is None
    assert _close(loss_and_grads(x, *trainer.weights())[0], records[-1].loss_at_x)


def test_one_step_equals_the_hand_computation(report_example):
    x, A, B, C = _model(report_example)
    trainer = Trainer(Model(x, A, B, C), TrainingSettings(learning_rate=0.01, batch_size=10, n_samples=1000))
    first_batch = next(trainer.batches())
    record = next(trainer.steps())
    loss, means, A1, B1, C1 = _plain_step([trainer.samples[i] for i in first_batch], A, B, C, 0.01)
    for got, want in zip(trainer.weights(), (A1, B1, C1), strict=True):
        for rg, rw in zip(got, want, strict=True):
            for g, w in zip(rg, rw, strict=True):
                assert _close(g, w), (g, w)
    assert _close(record.batch_loss, loss)
    assert _close(record.loss_at_x, loss_and_grads(x, A1, B1, C1)[0])
    for name, norm in zip("ABC", (record.grad_norm_A, record.grad_norm_B, record.grad_norm_C), strict=True):
        assert _close(norm, frobenius(means[name]))
    assert (record.step, record.epoch) == (1, 1)


@pytest.mark.parametrize(
    ("k", "n", "bs", "epochs"), [(1, 7, 1, 2), (2, 23, 5, 2), (3, 10, 10, 1), (5, 9, 4, 3)]
)
@pytest.mark.parametrize("layout", ["unrolled", "columns"])
def test_a_whole_run_equals_the_documented_procedure(k, n, bs, epochs, layout, monkeypatch):
    # Batch size 1, a partial last batch (23 = 4·5 + 3, 9 = 2·4 + 1), one full batch, several epochs.
    if layout == "columns":  # the layout used above UNROLL_MAX_K
        monkeypatch.setattr(kernels, "UNROLL_MAX_K", 0)
    x, A, B, C = _random_model(k, seed=k)
    s = TrainingSettings(learning_rate=0.05, batch_size=bs, n_samples=n, epochs=epochs, seed=7)
    trainer = Trainer(Model(x, A, B, C), s)
    records = list(trainer.steps())
    want, weights = _plain_run(x, A, B, C, s)
    assert len(records) == len(want) == s.total_steps == epochs * -(-n // bs)
    for got, exp in zip(records, want, strict=True):
        assert (got.step, got.epoch) == (exp.step, exp.epoch)
        for field in ("batch_loss", "loss_at_x", "grad_norm_A", "grad_norm_B", "grad_norm_C"):
            assert _close(getattr(got, field), getattr(exp, field), 1e-12), (got, exp, field)
    for got, exp in zip(trainer.weights(), weights, strict=True):
        assert all(
            _close(g, w, 1e-12) for rg, rw in zip(got, exp, strict=True) for g, w in zip(rg, rw, strict=True)
        )


def test_training_leaves_the_model_x_and_the_callers_lists_alone(report_example):
    x, A, B, C = _model(report_example)
    before = repr((x, A, B, C))
    trainer = Trainer(Model(x, A, B, C), TrainingSettings(n_samples=50))
    list(trainer.steps())
    assert repr((x, A, B, C)) == before
    assert trainer.x == x
    assert trainer.weights()[0] != A


def test_the_trainer_never_prints(report_example, capsys):
    list(Trainer(Model(*_model(report_example)), TrainingSettings(n_samples=100)).steps())
    list(Trainer(Model(*_model(report_example)), TrainingSettings(learning_rate=100.0)).steps())
    assert capsys.readouterr() == ("", "")


# --------------------------------------------------------------------------- data and batches


def test_samples_are_uniform_draws_from_random_seed():
    trainer = Trainer(Model(*_random_model(4, 1)), TrainingSettings(n_samples=30, batch_size=7, seed=123))
    r = random.Random(123)
    assert trainer.samples == [[r.random() for _ in range(4)] for _ in range(30)]
    assert all(0.0 <= v < 1.0 for row in trainer.samples for v in row)


def test_batches_walk_a_fresh_permutation_each_epoch_with_a_partial_last_batch():
    s = TrainingSettings(n_samples=23, batch_size=5, epochs=3, seed=4)
    trainer = Trainer(Model(*_random_model(2, 1)), s)
    batches = list(trainer.batches())
    assert [len(b) for b in batches] == [5, 5, 5, 5, 3] * 3
    epochs = [[i for b in batches[5 * e : 5 * e + 5] for i in b] for e in range(3)]
    assert all(sorted(order) == list(range(23)) for order in epochs)
    assert epochs[0] != epochs[1] != epochs[2] != list(range(23))
    assert epochs[1] == epoch_permutation(23, 4, 2)


def test_next_batch_names_the_batch_each_step_uses():
    trainer = Trainer(
        Model(*_random_model(2, 1)), TrainingSettings(n_samples=7, batch_size=3, epochs=2, seed=2)
    )
    expected = list(trainer.batches())
    for record in trainer.steps():
        assert record.step <= len(expected)
        if record.step < len(expected):
            assert trainer.next_batch() == expected[record.step]
    assert trainer.steps_done == len(expected) == 6
    assert trainer.next_batch() is None
    fresh = Trainer(
        Model(*_random_model(2, 1)), TrainingSettings(n_samples=7, batch_size=3, epochs=2, seed=2)
    )
    assert fresh.next_batch() == expected[0]


def test_the_inputs_are_drawn_on_first_use_not_in_the_constructor():
    trainer = Trainer(Model(*_random_model(2, 1)), TrainingSettings(n_samples=50_000))
    assert trainer._samples is None  # constructing a Trainer on the GUI thread stays instant
    assert trainer.samples is trainer.samples and len(trainer.samples) == 50_000


def test_epoch_order_is_the_permutation_applied_to_the_samples():
    samples = generate_samples(40, 2, seed=9)
    order = epoch_permutation(40, 9, 5)
    assert epoch_order(samples, 9, 5) == [samples[i] for i in order]


# --------------------------------------------------------------------------- determinism


def test_same_session_settings_and_seed_give_bit_identical_runs():
    model = _random_model(3, 2)
    s = TrainingSettings(learning_rate=0.1, batch_size=8, n_samples=100, epochs=2, seed=5)
    first, second = Trainer(Model(*model), s), Trainer(Model(*model), s)
    assert list(first.steps()) == list(second.steps())
    assert first.weights() == second.weights()
    other = Trainer(Model(*model), dataclasses.replace(s, seed=6))
    assert list(other.steps()) != list(Trainer(Model(*model), s).steps())


def test_a_fresh_process_with_another_hash_seed_gives_the_same_bits(report_example):
    script = textwrap.dedent(
        """
        from backprop_lab.engine.resources import load_report_example_data
        from backprop_lab.engine.model import Model
        from backprop_lab.engine.training import Trainer, TrainingSettings
        m = load_report_example_data()["model"]
        t = Trainer(Model(m["x"], m["A"], m["B"], m["C"]), TrainingSettings(0.02, 7, 60, 2, 11))
        print([(r.step, r.epoch, r.batch_loss.hex(), r.loss_at_x.hex()) for r in t.steps()])
        print([[v.hex() for v in row] for w in t.weights() for row in w])
        """
    )
    env = {"PYTHONHASHSEED": "12345", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    env[kernel_cache.ENV_VAR] = os.environ[kernel_cache.ENV_VAR]  # the suite's, never the user's ~/.cache
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    ).stdout
    t = Trainer(Model(*_model(report_example)), TrainingSettings(0.02, 7, 60, 2, 11))
    here = [(r.step, r.epoch, r.batch_loss.hex(), r.loss_at_x.hex()) for r in t.steps()]
    weights = [[v.hex() for v in row] for w in t.weights() for row in w]
    assert out == f"{here}\n{weights}\n"


# --------------------------------------------------------------------------- continuation


def test_one_epoch_then_a_continued_epoch_equals_two_epochs():
    model = _random_model(3, 3)
    s1 = TrainingSettings(learning_rate=0.1, batch_size=6, n_samples=40, epochs=1, seed=2)
    first = Trainer(Model(*model), s1)
    part1 = list(first.steps())
    x = model[0]
    second = Trainer(Model(x, *first.weights()), s1, start_step=part1[-1].step, start_epoch=part1[-1].epoch)
    part2 = list(second.steps())
    assert [r.step for r in part2] == list(range(8, 15)) and {r.epoch for r in part2} == {2}
    whole = Trainer(Model(*model), dataclasses.replace(s1, epochs=2))
    assert part1 + part2 == list(whole.steps())
    assert second.weights() == whole.weights()


def test_calling_steps_again_resumes_after_the_last_step_taken():
    model = _random_model(2, 4)
    s = TrainingSettings(learning_rate=0.1, batch_size=4, n_samples=10, epochs=3, seed=1)
    whole = list(Trainer(Model(*model), s).steps())
    trainer = Trainer(Model(*model), s)
    taken = []
    for record in trainer.steps():
        taken.append(record)
        if len(taken) == 4:  # stop mid-epoch 2, between steps
            break
    assert trainer.steps_done == 4
    taken += list(trainer.steps())
    assert taken == whole
    assert list(trainer.steps()) == []


def test_a_newer_steps_generator_retires_the_older_one():
    trainer = Trainer(Model(*_random_model(2, 4)), TrainingSettings(batch_size=2, n_samples=10, seed=1))
    older = trainer.steps()
    assert next(older).step == 1
    newer = trainer.steps()
    assert next(newer).step == 2
    assert list(older) == []
    assert [r.step for r in newer] == [3, 4, 5]


# --------------------------------------------------------------------------- divergence


def test_a_huge_learning_rate_stops_with_a_reason_and_keeps_the_last_finite_weights(report_example):
    x, A, B, C = _model(report_example)
    trainer = Trainer(Model(x, A, B, C), TrainingSettings(learning_rate=100.0, n_samples=1000, batch_size=10))
    seen = []
    for record in trainer.steps():
        seen.append((record, trainer.weights()))
    d = trainer.divergence
    assert isinstance(d, Divergence)
    assert d.step == len(seen) + 1 < trainer.total_steps and d.epoch == 1
    assert f"step {d.step}" in d.reason and "lower the learning rate" in d.reason and "\n" not in d.reason
    last_weights = seen[-1][1] if seen else (A, B, C)
    assert trainer.weights() == last_weights
    assert all(math.isfinite(v) for w in trainer.weights() for row in w for v in row)
    assert list(trainer.steps()) == []


def test_an_overflowing_first_batch_diverges_at_step_one_with_the_initial_weights():
    x, A, B, C = [0.5, 0.5], [[1e200, 1e200]] * 2, [[1e200, 1e200]] * 2, [[1e200, 1e200]] * 2
    trainer = Trainer(
        Model(x, A, B, C), TrainingSettings(learning_rate=0.01, n_samples=20, batch_size=10, seed=3)
    )
    assert list(trainer.steps()) == []
    assert trainer.divergence is not None and trainer.divergence.step == 1
    assert "the batch loss" in trainer.divergence.reason
    assert trainer.weights() == (A, B, C)


def test_finite_gradients_whose_update_overflows_count_as_divergence():
    # w ≈ 1e154·x: the loss and the gradient (≈ 2e303) are finite, lr·g is not.
    trainer = Trainer(Model([1.0], [[0.0]], [[1e5]], [[1e149]]), TrainingSettings(1e6, 1, 1, 1, 7))
    assert list(trainer.steps()) == []
    assert "the updated weights" in trainer.divergence.reason
    assert trainer.weights() == ([[0.0]], [[1e5]], [[1e149]])


def test_an_overflow_error_inside_a_step_is_divergence_too(monkeypatch, report_example):
    def raising_step_function(k, variant=None):
        def step(X, A, B, C, x, lr):
            raise OverflowError("math range error")

        return step

    monkeypatch.setattr(kernels, "step_function", raising_step_function)
    trainer = Trainer(Model(*_model(report_example)), TrainingSettings())
    assert list(trainer.steps()) == []
    assert trainer.divergence == Divergence(1, 1, trainer.divergence.reason)
    assert "lower the learning rate (now 0.01)" in trainer.divergence.reason


def test_mean_step_flags_an_update_that_overflows():
    norm, new, finite = kernels.mean_step([[1e308]], [[-1e308]], 1, 1e6)
    assert norm == 1e308 and new == [[math.inf]] and not finite


# --------------------------------------------------------------------------- the fast kernels


@st.composite
def _batches(draw):
    k = draw(st.integers(1, 8))
    n = draw(st.integers(1, 12))
    value = st.floats(-3.0, 3.0, allow_nan=False, allow_infinity=False)
    mats = [draw(st.lists(st.lists(value, min_size=k, max_size=k), min_size=k, max_size=k)) for _ in range(3)]
    X = draw(st.lists(st.lists(st.floats(0.0, 1.0), min_size=k, max_size=k), min_size=n, max_size=n))
    return X, *mats


def _assert_matches_the_plain_formulas(X, A, B, C, loss, grads):
    per = [loss_and_grads(x, A, B, C) for x in X]
    n = len(X)
    want_loss = 0.0
    for sample_loss, _ in per:
        want_loss += sample_loss
    assert _close(loss, want_loss / n)
    for name in "ABC":
        for i in range(len(A)):
            for j in range(len(A)):
                total = 0.0
                for _, g in per:
                    total += g[name][i][j]
                assert _close(grads[name][i][j], total / n), (name, i, j)


@settings(max_examples=150, deadline=None)
@given(_batches())
def test_the_fast_batch_path_equals_averaging_the_plain_formulas(batch):
    X, A, B, C = batch
    loss, grads = batch_loss_and_grads(X, A, B, C)
    _assert_matches_the_plain_formulas(X, A, B, C, loss, grads)
    columns = kernels.batch_sums_columns(X, A, B, C)
    unrolled = kernels.unrolled_kernel(len(A))(X, A, B, C)
    assert _close(columns[0], unrolled[0])
    for got, want in zip(columns[1:], unrolled[1:], strict=True):
        assert all(
            _close(g, w) for rg, rw in zip(got, want, strict=True) for g, w in zip(rg, rw, strict=True)
        )
    assert _close(kernels.loss_at(X[0], A, B, C), loss_and_grads(X[0], A, B, C)[0])
    unrolled_step = kernels.step_function(len(A))(X, A, B, C, X[-1], 0.25)
    columns_step = kernels.step_columns(X, A, B, C, X[-1], 0.25)
    for got, want in zip(unrolled_step, columns_step, strict=True):
        if isinstance(got, list):
            assert all(
                _close(g, w) for rg, rw in zip(got, want, strict=True) for g, w in zip(rg, rw, strict=True)
            )
        else:
            assert _close(got, want)
    assert _close(kernels.loss_at_columns(X[0], A, B, C), kernels.loss_at(X[0], A, B, C))


def test_the_column_path_serves_k_beyond_the_unrolled_limit():
    k = kernels.UNROLL_MAX_K + 1
    x, A, B, C = _random_model(k, seed=5, scale=0.1)
    X = generate_samples(3, k, seed=1)
    loss, grads = batch_loss_and_grads(X, A, B, C)
    _assert_matches_the_plain_formulas(X, A, B, C, loss, grads)
    assert kernels.step_function(k) is kernels.step_columns
    assert _close(kernels.loss_at(x, A, B, C), loss_and_grads(x, A, B, C)[0])


def test_saturated_sigmoids_give_zero_not_nan_in_the_fast_path():
    X = [[1.0]]
    for a in (-1e308, 1e308):
        loss, grads = batch_loss_and_grads(X, [[a]], [[0.0]], [[1.0]])
        want = loss_and_grads(X[0], [[a]], [[0.0]], [[1.0]])
        assert loss == want[0] and grads == want[1]


def test_kernel_sources_come_from_k_alone():
    assert "def kernel(X, A, B, C" in kernels.kernel_source(2)
    assert kernels.kernel_source(3).count("sA") > 9
    with pytest.raises(ValueError, match="K must be between 1 and"):
        kernels.kernel_source(kernels.UNROLL_MAX_K + 1)
    with pytest.raises(ValueError, match="K must be between 1 and"):
        kernels.forward_source(0)


def test_batch_loss_and_grads_validates_its_inputs():
    with pytest.raises(ValueError, match="X must be a non-empty list"):
        batch_loss_and_grads([], [[1.0]], [[1.0]], [[1.0]])
    with pytest.raises(ValueError, match=r"X\[1\] has 1 entry; expected 2"):
        batch_loss_and_grads([[0.1, 0.2], [0.3]], *_random_model(2, 1)[1:])
    with pytest.raises(ValueError, match=r"X\[0\]\[1\] is not finite"):
        batch_loss_and_grads([[0.1, math.inf]], *_random_model(2, 1)[1:])
    with pytest.raises(ValueError, match=r"C\[0\]\[0\] is not finite"):
        batch_loss_and_grads([[0.1]], [[1.0]], [[1.0]], [[math.nan]])


def test_per_sample_grads_and_apply_update_are_the_plain_pieces(report_example):
    x, A, B, C = _model(report_example)
    X = generate_samples(3, 3, seed=2)
    assert per_sample_grads(X, A, B, C) == [loss_and_grads(row, A, B, C) for row in X]
    before = repr((A, B, C))
    _, grads = loss_and_grads(x, A, B, C)
    A1, B1, C1 = apply_update(A, B, C, grads, 0.5)
    assert repr((A, B, C)) == before
    assert A1[1][2] == A[1][2] - 0.5 * grads["A"][1][2] and C1[2][0] == C[2][0] - 0.5 * grads["C"][2][0]
    assert B1[0][1] == B[0][1] - 0.5 * grads["B"][0][1]


# --------------------------------------------------------------------------- settings


def test_settings_defaults_and_derived_counts():
    s = TrainingSettings()
    assert (s.learning_rate, s.batch_size, s.n_samples, s.epochs, s.seed) == (0.01, 10, 1000, 1, 0)
    s.validate()
    assert TrainingSettings(batch_size=32, n_samples=100, epochs=3).steps_per_epoch == 4
    assert TrainingSettings(batch_size=32, n_samples=100, epochs=3).total_steps == 12
    assert TrainingSettings(batch_size=100, n_samples=100).total_steps == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.seed = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"learning_rate": 0}, r"^learning_rate must be > 0 \(got 0\)$"),
        ({"learning_rate": -0.1}, r"^learning_rate must be > 0"),
        ({"learning_rate": math.nan}, r"^learning_rate must be finite \(got nan\)$"),
        ({"learning_rate": math.inf}, r"^learning_rate must be finite"),
        ({"learning_rate": 1e7}, r"^learning_rate must be ≤ 1e\+06"),
        ({"learning_rate": "0.1"}, r"^learning_rate must be a number"),
        ({"learning_rate": True}, r"^learning_rate must be a number"),
        ({"batch_size": 0}, r"^batch_size must be ≥ 1 \(got 0\)$"),
        ({"batch_size": 2.0}, r"^batch_size must be an integer \(got 2\.0\)$"),
        ({"batch_size": 2000}, r"^batch_size must be ≤ n_samples \(got 2000 > 1000\)$"),
        ({"n_samples": 0}, r"^n_samples must be ≥ 1"),
        ({"n_samples": MAX_SAMPLES + 1}, r"^n_samples must be ≤ 1,000,000 \(got 1,000,001\)$"),
        ({"epochs": 0}, r"^epochs must be ≥ 1"),
        ({"epochs": True}, r"^epochs must be an integer \(got True\)$"),
        ({"seed": -1}, r"^seed must be ≥ 0 \(got -1\)$"),
        ({"seed": 2**63}, r"^seed must be ≤"),
        ({"seed": None}, r"^seed must be an integer \(got None\)$"),
    ],
)
def test_settings_refuse_bad_values_naming_the_field(changes, message):
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(TrainingSettings(), **changes).validate()


def test_the_trainer_validates_settings_model_size_and_start():
    model = _random_model(2, 1)
    with pytest.raises(ValueError, match=r"^learning_rate must be > 0"):
        Trainer(Model(*model), TrainingSettings(learning_rate=0.0))
    with pytest.raises(ValueError, match=r"A\[0\]\[1\] is not finite"):
        Trainer(Model([0.5, 0.5], [[0.0, math.inf], [0.0, 0.0]], model[2], model[3]), TrainingSettings())
    big = _random_model(8, 1)
    with pytest.raises(ValueError, match=r"^n_samples must be ≤ 500,000 for K = 8"):
        Trainer(Model(*big), TrainingSettings(n_samples=MAX_TRAINING_VALUES // 8 + 1))
    with pytest.raises(ValueError, match=r"^start_step must be ≥ 0"):
        Trainer(Model(*model), TrainingSettings(), start_step=-1)
    with pytest.raises(ValueError, match=r"^start_epoch must be an integer"):
        Trainer(Model(*model), TrainingSettings(), start_epoch=1.5)


def test_the_benchmark_script_runs_and_its_baseline_agrees_with_the_trainer():
    # tests/bench/ is not collected; this keeps the benchmark of docs/performance.md from rotting.
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tests/bench/bench_training.py"),
            "--quick",
            "--no-torch",
            "--repeats",
            "1",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=120,
    ).stdout
    rows = [line for line in out.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert [row.split("|")[1].strip() for row in rows] == ["3", "16", "64"]
    assert "Machine: " in out and "Python 3." in out
