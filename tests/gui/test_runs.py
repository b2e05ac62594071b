"""Runs side by side in the window (issue 17, part 1): the runs list, several runs on the plot, x as
step, epoch or samples seen, File ▸ Add run to compare…, Ctrl+drop, references kept in the session."""

from __future__ import annotations

import warnings
from itertools import islice
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QColor, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QSplitter

from backprop_lab.engine.runs import load_run, samples_seen
from backprop_lab.engine.session import Segment, Session, load_session, save_session
from backprop_lab.engine.training import TrainingSettings
from backprop_lab.gui.main_window import MainWindow
from backprop_lab.gui.plot_data import XScale
from backprop_lab.gui.runs import CURRENT_NAME, spans

WAIT = 60_000


def trained(lr: float, name: str, epochs: int = 3, n: int = 60, batch: int = 7) -> Session:
    """A K = 3 session trained in one run: ⌈60/7⌉ = 9 steps an epoch, the last batch of 4."""
    s = Session.random(3, 1)
    s.name = name
    trainer = s.make_trainer(TrainingSettings(learning_rate=lr, batch_size=batch, n_samples=n, epochs=epochs))
    s.history.extend(trainer.steps())
    s.finish_run(trainer)
    return s


def saved_run(folder: Path, lr: float, name: str) -> Path:
    path = folder / f"{name}.bpl.json"
    save_session(trained(lr, name), path)
    return path


def make_window(qtbot, path: Path | None = None) -> MainWindow:
    w = MainWindow(path)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w


def compare(qtbot, window: MainWindow, *paths: Path) -> None:
    with qtbot.waitSignal(window.runs.loaded, timeout=WAIT):
        assert window.runs.add_files(paths) is not None


def names(window: MainWindow) -> list[str]:
    return [e.name for e in window.runs.entries]


# ------------------------------------------------------------------------------------- x axes


@pytest.mark.parametrize("chunk", [1, 5, 1000])
def test_samples_seen_and_epochs_as_the_engine_counts_them_in_batches_of_any_size(chunk):
    # Two runs: 3 epochs of ⌈60/7⌉ = 9 steps (the last batch of 4), then a Stop mid-epoch (5 steps),
    # then a run of batch 25 (⌈60/25⌉ = 3 steps, the last of 10) that begins epoch 5.
    s = trained(0.01, "a")
    trainer = s.make_trainer(TrainingSettings(learning_rate=0.01, batch_size=7, n_samples=60, epochs=1))
    s.history.extend(islice(trainer.steps(), 5))  # then Stop
    s.finish_run(trainer)
    more = s.make_trainer(TrainingSettings(learning_rate=0.01, batch_size=25, n_samples=60, epochs=2))
    s.history.extend(more.steps())
    s.finish_run(more)
    epochs = np.frombuffer(s.history.column("epoch"), dtype=np.int64)
    parts = {}
    for mode in ("step", "epoch", "samples"):
        scale = XScale(mode)
        parts[mode] = np.concatenate(
            [
                scale.extend(epochs[i : i + chunk], spans(s.segments, s.training))
                for i in range(0, len(epochs), chunk)
            ]
        )
    assert len(s.segments) == 3 and len(epochs) == 27 + 5 + 6
    np.testing.assert_array_equal(parts["step"], np.arange(1, 39))
    np.testing.assert_allclose(parts["samples"], np.asarray(samples_seen(len(epochs), s.segments)))
    assert parts["samples"][8] == 60 and parts["samples"][26] == 180  # whole epochs: every sample once
    ep = parts["epoch"]
    assert ep[8] == pytest.approx(1.0) and ep[26] == pytest.approx(3.0)  # an epoch's end is a whole number
    assert ep[27] == pytest.approx(3 + 1 / 9) and ep[31] == pytest.approx(3 + 5 / 9)  # the Stop mid-epoch
    assert ep[32] == pytest.approx(4 + 1 / 3) and ep[-1] == pytest.approx(6.0)  # the batch-25 run
    assert np.all(np.diff(ep) > 0) and np.all(np.diff(parts["samples"]) > 0)


