"""The Document: undoable edits, refusals, K changes, history rules, dirty state, signals."""

from __future__ import annotations

import math

import pytest

from backprop_lab.engine.resources import load_report_example_data
from backprop_lab.engine.session import Session, load_session
from backprop_lab.engine.training import StepRecord, TrainingSettings
from backprop_lab.gui.document import Document


def record(step: int, epoch: int = 1) -> StepRecord:
    return StepRecord(step, epoch, 1.0 / step, 0.5 / step, 1.0, 2.0, 3.0)


def test_starts_on_the_report_example_with_its_evaluation(document):
    data = load_report_example_data()
    assert document.K == 3
    assert document.evaluation.loss == pytest.approx(data["expected"]["loss"], rel=1e-12)
    assert document.evaluation.grads["B"][1][1] == pytest.approx(data["expected"]["grad_B"][1][1], rel=1e-12)
    assert set(document.evaluation.values) == {"a", "y", "u", "z", "w"}
    assert not document.is_dirty and document.path is None and document.display_name


def test_set_entry_is_one_undo_step_and_refreshes_the_evaluation(document, qtbot):
    old = document.evaluation.loss
    with qtbot.waitSignal(document.modelChanged), qtbot.waitSignal(document.dirtyChanged):
        document.set_entry("x", 0, 2, 0.0)
    assert document.model.x[2] == 0.0 and document.evaluation.loss != old
    assert document.is_dirty
    document.undo_stack.undo()
    assert document.evaluation.loss == old
    assert not document.is_dirty


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_values_are_refused_and_nothing_changes(document, value):
    before = document.model.copy()
    with pytest.raises(ValueError, match="not be finite"):
        document.set_entry("A", 1, 1, value)
    assert document.model == before and document.undo_stack.count() == 0


def test_paste_block_must_fit_and_is_one_step(document):
    document.paste_block("B", 1, 1, [[1, 2], [3, 4]])
    assert document.model.B[2][2] == 4.0 and document.undo_stack.count() == 1
    with pytest.raises(ValueError, match="does not fit"):
        document.paste_block("B", 2, 2, [[1, 2]])
    with pytest.raises(ValueError, match="unknown block"):
        document.paste_block("D", 0, 0, [[1]])


def test_growing_k_keeps_the_overlap_and_draws_new_entries_like_randomize(document):
    old = document.model.copy()
    document.resize(5, seed=7, low=-1.0, high=1.0)
    new = document.model
    assert new.K == 5
    assert [row[:3] for row in new.A[:3]] == old.A and new.x[:3] == old.x
    fresh = Session.random(5, 7, low=-1.0, high=1.0).model
    assert new.A[4] == fresh.A[4] and new.C[0][3:] == fresh.C[0][3:] and new.x[3:] == fresh.x[3:]
    document.resize(2)
    assert document.model.A == [row[:2] for row in old.A[:2]]
    with pytest.raises(ValueError, match="between 1 and 32"):
        document.resize(33)


def test_k_change_clears_the_history_and_undo_brings_it_back(document, qtbot):
    document.append_history([record(1), record(2)])
    with qtbot.waitSignal(document.historyChanged):
        document.resize(4)
    assert len(document.history) == 0 and document.session.initial.K == 4
    document.undo_stack.undo()
    assert len(document.history) == 2 and document.K == 3 and document.session.initial.K == 3


def test_reset_to_initial_restores_the_start_of_the_history(document):
    start = document.model.copy()
    document.set_entry("C", 0, 0, 9.0)
    document.append_history([record(1)])
    document.reset_to_initial()
    assert document.model == start and len(document.history) == 0
    document.undo_stack.undo()
    assert document.model.C[0][0] == 9.0 and len(document.history) == 1


def test_edits_are_refused_while_training(document):
    document.set_training_state("running")
    with pytest.raises(ValueError, match="read-only while training"):
        document.set_entry("A", 0, 0, 1.0)
    with pytest.raises(ValueError):
        document.randomize(1)
    document.set_training_state("idle")
    document.randomize(1)
    assert document.undo_stack.count() == 1


def test_training_settings_are_validated_and_mark_dirty(document, qtbot):
    with pytest.raises(ValueError, match="batch_size"):
        document.set_training_settings(TrainingSettings(batch_size=20, n_samples=10))
    with qtbot.waitSignal(document.settingsChanged):
        document.set_training_settings(TrainingSettings(learning_rate=0.5))
    assert document.training_settings.learning_rate == 0.5 and document.is_dirty


def test_a_training_run_is_one_undo_step(document):
    trainer = document.begin_training_run()
    before = document.model.copy()
    records = list(trainer.steps())
    document.append_history(records)
    document.finish_training_run(trainer, "Train")
    assert len(document.history) == 100 and document.model != before
    document.undo_stack.undo()
    assert len(document.history) == 0 and document.model == before
    document.undo_stack.redo()
    assert len(document.history) == 100 and document.model.A == trainer.weights()[0]


def test_save_and_replace_session(document, tmp_path, qtbot):
    path = tmp_path / "s.json"
    document.set_entry("A", 0, 0, 2.0)
    with qtbot.waitSignal(document.pathChanged):
        document.save(path)
    assert not document.is_dirty and document.path == path
    assert load_session(path).model.A[0][0] == 2.0
    other = Document()
    other.replace_session(load_session(path), path)
    assert other.model.A[0][0] == 2.0 and not other.is_dirty and other.undo_stack.count() == 0
    with pytest.raises(ValueError, match="no file name"):
        Document().save()
