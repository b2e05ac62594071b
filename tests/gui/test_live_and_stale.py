"""Issue 13, items 2 and 3: the window follows a run live, and never shows a stale number as current.

Everything is driven through objectNames, the document and signals; waits are on conditions with
generous deadlines (a loaded 2-core machine), never sleeps. The live showing's pace is tested with
a stand-in clock, not the wall clock.
"""

from __future__ import annotations

import re
from dataclasses import replace
from types import SimpleNamespace

import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication, QLabel, QProgressBar, QPushButton

from backprop_lab.engine.evaluation import evaluate
from backprop_lab.engine.formatting import format_number
from backprop_lab.engine.session import Session, save_session
from backprop_lab.engine.training import TrainingSettings
from backprop_lab.gui import live_pace
from backprop_lab.gui.document import Document
from backprop_lab.gui.line_search_panel import LIVE_MAX_COST
from backprop_lab.gui.main_window import READY_EXAMPLE, MainWindow
from backprop_lab.gui.plot_panel import EMPTY_STEPS
from backprop_lab.gui.verification_models import error_color
from backprop_lab.gui.worker import history_chunk

WAIT = 60_000  # a deadline, not a target
BACKGROUND, TOOLTIP = Qt.ItemDataRole.BackgroundRole, Qt.ItemDataRole.ToolTipRole
#: A run far longer than any test: it is always stopped.
LONG = TrainingSettings(learning_rate=0.001, batch_size=1, n_samples=1000, epochs=1000, seed=0)
SHORT = TrainingSettings(learning_rate=0.01, batch_size=10, n_samples=200, epochs=2, seed=0)


def label(window, name: str) -> QLabel:
    found = window.findChild(QLabel, name)
    assert found is not None, name
    return found


def click(window, name: str) -> None:
    found = window.findChild(QPushButton, name)
    assert found is not None, name
    found.click()


def status(window) -> str:
    return label(window, "verificationStatus").text()


def start_long_run(window, qtbot, settings: TrainingSettings = LONG) -> None:
    window.document.set_training_settings(settings)
    click(window, "startButton")
    qtbot.waitUntil(lambda: (window.document.live_step or 0) > 0, timeout=WAIT)


def stop(window, qtbot) -> None:
    click(window, "stopButton")
    qtbot.waitUntil(lambda: window.document.training_state == "idle", timeout=WAIT)


def wait_checked(window, qtbot) -> None:
    qtbot.waitUntil(window.verify.verification.is_current, timeout=WAIT)


@pytest.fixture
def win(window):
    yield window
    window.controller.shutdown(20_000)
    window.document.mark_clean()  # closing asks nothing
    assert window.verify.verification.shutdown(20_000)


# --------------------------------------------------------------------------- live during a run


def test_a_run_shows_its_current_weights_marked_live_with_their_step(win, qtbot):
    doc = win.document
    before = doc.model
    start_long_run(win, qtbot)
    first = doc.live_step
    # Read in one go on the GUI thread: no batch is taken in between these lines.
    step, model, ev = doc.live_step, doc.model, doc.evaluation
    assert model != before
    assert label(win, "gradientsLive").text() == f"live (step {step:,})"
    # The weights shown are those after step n: the history's loss at x for that step is theirs.
    assert ev.loss == pytest.approx(doc.history.column("loss_at_x")[step - 1], rel=1e-12)
    assert ev.loss == evaluate(model).loss
    assert label(win, "lossValue").text() == format_number(ev.loss, "cell")
    for name in ("A", "B", "C"):
        table = win.gradients_panel.models[name]
        assert table.value(1, 2) == ev.grads[name][1][2]
    assert win.gradients_panel.intermediates_model.value(0, 0) is not None
    # It keeps following the run.
    qtbot.waitUntil(lambda: doc.live_step > first, timeout=WAIT)
    assert label(win, "gradientsLive").text().startswith("live (step ")
    stop(win, qtbot)
    assert doc.live_step is None and label(win, "gradientsLive").text() == ""
    last = doc.history.column("loss_at_x")[-1]
    assert doc.evaluation.loss == pytest.approx(last, rel=1e-12)  # the end's weights are shown