def test_x_as_epoch_and_samples_on_the_plot(window, qtbot):
    doc, panel = window.document, window.plot_panel
    doc.replace_session(trained(0.05, "x axes"), None)
    panel.refresh()
    panel.set_x_mode("epoch")
    x, _ = panel.curves["loss"].getData()
    assert x[0] == pytest.approx(1 / 9) and x[-1] == pytest.approx(3.0)
    assert panel.plot.getPlotItem().getAxis("bottom").labelText == "epoch"
    assert [line.value() for line in panel.epoch_lines] == pytest.approx([1.0, 2.0])
    panel.set_x_mode("samples")
    x, _ = panel.curves["loss"].getData()
    assert x[0] == 7 and x[8] == 60 and x[-1] == 180
    panel.set_x_mode("step")
    x, _ = panel.curves["loss"].getData()
    np.testing.assert_array_equal(x, np.arange(1, 28))


# ------------------------------------------------------------------------------------- the list


def test_the_runs_list_sits_beside_the_plot_and_lists_this_session_first(window):
    assert window.runs_panel.list.objectName() == "runsList"
    assert window.runs_panel.list.model() is window.runs
    splitter = window.findChild(QSplitter, "plotAndRuns")
    assert splitter.widget(0) is window.plot_panel and splitter.widget(1).widget() is window.runs_panel
    # (It scrolls only on a short window: tests/gui/test_layout.py checks 1280×720 and 1400×900.)
    assert names(window) == [CURRENT_NAME]
    assert not window.runs_panel.remove_button.isEnabled()
    with pytest.raises(ValueError, match="only a compared run can be removed"):
        window.runs.remove(0)


def test_each_start_that_takes_steps_is_a_run_of_its_own_hidden_until_ticked(window, qtbot):
    doc = window.document
    doc.replace_session(Session.random(3, 1), None)
    for lr, batch in ((0.05, 10), (0.2, 20)):
        doc.set_training_settings(
            TrainingSettings(learning_rate=lr, batch_size=batch, n_samples=60, epochs=1)
        )
        window.controller.start()
        qtbot.waitUntil(lambda: doc.training_state == "idle" and len(doc.session.segments) >= 1, timeout=WAIT)
    qtbot.waitUntil(lambda: len(window.runs.entries) == 3, timeout=WAIT)
    assert names(window) == [CURRENT_NAME, "Run 1 (lr 0.05, batch 10)", "Run 2 (lr 0.2, batch 20)"]
    first, second = window.runs.entries[1:]
    assert (first.rows, second.rows) == ((0, 6), (6, None)) and not first.visible
    window.runs.set_visible(2, True)  # ticking a run compares it: one curve for every run
    panel = window.plot_panel
    assert panel.curve == "loss_at_x"
    (segment,) = panel.other_series
    np.testing.assert_array_equal(segment.x, [1, 2, 3])  # drawn from its own start
    np.testing.assert_array_equal(segment.raw, np.frombuffer(doc.history.column("loss_at_x"))[6:])
    doc.undo_stack.undo()  # the second run undone: its segment goes with its steps
    assert names(window) == [CURRENT_NAME] and panel.other_series == []


# ------------------------------------------------------------------------------------- comparing


def test_add_run_to_compare_draws_every_visible_run_in_its_colour_and_the_hover_names_it(
    window, qtbot, tmp_path, monkeypatch
):
    slow, fast = saved_run(tmp_path, 0.01, "slow"), saved_run(tmp_path, 0.2, "fast")
    monkeypatch.setattr(window.prompts, "open_files", lambda *a: [str(slow), str(fast)])
    with qtbot.waitSignal(window.runs.loaded, timeout=WAIT):
        window.actions["add_run"].trigger()
    assert names(window) == [CURRENT_NAME, "slow", "fast"]
    entries = window.runs.entries
    assert len({e.colour for e in entries}) == 3
    panel = window.plot_panel
    assert panel.curve == "loss_at_x"  # with "All curves" the other runs would not show
    drawn = {s.entry.name: s for s in panel.other_series}
    assert set(drawn) == {"slow", "fast"}
    for e in entries[1:]:
        _raw, smooth = panel.others.items(e.key)
        assert smooth.opts["pen"].color() == QColor(e.colour)
        np.testing.assert_array_equal(
            drawn[e.name].raw, np.frombuffer(load_run(e.path).history.column("loss_at_x"))
        )
    assert [label.text for _, label in panel.legend.items] == [CURRENT_NAME, "slow", "fast"]
    # The hover names the run whose curve passes nearest the pointer first.
    at = 10
    fast_y = drawn["fast"].smooth[at - 1]
    text = panel.runs_readout_at(at, np.log10(fast_y))
    assert text.startswith("fast: step 10 (epoch 2) · loss at x ")
    assert " · slow " in text and f" · {CURRENT_NAME} " not in text  # the report example has no history
    window.runs.set_visible(1, False)
    assert [s.entry.name for s in panel.other_series] == ["fast"]
    assert [r.visible for r in window.document.session.compared] == [False, True]
    assert window.document.is_dirty


