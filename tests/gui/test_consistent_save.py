"""What Save, a recovery copy and a report write during a run belongs to the history (issue 11, item 2).

The pause is marked at once but the worker finishes its step a moment later; a Save in that moment
used to pair thousands of new history steps with the weights from before the run. Each race is run
with the two key presses 0, 1, 5, 20 and 50 ms apart, 20 times each, on a short K = 3 run, and the
file written must reproduce the history's last record: its model's loss at x equals the last
``loss_at_x`` (within 1e-12, relative).
"""

from __future__ import annotations

import json
import math

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from backprop_lab.engine.model import forward
from backprop_lab.engine.session import Session, load_session
from backprop_lab.engine.training import TrainingSettings
from backprop_lab.gui.main_window import MainWindow

pytestmark = pytest.mark.reliability("consistent-saves")

WAIT = 30_000  # generous: a loaded 2-core machine
DELAYS_MS = [0, 1, 5, 20, 50]
REPEATS = 20
#: Far longer than a test: the run is paused, stepped and stopped, never finished.
LONG_RUN = TrainingSettings(learning_rate=0.01, batch_size=1, n_samples=1000, epochs=1000, seed=3)


@pytest.fixture
def win(qtbot, tmp_path):
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow, timeout=WAIT)
    yield w
    w.controller.shutdown(timeout_ms=WAIT)
    qtbot.waitUntil(lambda: w.document.training_state == "idle", timeout=WAIT)
    w.document.mark_clean()


def fresh_session(window, path) -> None:
    """The report example with a long run's settings, saved as ``path`` (Ctrl+S then writes there)."""
    s = Session.report_example()
    s.training = LONG_RUN
    window.document.replace_session(s, None)
    assert window.files.save_to(path)


def press(window, key, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    QTest.keyClick(window, key, modifier)


def assert_belongs_to_its_history(path) -> int:
    """The file's model reproduces its history's last record; the number of history steps."""
    session = load_session(path)
    history = session.history
    assert len(history) > 0
    m = session.model
    loss = forward(m.x, m.A, m.B, m.C)["loss"]
    last = history[len(history) - 1].loss_at_x
    assert math.isclose(loss, last, rel_tol=1e-12), (
        f"the saved weights give a loss at x of {loss!r}; the history's last step ends at {last!r} "
        f"({len(history)} steps)"
    )
    return len(history)


def start_and_run_a_little(window, qtbot) -> None:
    press(window, Qt.Key.Key_F5)
    assert window.document.training_state == "running"
    # At least one batch taken in: the history has moved away from the shown (pre-run) weights.
    qtbot.waitUntil(lambda: len(window.document.history) > 0, timeout=WAIT)


def stop(window, qtbot) -> None:
    press(window, Qt.Key.Key_F5, Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: window.document.training_state == "idle", timeout=WAIT)


@pytest.mark.slow
@pytest.mark.parametrize("delay_ms", DELAYS_MS)
def test_pause_then_save_writes_weights_of_the_last_step(win, qtbot, tmp_path, delay_ms):
    path = tmp_path / "s.bpl.json"
    for _ in range(REPEATS):
        fresh_session(win, path)
        start_and_run_a_little(win, qtbot)
        press(win, Qt.Key.Key_F6)
        assert win.document.training_state == "paused"
        qtbot.wait(delay_ms)
        press(win, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
        assert not win.document.is_dirty or len(win.document.history) > 0  # the save happened
        assert_belongs_to_its_history(path)
        stop(win, qtbot)


@pytest.mark.slow
@pytest.mark.parametrize("delay_ms", DELAYS_MS)
def test_step_then_save_writes_weights_of_the_last_step(win, qtbot, tmp_path, delay_ms):
    path = tmp_path / "s.bpl.json"
    fresh_session(win, path)
    before = win.document.model
    start_and_run_a_little(win, qtbot)
    press(win, Qt.Key.Key_F6)
    qtbot.waitUntil(lambda: win.document.model != before, timeout=WAIT)  # the pause's weights arrived
    first = len(win.document.history)
    for _ in range(REPEATS):
        press(win, Qt.Key.Key_F10)
        qtbot.wait(delay_ms)
        press(win, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
        assert_belongs_to_its_history(path)
    # Every step is taken in the end (at 0 ms apart they arrive after the last save).
    qtbot.waitUntil(lambda: len(win.document.history) == first + REPEATS, timeout=WAIT)
    press(win, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert assert_belongs_to_its_history(path) == first + REPEATS
    stop(win, qtbot)


@pytest.mark.slow
@pytest.mark.parametrize("delay_ms", DELAYS_MS)
def test_pause_then_a_recovery_copy_holds_weights_of_the_last_step(win, qtbot, tmp_path, delay_ms):
    path = tmp_path / "s.bpl.json"
    keeper = win.files.keeper
    for _ in range(REPEATS):
        fresh_session(win, path)
        start_and_run_a_little(win, qtbot)
        press(win, Qt.Key.Key_F6)
        qtbot.wait(delay_ms)
        keeper.recovery_timer.timeout.emit()  # the timer's slot, as when its 30 s run out
        assert keeper.recovery.written
        assert_belongs_to_its_history(keeper.recovery.session_path)
        stop(win, qtbot)


def test_a_report_exported_right_after_pause_is_of_the_last_step(win, qtbot, tmp_path, monkeypatch):
    from backprop_lab.gui import report_controller

    taken = []
    real = report_controller.export_in_background

    def export(context, session, *args):
        taken.append(session.copy())
        return real(context, session, *args)

    monkeypatch.setattr(report_controller, "export_in_background", export)
    win.reports.torch = False
    fresh_session(win, tmp_path / "s.bpl.json")
    start_and_run_a_little(win, qtbot)
    press(win, Qt.Key.Key_F6)
    with qtbot.waitSignal(win.reports.reportExported, timeout=WAIT * 4):
        assert win.reports.export_to(tmp_path / "report")
    out = tmp_path / "taken.bpl.json"
    from backprop_lab.engine.session import save_session

    save_session(taken[0], out)
    assert_belongs_to_its_history(out)
    stop(win, qtbot)


def test_a_run_that_starts_with_unsaved_edits_writes_a_recovery_copy_first(win, qtbot, tmp_path):
    fresh_session(win, tmp_path / "s.bpl.json")
    assert not win.files.keeper.recovery.written
    win.document.set_entry("A", 0, 0, 0.125)  # the edit made just before a long run
    press(win, Qt.Key.Key_F5)
    assert win.document.training_state == "running"
    assert win.files.keeper.recovery.written  # before the run's first step was taken in
    copy = json.loads(win.files.keeper.recovery.session_path.read_text(encoding="utf-8"))
    assert copy["model"]["A"][0][0] == 0.125
    assert copy["history"]["loss_at_x"] == []  # the session as edited, before any step
    stop(win, qtbot)


def test_a_run_without_unsaved_edits_writes_no_copy(win, qtbot, tmp_path):
    fresh_session(win, tmp_path / "s.bpl.json")
    press(win, Qt.Key.Key_F5)
    assert win.document.training_state == "running"
    assert not win.files.keeper.recovery.written
    stop(win, qtbot)
