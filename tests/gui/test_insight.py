"""Issue #6 "Seeing why": verification, chain rule, step through, loss along the gradient, in the window.

Every view on the report example and on a random K = 5 model; waits are on conditions and signals
with generous timeouts (a loaded 2-core machine), never sleeps.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QKeySequence
from PySide6.QtWidgets import QAbstractItemView, QDockWidget, QLineEdit, QMenu, QTableView

from backprop_lab.engine import gradcheck, torch_check
from backprop_lab.engine.gradcheck import DEFAULT_EPS
from backprop_lab.engine.model import MATRIX_NAMES
from backprop_lab.engine.session import Session
from backprop_lab.engine.step_phases import plan_step
from backprop_lab.engine.training import Trainer
from backprop_lab.gui import verification_panel, verify_controller
from backprop_lab.gui.chain_rule_panel import EXPAND_MAX_K
from backprop_lab.gui.document import Document
from backprop_lab.gui.verification_models import FAILED_COLOUR
from backprop_lab.gui.verification_panel import LIVE_MAX_K, SYNC_MAX_K, VerificationPanel

WAIT = 60_000
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def win(window):
    panel = window.verify.verification
    yield window
    assert panel.shutdown(20_000)
    assert running_jobs(panel) == 0


def running_jobs(panel: VerificationPanel) -> int:
    """The panel's checks whose worker thread may still run (its own JobGroup)."""
    return len(panel.jobs)


def ins(window) -> verify_controller.VerifyController:
    return window.verify


def load(window, model) -> None:
    window.document.set_model(model, "test model")


def wait_checked(qtbot, window) -> None:
    panel = ins(window).verification
    qtbot.waitUntil(panel.is_current, timeout=WAIT)


RANDOM5 = Session.random(5, 42).model


# --------------------------------------------------------------------------- install


def test_no_torch_import_at_start_up(tmp_path):
    """Building the window (with the verification views) never imports PyTorch."""
    code = (
        "import sys\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication(['t'])\n"
        "from backprop_lab.gui.main_window import MainWindow\n"
        "w = MainWindow(); w.show(); app.processEvents()\n"
        "assert w.verify.verification.results is not None\n"
        "print('torch' in sys.modules)\n"
        "w.close()\n"
    )
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path),
    }
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=True,
    )
    assert out.stdout.strip().splitlines()[-1] == "False", out.stdout + out.stderr


def test_install_adds_views_menus_and_shortcuts(win):
    i = ins(win)
    titles = [win.tabs.tabText(t) for t in range(win.tabs.count())]
    assert "Verification" in titles and "Loss along gradient" in titles
    dock = win.findChild(QDockWidget, "chainRuleDock")
    assert dock is not None and dock.widget() is i.chain_rule
    # Hidden until the first gradient cell is selected; then it opens by itself.
    assert dock.isHidden()
    grad = win.findChild(QTableView, "gradB")
    grad.setCurrentIndex(grad.model().index(0, 0))
    assert dock.isVisible()
    assert i.chain_rule.highlighter.highlighted()
    dock.close()
    assert not i.chain_rule.highlighter.highlighted()  # no outlines without the derivation
    grad.setCurrentIndex(grad.model().index(1, 1))
    assert dock.isHidden()  # the user closed it: it stays closed…
    i.actions["explain_entry"].trigger()
    assert dock.isVisible()  # …until asked for (F8)
    assert i.chain_rule.highlighter.highlighted()["B"] == {(1, 1)}
    menus = [a.text() for a in win.menuBar().actions()]
    assert menus.index("&Verify") == menus.index("&Help") - 1
    verify = win.findChild(QMenu, "menu_verify")
    names = {a.objectName() for a in verify.actions()}
    assert {
        "action_verify_now",
        "action_explain_entry",
        "action_step_through",
        "action_show_line_search",
    } <= names
    assert i.actions["verify_now"].shortcut() == QKeySequence("F7")
    assert i.actions["explain_entry"].shortcut() == QKeySequence("F8")
    assert i.actions["step_through"].shortcut() == QKeySequence("Shift+F10")
    assert i.actions["step_through"] in win.menus["training"].actions()
    assert dock.toggleViewAction() in win.menus["view"].actions()
    assert [win.tabs.tabText(t) for t in range(win.tabs.count())] == titles
    # Training disables the step-through (it would step under a running trainer).
    win.document.set_training_state("running")
    assert not i.actions["step_through"].isEnabled()
    win.document.set_training_state("idle")
    assert i.actions["step_through"].isEnabled()
    i.actions["show_verification"].trigger()
    assert win.tabs.currentWidget().widget() is i.verification
    i.actions["show_line_search"].trigger()
    assert win.tabs.currentWidget().widget() is i.line_search