def test_pause_marks_the_numbers_paused_at_their_step(win, qtbot):
    doc = win.document
    start_long_run(win, qtbot)
    click(win, "pauseButton")
    qtbot.waitUntil(lambda: doc.live_step == len(doc.history), timeout=WAIT)  # the pause's weights
    assert label(win, "gradientsLive").text() == f"paused (step {len(doc.history):,})"
    assert doc.evaluation.loss == pytest.approx(doc.history.column("loss_at_x")[-1], rel=1e-12)
    stop(win, qtbot)


@pytest.fixture
def clock(monkeypatch):
    """A stand-in for time.monotonic in gui.live_pace (binary fractions: exact sums)."""
    now = [1000.0]
    monkeypatch.setattr(live_pace, "time", SimpleNamespace(monotonic=lambda: now[0]))
    monkeypatch.setattr(live_pace, "LIVE_INTERVAL_S", 0.125)
    return now


def test_live_showings_are_at_least_the_interval_apart(qtbot, clock):
    pace = live_pace.LivePace()
    assert pace.due()  # the first batch of a run is shown at once
    pace.shown()
    clock[0] += 0.0625
    assert not pace.due()
    clock[0] += 0.0625
    assert pace.due()


@pytest.mark.parametrize(
    ("cost", "interval"),
    [(0.0, 0.125), (0.0625, 0.0625 * live_pace.LIVE_BUDGET), (live_pace.LIVE_MAX_INTERVAL_S, 1.0)],
)
def test_costly_showings_are_spaced_to_their_budget(qtbot, clock, cost, interval):
    """The pace is the showing's cost (to the end of its repaints) times LIVE_BUDGET, within bounds."""
    assert 0.125 < 0.0625 * live_pace.LIVE_BUDGET < live_pace.LIVE_MAX_INTERVAL_S == 1.0
    pace = live_pace.LivePace()
    with qtbot.waitSignal(pace.paced, timeout=WAIT) as blocker:
        pace.shown()
        clock[0] += cost  # what the repaints took, on the stand-in clock
    assert blocker.args[0] == pytest.approx(interval) and pace.interval == pytest.approx(interval)
    pace.restart()
    assert pace.interval == 0.125 and pace.due()


def test_weights_not_shown_yet_are_shown_before_a_save(qtbot):
    """Batches taken in without a showing: a save shows the last batch's weights and their step first."""
    doc = Document(Session.report_example())
    doc.set_training_settings(LONG)
    trainer = doc.begin_training_run()
    doc.set_training_state("running")
    steps = trainer.steps()
    for _batch in range(3):
        records = [next(steps) for _ in range(5)]
        doc.append_history(records, history_chunk(records), trainer.weights())
    assert doc.live_step == 0 and doc.model == doc.session.initial  # nothing shown yet
    saved = doc.consistent_session()
    assert evaluate(saved.model).loss == pytest.approx(doc.history.column("loss_at_x")[-1], rel=1e-12)
    assert doc.live_step == 15
    assert live_pace.live_text(doc.live_step, doc.training_state) == "live (step 15)"
    doc.finish_training_run(trainer, "Train")
    doc.set_training_state("idle")
    assert doc.live_step is None and live_pace.live_text(doc.live_step, doc.training_state) == ""


def test_the_chain_rule_follows_the_run(win, qtbot):
    win.verify.chain_rule.show_entry("A", 0, 1)
    start_long_run(win, qtbot)
    qtbot.waitUntil(lambda: win.verify.chain_rule.derivation is not None, timeout=WAIT)
    d, ev = win.verify.chain_rule.derivation, win.document.evaluation
    assert d.engine_value == ev.grads["A"][0][1]
    stop(win, qtbot)


def test_loss_along_gradient_follows_a_cheap_run(win, qtbot):
    panel = win.verify.line_search
    win.verify.show_line_search()
    assert win.document.K**2 <= LIVE_MAX_COST
    start_long_run(win, qtbot)
    qtbot.waitUntil(lambda: "live (step" in panel.verdict_label.text(), timeout=WAIT)
    assert panel.line.loss0 == pytest.approx(win.document.evaluation.loss, rel=1e-12)
    stop(win, qtbot)