def test_compared_runs_are_saved_as_relative_references_and_open_again(window, qtbot, tmp_path):
    runs_dir = tmp_path / "runs"
    runs_dir.mkdir()
    slow = saved_run(runs_dir, 0.01, "slow")
    compare(qtbot, window, slow)
    window.runs.set_visible(1, False)
    colour = window.runs.entries[1].colour
    target = tmp_path / "mine.bpl.json"
    assert window.save_to(target)
    assert '"path": "runs/slow.bpl.json"' in target.read_text(encoding="utf-8")
    again = make_window(qtbot, target)
    qtbot.waitUntil(lambda: not again.runs.is_loading, timeout=WAIT)
    (ref,) = again.runs.entries[1:]
    assert (ref.name, ref.colour, ref.visible, ref.path) == ("slow", colour, False, str(slow))
    assert ref.history is not None and len(ref.history) == 27 and not again.document.is_dirty


def test_a_compared_run_whose_file_has_gone_stays_named_and_is_not_dropped(window, qtbot, tmp_path):
    gone = saved_run(tmp_path, 0.01, "gone")
    compare(qtbot, window, gone)
    target = tmp_path / "mine.bpl.json"
    assert window.save_to(target)
    gone.unlink()
    again = make_window(qtbot, target)
    qtbot.waitUntil(lambda: not again.runs.is_loading, timeout=WAIT)
    (entry,) = again.runs.entries[1:]
    assert entry.problem == f"run 'gone': {gone} has gone (moved or deleted)"
    assert again.statusBar().currentMessage() == entry.problem
    index = again.runs.index(1)
    assert again.runs.data(index) == "gone (gone)"
    assert not again.runs.flags(index) & Qt.ItemFlag.ItemIsEnabled
    assert again.plot_panel.other_series == []
    assert again.save_to(target)  # kept: the user decides whether to remove it
    assert [r.path for r in load_session(target).compared] == [str(gone)]


def test_files_that_cannot_be_compared_are_named_in_one_warning(window, qtbot, tmp_path, dialogs):
    bad = tmp_path / "notes.bpl.json"
    bad.write_text("not json", encoding="utf-8")
    good = saved_run(tmp_path, 0.1, "good")
    compare(qtbot, window, bad, good, good)
    assert names(window) == [CURRENT_NAME, "good"]
    ((kind, title, text),) = dialogs.messages
    assert (kind, title) == ("warning", "Cannot compare runs") and str(bad) in text and "\n" not in text
    assert window.runs.add_files([good]) is None  # compared already: nothing to read


def test_remove_forgets_the_selected_compared_runs_only(window, qtbot, tmp_path):
    a, b = saved_run(tmp_path, 0.01, "a"), saved_run(tmp_path, 0.1, "b")
    compare(qtbot, window, a, b)
    panel = window.runs_panel
    model = window.runs
    selection = panel.list.selectionModel()
    for row in (0, 1):
        selection.select(model.index(row), selection.SelectionFlag.Select)
    assert panel.remove_button.isEnabled()
    panel.remove_button.click()
    assert names(window) == [CURRENT_NAME, "b"]
    assert [r.name for r in window.document.session.compared] == ["b"]
    assert [s.entry.name for s in window.plot_panel.other_series] == ["b"]


def test_a_sweeps_results_join_the_list_through_add_runs(window, tmp_path):
    paths = [saved_run(tmp_path, lr, f"lr={lr}") for lr in (0.01, 0.1)]
    added = window.runs.add_runs([load_run(p, kind="sweep") for p in paths])
    assert [e.kind for e in added] == ["sweep", "sweep"]
    assert names(window)[1:] == ["lr=0.01", "lr=0.1"]
    assert window.runs.add_runs([load_run(paths[0], kind="sweep")]) == []  # once only
    assert [r.path for r in window.document.session.compared] == [str(p) for p in paths]