# --------------------------------------------------------------------------- verification


def _check_table_against_document(panel, document):
    model = panel.entries_model
    k = document.K
    assert model.rowCount() == 3 * k * k
    grads = document.evaluation.grads
    for row in range(model.rowCount()):
        fd, _ = model.entry(row)
        assert fd.analytic == grads[fd.matrix][fd.i][fd.j]
        assert model.headerData(2, Qt.Orientation.Horizontal) == "Analytic"
        assert model.data(model.index(row, 2)) == f"{fd.analytic:.15g}"
        assert model.data(model.index(row, 1)) == ("✓" if fd.passed else "✗")


def test_verification_on_the_report_example(qtbot, win):
    panel = ins(win).verification
    wait_checked(qtbot, win)
    r = panel.results
    assert r.passed and r.fd.passed and len(r.fd.entries) == 27
    assert "PASS" in panel.status_label.text()
    _check_table_against_document(panel, win.document)
    # Heat maps: one K×K grid per matrix, coloured by error.
    for name in MATRIX_NAMES:
        hm = panel.heat_models[name]
        assert (hm.rowCount(), hm.columnCount()) == (3, 3)
        assert hm.error(1, 2) == r.fd.by_matrix(name)[1][2].rel_error
    # The eps sweep spans 1e-1 … 1e-12 on log-log axes, with the checker's eps marked.
    eps = [e for e, _ in r.sweep]
    assert max(eps) == pytest.approx(1e-1) and min(eps) == pytest.approx(1e-12)
    xs, _ = panel.sweep_curve.getData()
    assert len(xs) == len(r.sweep)
    assert panel.sweep_plot.getPlotItem().ctrl.logXCheck.isChecked()
    assert panel.sweep_plot.getPlotItem().ctrl.logYCheck.isChecked()
    assert panel.eps_line.value() == pytest.approx(__import__("math").log10(DEFAULT_EPS))
    # Truncation falls and round-off rises: the error is smallest in the middle, not at either end.
    errors = [e for _, e in r.sweep]
    best = errors.index(min(errors))
    assert 0 < best < len(errors) - 1
    assert errors[0] > 100 * min(errors) and errors[-1] > 100 * min(errors)


def test_verification_of_a_random_k5_model_runs_on_a_thread(qtbot, win):
    panel = ins(win).verification
    wait_checked(qtbot, win)
    assert RANDOM5.K > SYNC_MAX_K
    with qtbot.waitSignal(panel.checkFinished, timeout=WAIT) as blocker:
        load(win, RANDOM5)
        qtbot.waitUntil(lambda: panel.is_busy, timeout=WAIT)  # the live re-check went to a worker thread
        assert panel.progress.isVisibleTo(panel) or not panel.is_busy
    result = blocker.args[0]
    assert result.model == win.document.model
    assert panel.is_current() and panel.results.passed
    assert len(panel.results.fd.entries) == 75
    _check_table_against_document(panel, win.document)
    assert not panel.progress.isVisibleTo(panel)


