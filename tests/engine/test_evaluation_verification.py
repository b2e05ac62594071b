"""engine.evaluation and engine.verification: the window's numbers, computed without Qt."""

from __future__ import annotations

import math

import pytest

from backprop_lab.engine.evaluation import INTERMEDIATE_NAMES, evaluate
from backprop_lab.engine.gradcheck import SWEEP_EPS
from backprop_lab.engine.model import Model, forward, loss_and_grads
from backprop_lab.engine.session import Session
from backprop_lab.engine.verification import run_checks


def _example() -> Model:
    return Session.report_example().model


def test_evaluate_matches_the_math_core() -> None:
    m = _example()
    ev = evaluate(m)
    loss, grads = loss_and_grads(m.x, m.A, m.B, m.C)
    assert ev.error is None
    assert ev.loss == loss
    assert ev.grads == grads
    values = forward(m.x, m.A, m.B, m.C)
    assert set(ev.values) == set(INTERMEDIATE_NAMES)
    for name in INTERMEDIATE_NAMES:
        assert ev.values[name] == values[name]  # type: ignore[literal-required]
    for name, grad in grads.items():
        assert ev.scales[name] == max(abs(v) for row in grad for v in row)


def test_evaluate_turns_overflow_into_a_message() -> None:
    m = Model([1.0], [[0.0]], [[1e200]], [[1e200]])
    ev = evaluate(m)
    assert ev.loss is None
    assert ev.grads == {}
    assert ev.error is not None and "overflows" in ev.error
    assert ev.values["w"] == [math.inf]


def test_run_checks_passes_on_the_example_and_counts_every_entry() -> None:
    m = _example()
    seen: list[tuple[int, int]] = []
    results = run_checks(m, with_torch=False, with_sweep=True, progress=lambda d, t: seen.append((d, t)))
    assert results.passed and results.fd.passed
    assert results.torch is None and results.torch_note == ""
    assert [e for e, _ in results.sweep] == list(SWEEP_EPS)
    n = 3 * m.K * m.K
    total = n * (1 + len(SWEEP_EPS))
    assert {t for _, t in seen} == {total}
    assert seen[-1][0] == total
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_run_checks_stops_when_progress_raises() -> None:
    class Stop(Exception):
        pass

    calls = []

    def progress(done: int, total: int) -> None:
        calls.append(done)
        if done >= 3:
            raise Stop

    with pytest.raises(Stop):
        run_checks(_example(), with_torch=False, with_sweep=True, progress=progress)
    assert calls[-1] == 3