def test_loss_along_gradient_is_out_of_date_during_a_costly_run_and_redrawn_after(win, qtbot):
    panel = win.verify.line_search
    win.document.set_model(Session.random(16, 2).model)
    win.verify.show_line_search()
    qtbot.waitUntil(lambda: panel.line is not None and not panel._stale, timeout=WAIT)
    assert not panel.follows_live()
    start_long_run(win, qtbot, replace(LONG, learning_rate=1e-6))
    qtbot.waitUntil(lambda: "Out of date" in panel.verdict_label.text(), timeout=WAIT)
    stop(win, qtbot)
    qtbot.waitUntil(lambda: "Out of date" not in panel.verdict_label.text(), timeout=WAIT)
    assert panel.line.loss0 == pytest.approx(win.document.evaluation.loss, rel=1e-12)


# --------------------------------------------------------------------------- verification


def test_verification_is_out_of_date_from_the_instant_the_model_changes(win, qtbot):
    panel = win.verify.verification
    wait_checked(win, qtbot)
    assert "PASS" in status(win)
    win.model_panel.k_spin.setValue(16)  # too big for an automatic check
    text = status(win)
    assert "Out of date" in text and "PASS" not in text and "FAIL" not in text
    # The verdict's colours are greyed: no green or red cell left for an earlier model.
    heat = panel.heat_models["A"]
    colour = heat.data(heat.index(0, 0), BACKGROUND).color()
    assert colour.red() == colour.green() == colour.blue()
    assert heat.data(heat.index(0, 0), TOOLTIP).startswith("Out of date")
    entries = panel.entries_model
    verdict = entries.data(entries.index(0, 1), BACKGROUND).color()
    assert verdict.red() == verdict.green() == verdict.blue()
    with qtbot.waitSignal(panel.checkFinished, timeout=WAIT):
        win.verify.actions["verify_now"].trigger()
    assert "PASS" in status(win) and not heat.stale
    entry = panel.results.fd.by_matrix("A")[0][0]
    assert heat.data(heat.index(0, 0), BACKGROUND).color() == error_color(entry.rel_error, entry.passed)


def test_verification_during_a_run_is_out_of_date_and_checked_again_after(win, qtbot):
    panel = win.verify.verification
    wait_checked(win, qtbot)
    start_long_run(win, qtbot)
    text = status(win)
    assert "Out of date" in text and "live (step" in text and "PASS" not in text
    assert not panel.is_busy  # no check of weights that change ten times a second
    stop(win, qtbot)
    wait_checked(win, qtbot)
    assert "PASS" in status(win) and panel.results.model == win.document.model


def test_a_cancelled_check_leaves_no_verdict_for_the_new_model(win, qtbot):
    panel = win.verify.verification
    wait_checked(win, qtbot)
    panel.live_box.setChecked(False)
    win.document.set_model(Session.random(12, 4).model)
    panel.check_now()
    assert "PASS" not in status(win) and "Checking" in status(win)
    panel.cancel_button.click()
    assert "Out of date" in status(win) and "PASS" not in status(win)


# --------------------------------------------------------------------------- progress, plot, status bar


def progress_text(window) -> tuple[str, str]:
    bar = window.findChild(QProgressBar, "trainingProgress")
    return bar.format(), label(window, "trainingRate").text()