def test_a_new_model_cancels_the_running_check(qtbot, win):
    panel = ins(win).verification
    wait_checked(qtbot, win)
    panel.live_box.setChecked(False)
    load(win, Session.random(12, 1).model)  # a check of K = 12 with its sweep takes seconds
    panel.check_now()
    assert panel.is_busy and running_jobs(panel) == 1
    load(win, RANDOM5)
    assert not panel.is_busy  # the old check is cancelled at once…
    panel.check_now()
    qtbot.waitUntil(panel.is_current, timeout=WAIT)  # …and the new model's result is the one shown
    assert panel.results.model.K == 5
    qtbot.waitUntil(lambda: running_jobs(panel) == 0, timeout=WAIT)


def test_closing_the_window_during_a_check_stops_its_thread(qtbot, win):
    panel = ins(win).verification
    load(win, Session.random(12, 3).model)
    panel.check_now()
    assert panel.is_busy and running_jobs(panel) == 1
    threads = [job.worker_thread for job in panel.jobs.jobs]
    win.close()
    assert running_jobs(panel) == 0  # cancelled and joined before the window went
    assert not any(thread.isRunning() for thread in threads)


def test_large_models_wait_for_check_now(qtbot, win):
    panel = ins(win).verification
    wait_checked(qtbot, win)
    load(win, Session.random(LIVE_MAX_K + 2, 3).model)
    assert not panel.is_busy and running_jobs(panel) == 0  # no multi-second check on every edit
    assert "Press Check now (F7): at K = 12" in panel.status_label.text()
    with qtbot.waitSignal(panel.checkFinished, timeout=WAIT):
        ins(win).actions["verify_now"].trigger()
        assert panel.is_busy
        qtbot.waitUntil(lambda: panel.progress.value() > 0, timeout=WAIT)  # progress is reported
    assert panel.is_current() and panel.results.passed and panel.results.fd.K == 12


def test_cancel_button_keeps_the_old_results(qtbot, win):
    panel = ins(win).verification
    wait_checked(qtbot, win)
    old = panel.results
    panel.live_box.setChecked(False)
    load(win, Session.random(12, 4).model)
    panel.check_now()
    assert panel.cancel_button.isVisibleTo(panel)
    panel.cancel_button.click()
    assert not panel.is_busy and panel.results is old
    assert "earlier model" in panel.status_label.text()


def test_verification_against_pytorch(qtbot, win):
    pytest.importorskip("torch")
    panel = ins(win).verification
    wait_checked(qtbot, win)
    with qtbot.waitSignal(panel.checkFinished, timeout=WAIT):
        panel.torch_box.setChecked(True)
    r = panel.results
    assert r.torch is not None and r.torch.passed and r.torch.method == torch_check.METHOD
    model = panel.entries_model
    assert model.headerData(6, Qt.Orientation.Horizontal) == "PyTorch"
    assert model.data(model.index(0, 6)) == f"{r.torch.entries[0].reference:.15g}"
    assert "PyTorch float64" in panel.status_label.text()
    assert not panel.torch_label.isVisibleTo(panel)
    panel.heat_source.setCurrentIndex(1)
    assert panel.heat_models["A"].error(0, 0) == r.torch.by_matrix("A")[0][0].rel_error


def test_without_pytorch_the_panel_says_how_to_add_it(qtbot, win, monkeypatch):
    def unavailable(*_args, **_kwargs):
        raise torch_check.TorchUnavailable()

    monkeypatch.setattr(torch_check, "torch_check", unavailable)
    panel = ins(win).verification
    wait_checked(qtbot, win)
    panel.torch_box.setChecked(True)
    qtbot.waitUntil(lambda: panel.is_current() and panel.torch_label.text() != "", timeout=WAIT)
    assert "pip install 'backprop-lab[torch]'" in panel.torch_label.text()
    assert panel.results.passed and "PASS" in panel.status_label.text()  # not a failure
    assert panel.results.torch is None