@pytest.mark.parametrize("delay_ms", [0, 20, 50])
def test_a_session_replaced_while_files_are_read_does_not_get_them(window, qtbot, tmp_path, delay_ms):
    late = saved_run(tmp_path, 0.01, "late")
    with qtbot.waitSignal(window.runs.loaded, timeout=WAIT):
        window.runs.add_files([late])
        qtbot.wait(delay_ms)  # a deliberate gap between the two events, not a synchronisation
        window.document.replace_session(Session.random(3, 2), None)
    assert names(window) == [CURRENT_NAME] and window.document.session.compared == []


# ------------------------------------------------------------------------------------- drops


def _mime(*paths: Path) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    return mime


def _drag_enter(*args) -> QDragEnterEvent:
    with warnings.catch_warnings():  # (see test_sessions_window: the QPoint constructor)
        warnings.simplefilter("ignore", DeprecationWarning)
        return QDragEnterEvent(*args)


def test_ctrl_drop_of_several_files_compares_them(window, qtbot, tmp_path):
    a, b = saved_run(tmp_path, 0.01, "a"), saved_run(tmp_path, 0.1, "b")
    two = _mime(a, b)  # the events do not own their mime data: keep it alive
    copy = (Qt.DropAction.CopyAction,)
    ctrl = (Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier)
    plain = (Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    refused = _drag_enter(QPoint(50, 50), *copy, two, *plain)
    refused.ignore()
    QApplication.sendEvent(window, refused)
    assert not refused.isAccepted()  # several files without Ctrl: not to open
    enter = _drag_enter(QPoint(50, 50), *copy, two, *ctrl)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(50, 50), *copy, two, *ctrl)
    with qtbot.waitSignal(window.runs.loaded, timeout=WAIT):
        QApplication.sendEvent(window, drop)
    assert drop.isAccepted()
    assert names(window) == [CURRENT_NAME, "a", "b"]
    assert window.document.path is None  # nothing was opened


def test_segments_of_a_session_and_its_compared_runs_share_the_engine_segments():
    s = trained(0.01, "one")
    assert s.segments == [Segment(1, s.training)]
    assert spans(s.segments, s.training) == [(0, 60, 7)]
    assert spans([], s.training) == [(0, 60, 7)]


def test_a_ticked_run_still_training_follows_the_history(window):
    doc, panel = window.document, window.plot_panel
    doc.replace_session(trained(0.05, "first"), None)
    trainer = doc.session.make_trainer(
        TrainingSettings(learning_rate=0.2, batch_size=7, n_samples=60, epochs=2)
    )
    steps = trainer.steps()
    doc.append_history(islice(steps, 3))  # the second run's first batch: it becomes a run of its own
    assert names(window)[1:] == ["Run 1 (lr 0.05, batch 7)", "Run 2 (lr 0.2, batch 7)"]
    window.runs.set_visible(2, True)
    panel.refresh()
    assert [len(s.x) for s in panel.other_series] == [3]
    doc.append_history(islice(steps, 4))
    panel.refresh()
    (segment,) = panel.other_series
    np.testing.assert_array_equal(segment.x, np.arange(1, 8))
    np.testing.assert_array_equal(segment.raw, np.frombuffer(doc.history.column("loss_at_x"))[27:])


def test_hovering_names_the_run_under_the_pointer(window, qtbot, tmp_path):
    doc, panel = window.document, window.plot_panel
    doc.replace_session(trained(0.05, "mine"), None)
    compare(qtbot, window, saved_run(tmp_path, 0.2, "fast"))
    panel.log_y.setChecked(False)
    panel.refresh()
    vb = panel.plot.getPlotItem().getViewBox()
    (fast,) = panel.other_series
    for name, y in ((CURRENT_NAME, panel.curves["loss_at_x"].yData[19]), ("fast", fast.smooth[19])):
        panel._on_scene_mouse_moved(vb.mapViewToScene(QPointF(20, float(y))))
        assert panel.readout.text().startswith(f"{name}: step 20 (epoch 3) · loss at x ")
        assert panel.hover_line.isVisible() and panel.hover_line.value() == pytest.approx(20)