def hover(plot, step: int) -> None:
    """The mouse over ``step`` of the plot, as a real move event (offscreen has no cursor)."""
    view = plot.plot.getPlotItem().getViewBox()
    at = plot.plot.mapFromScene(view.mapViewToScene(QPointF(step, view.viewRange()[1][0])))
    move = QMouseEvent(
        QEvent.Type.MouseMove,
        QPointF(at),
        QPointF(plot.plot.viewport().mapToGlobal(at)),
        Qt.MouseButton.NoButton,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(plot.plot.viewport(), move)


def run_to_the_end(window, qtbot) -> None:
    window.document.set_training_settings(SHORT)
    click(window, "startButton")
    qtbot.waitUntil(lambda: window.document.training_state == "idle", timeout=WAIT)


def test_rate_and_eta_show_during_a_run_and_go_with_stop(win, qtbot):
    start_long_run(win, qtbot)
    # A measured rate and time left ("— steps/s · ETA —" until the first batches are timed).
    qtbot.waitUntil(lambda: bool(re.match(r"[\d,]+ steps/s · ETA \d", progress_text(win)[1])), timeout=WAIT)
    stop(win, qtbot)
    done = len(win.document.history)
    assert progress_text(win) == (f"{done:,} / {LONG.total_steps:,} steps", "")


@pytest.mark.parametrize(
    "change",
    [
        lambda w: w.model_panel.k_spin.setValue(5),
        lambda w: w.model_panel.reset_to_initial(),
        lambda w: w.model_panel.load_report_example(),
        lambda w: w.model_panel.randomize(),
        lambda w: w.document.replace_session(Session.random(32, 1), None),
        lambda w: w.actions["undo"].trigger(),
    ],
    ids=["K change", "reset", "report example", "randomize", "new or open", "undo"],
)
def test_replacing_the_model_or_history_resets_progress_and_plot(win, qtbot, change):
    doc = win.document
    doc.set_model(Session.random(3, 9).model)  # so that the report example is a change too
    run_to_the_end(win, qtbot)
    assert progress_text(win) == (f"{SHORT.total_steps} / {SHORT.total_steps} steps", "")
    plot = win.plot_panel
    view = plot.plot.getPlotItem().getViewBox()
    hover(plot, 10)
    assert plot.readout.text().startswith("step 10")
    change(win)
    total = doc.training_settings.total_steps
    assert progress_text(win) == (f"0 / {total:,} steps", "")
    if len(doc.history) == 0:  # the history was cleared or replaced: the plot starts over
        plot.refresh()
        assert plot.readout.text() == "" and not plot.hover_line.isVisible()
        x_range, _ = view.viewRange()
        assert x_range == pytest.approx(list(EMPTY_STEPS))


def test_status_bar_names_the_report_example_only_while_it_is_shown(win, qtbot, tmp_path):
    bar = win.statusBar()
    assert bar.currentMessage() == READY_EXAMPLE
    win.document.replace_session(Session.random(32, 1), None)
    assert "worked example" not in bar.currentMessage()
    path = tmp_path / "k32.bpl.json"
    save_session(Session.random(32, 1), path)
    other = MainWindow(path)
    qtbot.addWidget(other)
    assert "worked example" not in other.statusBar().currentMessage()
    assert other.statusBar().currentMessage() == "Opened k32.bpl.json (K = 32)"
    other.verify.verification.shutdown()


def test_an_edit_takes_the_welcome_away(win):
    win.document.set_entry("A", 0, 0, 2.5)
    assert win.statusBar().currentMessage() == ""


# --------------------------------------------------------------------------- races


def assert_nothing_stale_shown_as_current(window) -> None:
    """What the window shows right now is about the model on screen, or says it is not."""
    doc, panel = window.document, window.verify.verification
    text = status(window)
    if "PASS" in text or "FAIL" in text:
        assert panel.results is not None and panel.results.model == doc.model
    assert label(window, "lossValue").text() == format_number(evaluate(doc.model).loss, "cell")
    expected = live_pace.live_text(doc.live_step, doc.training_state)
    assert label(window, "gradientsLive").text() == expected
    if doc.training_state == "idle":
        assert expected == "" and progress_text(window)[1] == ""


@pytest.mark.parametrize("delay_ms", [0, 1, 5, 20, 50])
def test_start_pause_resume_stop_in_quick_succession(win, qtbot, delay_ms):
    """The commands 0–50 ms apart (a deliberate delay between presses): every moment consistent."""
    doc = win.document
    doc.set_training_settings(LONG)
    for button in ("startButton", "pauseButton", "pauseButton", "stopButton"):
        click(win, button)
        assert_nothing_stale_shown_as_current(win)
        qtbot.wait(delay_ms)
        assert_nothing_stale_shown_as_current(win)
    qtbot.waitUntil(lambda: doc.training_state == "idle", timeout=WAIT)
    assert_nothing_stale_shown_as_current(win)
    wait_checked(win, qtbot)  # checked again for the run's last weights
    assert "PASS" in status(win)
    win.model_panel.k_spin.setValue(4)  # and at once a K change
    assert_nothing_stale_shown_as_current(win)
    assert progress_text(win) == (f"0 / {LONG.total_steps:,} steps", "")