def test_a_wrong_gradient_is_shown_as_a_failure(qtbot, win, monkeypatch):
    real = gradcheck.model_loss_and_grads

    def wrong(model):
        loss, grads = real(model)
        grads["B"][1][2] *= 1.5  # the classic slip: a factor off
        return loss, grads

    monkeypatch.setattr(gradcheck, "model_loss_and_grads", wrong)
    panel = ins(win).verification
    panel.check_now()
    qtbot.waitUntil(lambda: panel.results is not None and not panel.is_busy, timeout=WAIT)
    r = panel.results
    assert not r.passed and [(e.matrix, e.i, e.j) for e in r.fd.failures] == [("B", 1, 2)]
    assert "FAIL" in panel.status_label.text()
    row = 9 + 1 * 3 + 2
    assert panel.entries_model.data(panel.entries_model.index(row, 1)) == "✗"
    brush = panel.heat_models["B"].data(panel.heat_models["B"].index(1, 2), Qt.ItemDataRole.BackgroundRole)
    assert brush.color() == QColor(*FAILED_COLOUR)  # the dark orange end of the blue–orange scale


# --------------------------------------------------------------------------- chain rule


@pytest.mark.parametrize("which", ["report", "random K=5"])
def test_chain_rule_for_every_entry_equals_the_table(qtbot, win, which):
    if which != "report":
        load(win, RANDOM5)
    panel = ins(win).chain_rule
    doc = win.document
    k = doc.K
    for name in MATRIX_NAMES:
        table = win.findChild(QTableView, f"grad{name}")
        for i in range(k):
            for j in range(k):
                table.setCurrentIndex(table.model().index(i, j))
                d = panel.derivation
                assert (d.matrix, d.i, d.j) == (name, i, j)
                value = doc.evaluation.grads[name][i][j]
                assert d.product == value
                text = panel.plain_text()
                assert repr(value).replace("-", "−") in text
                assert "✓ equals" in text
                # The cells that feed the entry are outlined in the editors.
                assert panel.highlighter.highlighted() == {n: c for n, c in d.cells.items() if c}


def test_chain_rule_is_typeset_like_a_textbook(win):
    panel = ins(win).chain_rule
    table = win.findChild(QTableView, "gradA")
    table.setCurrentIndex(table.model().index(0, 1))
    html = panel.text.toHtml()
    for needle in ("σ′", "∂", "·", "Σ", "vertical-align:sub"):
        assert needle in html, needle
    text = panel.plain_text()
    d = panel.derivation
    assert "g1 · σ′(a1) · x0" in text  # the factors in Figure 2's order
    for f in d.factors:
        assert repr(f.value) in text  # each factor's value, in full
    assert f"{d.upstream_sum!r}" in text


def test_chain_rule_summarises_the_sum_for_large_k(win):
    load(win, Session.random(EXPAND_MAX_K + 2, 5).model)
    panel = ins(win).chain_rule
    table = win.findChild(QTableView, "gradB")
    table.setCurrentIndex(table.model().index(2, 3))
    text = panel.plain_text()
    assert f"{EXPAND_MAX_K + 2} terms" in text and "⋯" in text
    assert repr(win.document.evaluation.grads["B"][2][3]).replace("-", "−") in text


def test_chain_rule_follows_edits_and_k_changes(qtbot, win):
    panel = ins(win).chain_rule
    table = win.findChild(QTableView, "gradC")
    table.setCurrentIndex(table.model().index(2, 2))
    before = panel.derivation.product
    win.document.set_entry("C", 0, 2, 5.0)
    assert panel.derivation.product == win.document.evaluation.grads["C"][2][2] != before
    win.document.resize(2)
    assert panel.derivation is None and not any(panel.highlighter.highlighted().values())


