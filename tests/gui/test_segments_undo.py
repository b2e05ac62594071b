"""The history's segments in the window's Document: one per run, and Undo/Redo of runs, K changes and
Reset to initial keep them true with no bookkeeping of the Document's own (they live in the History)."""

from __future__ import annotations

from backprop_lab.engine.session import Segment, load_session
from backprop_lab.engine.training import TrainingSettings

FIRST = TrainingSettings(learning_rate=0.01, batch_size=10, n_samples=30, epochs=1, seed=0)
SECOND = TrainingSettings(learning_rate=0.1, batch_size=5, n_samples=10, epochs=2, seed=3)


def _run(document, settings: TrainingSettings, steps: int | None = None) -> None:
    document.set_training_settings(settings)
    trainer = document.begin_training_run()
    records = list(trainer.steps())[:steps]
    document.append_history(records)
    document.finish_training_run(trainer, "Train")


def test_each_run_is_a_segment_and_undo_redo_keep_them_true(document, tmp_path):
    _run(document, FIRST)  # 3 steps
    _run(document, SECOND)  # 4 steps
    both = [Segment(1, FIRST), Segment(4, SECOND)]
    assert document.session.segments == both
    document.undo_stack.undo()
    assert document.session.segments == [Segment(1, FIRST)] and len(document.history) == 3
    document.undo_stack.redo()
    assert document.session.segments == both
    document.save(tmp_path / "s.json")
    assert load_session(tmp_path / "s.json").segments == both


def test_a_run_stopped_before_its_first_step_makes_no_segment(document):
    _run(document, FIRST)
    _run(document, SECOND, steps=0)
    assert document.session.segments == [Segment(1, FIRST)] and document.undo_stack.count() == 1
    _run(document, SECOND, steps=2)
    assert document.session.segments == [Segment(1, FIRST), Segment(4, SECOND)]


def test_a_k_change_and_a_reset_clear_the_segments_and_undo_brings_them_back(document):
    _run(document, FIRST)
    _run(document, SECOND)
    both = document.session.segments
    document.resize(4)
    assert document.session.segments == []
    document.undo_stack.undo()
    assert document.session.segments == both
    document.reset_to_initial()
    assert document.session.segments == []
    document.undo_stack.undo()
    assert document.session.segments == both
