"""The window driven as a user drives it: edit, refuse, undo, train, pause, step, stop, close, diverge."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QAbstractSpinBox,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QStatusBar,
    QTableView,
)

from backprop_lab.engine.resources import load_report_example_data
from backprop_lab.gui.exact_spin_box import ExactSpinBox
from backprop_lab.gui.layout import screen_key
from backprop_lab.gui.main_window import MainWindow

WAIT = 60_000  # a deadline, not a target: generous for a loaded 2-core machine


def table(window, name: str) -> QTableView:
    view = window.findChild(QTableView, name)
    assert view is not None, name
    return view


def type_into_cell(qtbot, view: QTableView, row: int, col: int, text: str) -> None:
    """Click a cell, start editing with F2, replace the text and press Enter, as a user would."""
    index = view.model().index(row, col)
    view.setFocus()
    view.setCurrentIndex(index)
    qtbot.keyClick(view, Qt.Key.Key_F2)
    editors = view.viewport().findChildren(QLineEdit)
    assert editors, "no cell editor opened"
    editor = editors[-1]
    editor.selectAll()
    qtbot.keyClick(editor, Qt.Key.Key_Backspace)
    qtbot.keyClicks(editor, text)
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    # The delegate commits through a queued call.
    qtbot.waitUntil(lambda: view.state() != QAbstractItemView.State.EditingState, timeout=WAIT)


def set_training(window, **values) -> None:
    for name, value in values.items():
        spin = window.findChild(QAbstractSpinBox, name)
        spin.setValue(value)


def button(window, name: str) -> QPushButton:
    b = window.findChild(QPushButton, name)
    assert b is not None, name
    return b


def loss_text(window) -> str:
    return window.findChild(QLabel, "lossValue").text()


def test_required_object_names_exist(window):
    for name in ("matrixX", "matrixA", "matrixB", "matrixC", "gradA", "gradB", "gradC"):
        assert isinstance(window.findChild(QTableView, name), QTableView), name
    assert window.findChild(QLabel, "lossValue") is not None
    for name in ("learningRate", "batchSize", "nSamples", "epochs", "seed"):
        assert isinstance(window.findChild(ExactSpinBox, name), ExactSpinBox), name
    for name in ("startButton", "pauseButton", "stopButton", "stepButton"):
        button(window, name)
    assert window.findChild(QProgressBar, "trainingProgress") is not None
    import pyqtgraph as pg

    assert isinstance(window.findChild(pg.PlotWidget, "trainingPlot"), pg.PlotWidget)


def test_opens_on_the_report_example_with_its_loss_and_gradients(window):
    data = load_report_example_data()
    assert float(loss_text(window)) == pytest.approx(data["expected"]["loss"], abs=1e-4)
    grad_a = table(window, "gradA").model()
    for i in range(3):
        for j in range(3):
            text = grad_a.data(grad_a.index(i, j), Qt.ItemDataRole.DisplayRole)
            assert float(text) == pytest.approx(data["expected"]["grad_A"][i][j], abs=1e-4)
            assert len(text.split(".")[1]) >= 4


def test_editing_a_cell_updates_loss_and_gradients_at_once_and_undo_restores(window, qtbot):
    before_loss = loss_text(window)
    grad = table(window, "gradC").model()
    before_grad = grad.data(grad.index(0, 0))
    type_into_cell(qtbot, table(window, "matrixA"), 0, 0, "1.5")
    assert window.document.model.A[0][0] == 1.5
    assert loss_text(window) != before_loss
    assert grad.data(grad.index(0, 0)) != before_grad
    # Ctrl+Z in the window undoes the edit.
    qtbot.keyClick(table(window, "matrixA"), Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert loss_text(window) == before_loss
    assert window.document.model.A[0][0] == load_report_example_data()["model"]["A"][0][0]
    qtbot.keyClick(
        table(window, "matrixA"),
        Qt.Key.Key_Z,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    assert window.document.model.A[0][0] == 1.5


@pytest.mark.parametrize("bad", ["abc", "nan", "inf", "-inf", "1e999", ""])
def test_bad_input_is_refused_with_visible_feedback_and_the_old_value_stays(window, qtbot, bad):
    view = table(window, "matrixB")
    old = window.document.model.B[1][2]
    loss = loss_text(window)
    type_into_cell(qtbot, view, 1, 2, bad)
    assert window.document.model.B[1][2] == old
    assert loss_text(window) == loss
    assert window.document.undo_stack.count() == 0
    message = window.findChild(QStatusBar).currentMessage()
    assert "B[1][2]" in message and "kept the old value" in message
    model = view.model()
    assert model.data(model.index(1, 2), Qt.ItemDataRole.BackgroundRole) is not None  # the red flash


def test_paste_randomize_k_change_and_reset_are_undoable(window, qtbot):
    doc = window.document
    view = table(window, "matrixC")
    view.setCurrentIndex(view.model().index(1, 1))
    assert view.paste_text("1\t2\n3\t4")
    assert doc.model.C[1][1:] == [1.0, 2.0] and doc.model.C[2][1:] == [3.0, 4.0]
    window.actions["randomize"].trigger()
    window.model_panel.k_spin.setValue(5)
    assert doc.K == 5 and table(window, "matrixA").model().rowCount() == 5
    resized = doc.model.copy()
    type_into_cell(qtbot, table(window, "matrixA"), 4, 4, "7")
    # A new K starts a new history: the resized model is the initial one now.
    window.actions["reset"].trigger()
    assert doc.model == resized
    assert doc.undo_stack.count() == 5
    for _ in range(5):
        window.actions["undo"].trigger()
    assert doc.model.C == load_report_example_data()["model"]["C"]


def test_geometry_is_remembered_in_qsettings(qtbot, _isolated_settings):
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    w.resize(640, 480)
    w.close()
    assert QSettings().value(f"{screen_key(w)}/geometry") is not None
    assert _isolated_settings.exists()
    w2 = MainWindow()
    qtbot.addWidget(w2)
    assert (w2.width(), w2.height()) == (640, 480)


def wait_state(qtbot, window, state: str) -> None:
    qtbot.waitUntil(lambda: window.document.training_state == state, timeout=WAIT)


def test_run_to_the_end_appends_history_and_shows_the_trained_weights(window, qtbot):
    set_training(window, nSamples=200, batchSize=10, epochs=2)
    initial_loss = float(loss_text(window))
    button(window, "startButton").click()
    wait_state(qtbot, window, "idle")
    doc = window.document
    assert len(doc.history) == 40
    assert window.controller.last_loop_thread_idents  # the loop ran
    assert float(loss_text(window)) < initial_loss
    assert float(loss_text(window)) == pytest.approx(doc.history.column("loss_at_x")[-1], abs=1e-4)
    bar = window.findChild(QProgressBar, "trainingProgress")
    assert bar.value() == bar.maximum() and bar.format() == "40 / 40 steps"
    assert window.findChild(QLabel, "trainingRate").text() == ""  # a rate and ETA only while a run exists
    # A second run continues the history; undo takes exactly that run back.
    button(window, "startButton").click()
    wait_state(qtbot, window, "idle")
    assert len(doc.history) == 80 and doc.history.last_epoch == 4
    window.actions["undo"].trigger()
    assert len(doc.history) == 40


def test_pause_resume_step_and_stop(window, qtbot):
    doc = window.document
    set_training(window, nSamples=1000, batchSize=1, epochs=1000)  # far longer than the test
    button(window, "startButton").click()
    qtbot.waitUntil(lambda: len(doc.history) > 0, timeout=WAIT)
    assert not button(window, "stepButton").isEnabled()
    # While training the editors are read-only.
    a = table(window, "matrixA").model()
    assert not a.flags(a.index(0, 0)) & Qt.ItemFlag.ItemIsEditable
    assert not a.setData(a.index(0, 0), "0.5")

    button(window, "pauseButton").click()
    wait_state(qtbot, window, "paused")
    assert button(window, "pauseButton").text() == "Resume"
    qtbot.waitUntil(lambda: doc.model.A != load_report_example_data()["model"]["A"], timeout=WAIT)
    paused_at = len(doc.history)
    # The editors and gradients show the run's current weights.
    assert float(loss_text(window)) == pytest.approx(doc.history.column("loss_at_x")[-1], abs=1e-4)

    button(window, "stepButton").click()
    qtbot.waitUntil(lambda: len(doc.history) == paused_at + 1, timeout=WAIT)
    qtbot.waitUntil(lambda: window.controller._since is None, timeout=WAIT)  # paused again after one step
    assert len(doc.history) == paused_at + 1

    button(window, "pauseButton").click()  # resume
    wait_state(qtbot, window, "running")
    qtbot.waitUntil(lambda: len(doc.history) > paused_at + 50, timeout=WAIT)
    button(window, "stopButton").click()
    wait_state(qtbot, window, "idle")
    assert "stopped" in window.findChild(QStatusBar).currentMessage()
    assert a.flags(a.index(0, 0)) & Qt.ItemFlag.ItemIsEditable
    assert doc.undo_stack.count() == 1


def test_step_from_idle_takes_exactly_one_mini_batch(window, qtbot):
    doc = window.document
    button(window, "stepButton").click()
    qtbot.waitUntil(lambda: len(doc.history) == 1, timeout=WAIT)
    wait_state(qtbot, window, "paused")
    assert doc.history[0].step == 1
    button(window, "stepButton").click()
    qtbot.waitUntil(lambda: len(doc.history) == 2, timeout=WAIT)
    button(window, "stopButton").click()
    wait_state(qtbot, window, "idle")
    assert len(doc.history) == 2


def test_closing_mid_run_stops_the_worker_before_close_returns(qtbot):
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    set_training(w, nSamples=1000, batchSize=1, epochs=1000)
    button(w, "startButton").click()
    qtbot.waitUntil(lambda: len(w.document.history) > 10, timeout=WAIT)
    thread = w.controller._thread
    assert w.close()
    assert not w.controller.is_active
    try:
        assert thread.isFinished()
    except RuntimeError:  # already deleted: finished
        pass
    assert w.document.training_state == "idle"


def test_a_diverging_run_stops_with_a_message_that_says_what_to_try(window, qtbot, dialogs):
    set_training(window, learningRate=100.0, nSamples=100, batchSize=10, epochs=5)
    button(window, "startButton").click()
    wait_state(qtbot, window, "idle")
    doc = window.document
    assert doc.session.divergence is not None
    assert len(doc.history) < 50
    kind, title, text = dialogs.messages[-1]
    assert kind == "warning" and "diverged" in title.lower()
    assert "learning rate" in text and "lower" in text
    # The window shows the last finite weights and stays usable.
    assert loss_text(window) != "—" or doc.evaluation.error
    type_into_cell(qtbot, table(window, "matrixX"), 0, 0, "0.5")
    assert doc.model.x[0] == 0.5


def test_an_exception_in_the_worker_reaches_the_user_and_the_window_stays_usable(
    window, qtbot, dialogs, monkeypatch
):
    from backprop_lab.engine.training import Trainer

    def broken_steps(self):
        yield from ()
        raise RuntimeError("simulated failure in the trainer")

    monkeypatch.setattr(Trainer, "steps", broken_steps)
    button(window, "startButton").click()
    wait_state(qtbot, window, "idle")
    kind, title, text = dialogs.messages[-1]
    assert kind == "warning" and "failed" in title.lower()
    assert "simulated failure" in text
    assert button(window, "startButton").isEnabled()
    type_into_cell(qtbot, table(window, "matrixA"), 2, 2, "0.25")
    assert window.document.model.A[2][2] == 0.25


def test_fewer_samples_than_the_batch_size_shrink_the_batch(window):
    set_training(window, batchSize=10, nSamples=4)
    assert window.document.training_settings.n_samples == 4
    assert window.document.training_settings.batch_size == 4
    assert window.findChild(QAbstractSpinBox, "batchSize").value() == 4


def test_settings_are_read_only_during_a_run_and_the_run_uses_them(window, qtbot):
    set_training(window, nSamples=1000, batchSize=1, epochs=1000)
    button(window, "startButton").click()
    assert not window.findChild(QAbstractSpinBox, "learningRate").isEnabled()
    bar = window.findChild(QProgressBar, "trainingProgress")
    assert bar.format().endswith("1,000,000 steps")
    button(window, "stopButton").click()
    wait_state(qtbot, window, "idle")
    assert window.findChild(QAbstractSpinBox, "learningRate").isEnabled()


def test_the_plot_follows_the_history(window, qtbot):
    set_training(window, nSamples=300, batchSize=10, epochs=3)
    button(window, "startButton").click()
    wait_state(qtbot, window, "idle")
    plot = window.plot_panel
    qtbot.waitUntil(lambda: plot.point_count == 90, timeout=WAIT)
    x, _ = plot.curves["loss"].getData()
    assert len(x) > 0 and x[-1] == 90
    assert len(plot.epoch_lines) == 2
    window.actions["undo"].trigger()
    qtbot.waitUntil(lambda: plot.point_count == 0, timeout=WAIT)