def test_highlighting_leaves_the_editors_editable(qtbot, win):
    grad = win.findChild(QTableView, "gradA")
    grad.setCurrentIndex(grad.model().index(1, 2))
    editor = win.findChild(QTableView, "matrixA")
    assert ins(win).chain_rule.highlighter.overlays["A"].cells == {(r, 2) for r in range(3)}
    index = editor.model().index(1, 2)
    editor.setCurrentIndex(index)
    editor.edit(index)
    line = editor.viewport().findChildren(QLineEdit)[-1]
    line.selectAll()
    qtbot.keyClicks(line, "0.125")
    qtbot.keyClick(line, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: editor.state() != QAbstractItemView.State.EditingState, timeout=WAIT)
    assert win.document.value("A", 1, 2) == 0.125
    # The overlay takes no mouse events and stays under an open editor.
    overlay = ins(win).chain_rule.highlighter.overlays["A"]
    assert overlay.testAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
    assert ins(win).chain_rule.derivation.product == win.document.evaluation.grads["A"][1][2]


# --------------------------------------------------------------------------- step through


def _open_dialog(win):
    dialog = ins(win).step_through()
    assert dialog is not None and dialog.isVisible()
    return dialog


@pytest.mark.parametrize("which", ["report", "random K=5"])
def test_step_through_commit_is_the_training_step(qtbot, win, which):
    if which != "report":
        load(win, RANDOM5)
    doc = win.document
    model = doc.model.copy()
    undo_before = doc.undo_stack.count()
    s = doc.training_settings
    trainer = Trainer(model, s)
    expected = next(trainer.steps())

    dialog = _open_dialog(win)
    plan = dialog.plan
    assert plan.indices == tuple(next(Trainer(model, s).batches()))
    assert not dialog.commit_button.isEnabled()
    for phase in range(1, 5):
        assert dialog.commit() is False  # nothing can be committed before the last phase
        qtbot.mouseClick(dialog.next_button, Qt.MouseButton.LeftButton)
        assert dialog.phase == phase
    assert dialog.commit_button.isEnabled() and not dialog.next_button.isEnabled()
    assert doc.model == model  # still nothing applied
    qtbot.mouseClick(dialog.commit_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=WAIT)
    assert dialog.committed
    assert (doc.model.A, doc.model.B, doc.model.C) == tuple(trainer.weights())
    assert list(doc.history.records()) == [expected]
    assert doc.undo_stack.count() == undo_before + 1
    assert doc.undo_stack.undoText().startswith("Step through: step 1")
    doc.undo_stack.undo()
    assert doc.model == model and len(doc.history) == 0


def test_step_through_cancel_changes_nothing(qtbot, win):
    doc = win.document
    model = doc.model.copy()
    undo_before = doc.undo_stack.count()
    dialog = _open_dialog(win)
    dialog.next()
    dialog.next()
    dialog.back()
    assert dialog.phase == 1
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=WAIT)
    assert not dialog.committed
    assert doc.model == model and len(doc.history) == 0 and doc.undo_stack.count() == undo_before


def test_step_through_continues_after_the_history(qtbot, win):
    doc = win.document
    doc.set_training_settings(dataclasses.replace(doc.training_settings, n_samples=40, batch_size=8))
    for expected_step in (1, 2):
        dialog = _open_dialog(win)
        assert dialog.plan.step == expected_step
        h = doc.history
        m = doc.model
        plan = plan_step(m, doc.training_settings, start_step=h.last_step, start_epoch=h.last_epoch)
        assert plan.record == dialog.plan.record
        for _ in range(4):
            dialog.next()
        assert dialog.commit()
        qtbot.waitUntil(lambda d=dialog: not d.isVisible(), timeout=WAIT)
    assert [r.step for r in doc.history.records()] == [1, 2]


def test_step_through_pages_show_the_numbers(win):
    dialog = _open_dialog(win)
    plan = dialog.plan
    batch = dialog.findChild(QTableView, "stepBatchTable")
    assert batch.model().rowCount() == plan.batch_size
    assert batch.model().index(0, 0).data() == str(plan.indices[0])
    update = dialog.findChild(QTableView, "stepUpdateTable")
    assert update.model().rowCount() == 27
    assert update.model().index(0, 5).data(Qt.ItemDataRole.ToolTipRole) == repr(plan.deltas["A"][0][0])
    forward = dialog.findChild(QTableView, "stepForwardTable")
    assert forward.model().index(0, 1).data(Qt.ItemDataRole.ToolTipRole) == repr(plan.samples[0].loss)
    dialog.reject()


# --------------------------------------------------------------------------- loss along the gradient


@pytest.mark.parametrize("which", ["report", "random K=5"])
def test_loss_along_gradient(qtbot, win, which):
    if which != "report":
        load(win, RANDOM5)
    panel = ins(win).line_search
    doc = win.document
    assert panel.line is None  # hidden behind another tab: not computed yet
    ins(win).actions["show_line_search"].trigger()
    qtbot.waitUntil(
        lambda: panel.line is not None and panel.line.loss0 == pytest.approx(doc.evaluation.loss, rel=1e-12),
        timeout=WAIT,
    )
    line = panel.line
    lr = doc.training_settings.learning_rate
    assert line.lr == lr and panel.lr_line.value() == lr
    xs, _ = panel.curve.getData()
    assert len(xs) == len(line.ts) and xs[0] == 0.0 and xs[-1] == pytest.approx(3 * lr)
    assert panel.lr_point.data["x"][0] == lr
    assert line.verdict() in panel.verdict_label.text()
    # A larger learning rate moves the marker, and is judged again.
    doc.set_training_settings(dataclasses.replace(doc.training_settings, learning_rate=0.5))
    qtbot.waitUntil(lambda: panel.line.lr == 0.5, timeout=WAIT)
    assert panel.lr_line.value() == 0.5
    assert ("Overshoots" in panel.verdict_label.text()) == panel.line.overshoots


def test_loss_along_the_next_batch_gradient(qtbot, win):
    panel = ins(win).line_search
    doc = win.document
    ins(win).actions["show_line_search"].trigger()
    panel.source.setCurrentIndex(1)
    qtbot.waitUntil(lambda: panel.line is not None and panel.line.source == "batch", timeout=WAIT)
    m = doc.model
    plan = plan_step(m, doc.training_settings)
    assert panel.line.batch == plan.indices
    assert panel.line.loss0 == pytest.approx(plan.batch_loss, rel=1e-12)
    assert panel.line.loss_at_lr == pytest.approx(plan.batch_loss_after, rel=1e-12)
    assert "next mini-batch" in panel.verdict_label.text()


def test_each_panel_owns_its_checks_and_a_destroyed_panel_joins_them(qtbot, monkeypatch):
    # No module registry: a panel's checks are its own, and they end with it even when nobody
    # called shutdown() (the thread is joined before Qt deletes it, or the process would abort).
    started, ended = threading.Event(), threading.Event()

    def run_checks(*args, progress=None, **kwargs):
        # Runs until cancelled, however fast the machine: the panel's deletion must cancel and join it.
        started.set()
        try:
            while True:
                assert progress is not None
                progress(0, 1)  # raises JobCancelled once the job is cancelled
                time.sleep(0.005)
        finally:
            ended.set()

    monkeypatch.setattr(verification_panel, "run_checks", run_checks)
    big = Session.random(LIVE_MAX_K + 2, 5).model  # never checked by itself: only on check_now()
    one, two = Document(), Document()
    for doc in (one, two):
        doc.set_model(big, "test model")
    first, second = VerificationPanel(one), VerificationPanel(two)
    first.check_now()
    qtbot.waitUntil(started.is_set, timeout=WAIT)
    assert running_jobs(first) == 1 and running_jobs(second) == 0
    shiboken6.delete(first)
    assert ended.is_set()
    assert running_jobs(second) == 0
    shiboken6.delete(second)
