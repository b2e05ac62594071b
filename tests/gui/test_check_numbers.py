"""Verify ▸ Check my numbers…: the dialog, the outlines in the gradient tables, the chain rule on
the worst entry.

The outlines and the chain rule are tested on comparisons built by hand (what the window does with
one); the dialog end to end on what students print: the report's own text, a mistake from the
catalogue built here, unreadable text.
"""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QColor, QKeySequence
from PySide6.QtWidgets import QMenu

from backprop_lab.engine.compare import Comparison, Difference, Verdict
from backprop_lab.engine.mistakes import Diagnosis
from backprop_lab.engine.model import model_loss_and_grads
from backprop_lab.engine.variant import Variant
from backprop_lab.gui import check_numbers_dialog
from backprop_lab.gui.cell_highlighter import DISAGREEING_CELLS
from backprop_lab.gui.check_numbers_dialog import CheckNumbersDialog, chain_rule_html, comparison_html

MAGENTA = DISAGREEING_CELLS.colour


def _diagnosis(name: str = "B") -> Diagnosis:
    return Diagnosis(
        "transposed", f"Your ∂L/∂{name} is the transpose of the true one.", "∂L/∂B_ij = x_i · g_j"
    )


def _comparison(
    wrong: dict[str, tuple[tuple[int, int], ...]], worst: dict[str, tuple[int, int]]
) -> Comparison:
    """A comparison of A, B, C in which ``wrong[name]`` disagree, ``worst[name]`` the worst of them."""
    verdicts = []
    for name in "ABC":
        cells = wrong.get(name, ())
        i, j = worst.get(name, (0, 0))
        diff = Difference(i, j, 1.0, 0.5 if cells else 1.0, 1.0 if cells else 0.0)
        verdicts.append(Verdict(name, not cells, 9, cells, diff, _diagnosis(name) if cells else None))
    return Comparison(tuple(verdicts))


def _shown(window, comparison: Comparison) -> None:
    """What the window does after the dialog checked: the comparison of the document's model."""
    window.verify.check_dialog = None
    window.verify._on_check_dialog_checked(comparison, window.document.model)


def _pixels(table, i: int, j: int) -> set[tuple[int, int, int]]:
    """The colours painted inside cell (i, j) of a table, overlays included."""
    rect = table.visualRect(table.model().index(i, j))
    image = table.viewport().grab().toImage()
    ratio = image.devicePixelRatio()
    colours = set()
    for x in range(rect.left(), rect.right() + 1):
        for y in range(rect.top(), rect.bottom() + 1):
            c = QColor(image.pixel(int(x * ratio), int(y * ratio)))
            colours.add((c.red(), c.green(), c.blue()))
    return colours


def _magenta(table, i: int, j: int) -> bool:
    return (MAGENTA.red(), MAGENTA.green(), MAGENTA.blue()) in _pixels(table, i, j)


# --------------------------------------------------------------------------- the menu entry


def test_check_my_numbers_is_in_the_verify_menu_with_its_shortcut(window, qtbot):
    menu = window.findChild(QMenu, "menu_verify")
    names = [a.objectName() for a in menu.actions()]
    assert names.index("action_check_numbers") == names.index("action_verify_now") + 1
    action = window.findChild(QAction, "action_check_numbers")
    assert action.text() == "Check my &numbers…"
    assert action.shortcut() == QKeySequence("Shift+F7")
    action.trigger()
    dialog = window.verify.check_dialog
    assert isinstance(dialog, CheckNumbersDialog) and dialog.isVisible()
    assert not dialog.isModal()  # the tables and the chain rule stay in reach
    action.trigger()  # a second time: the same dialog, brought forward
    assert window.verify.check_dialog is dialog
    dialog.close()


# --------------------------------------------------------------------------- outlines and the chain rule


def test_the_disagreeing_entries_are_outlined_and_the_chain_rule_opens_on_the_worst(window, qtbot):
    tables = window.gradients_panel.tables
    wrong = {"B": ((0, 1), (1, 0), (2, 0)), "C": ((1, 1),)}
    _shown(window, _comparison(wrong, {"B": (2, 0), "C": (1, 1)}))
    panel = window.gradients_panel
    assert panel.disagreeing_cells() == {"B": frozenset(wrong["B"]), "C": frozenset(wrong["C"])}
    # Painted: magenta inside each disagreeing cell, none in an agreeing one.
    qtbot.waitUntil(lambda: _magenta(tables["B"], 2, 0), timeout=10_000)
    assert _magenta(tables["B"], 0, 1) and _magenta(tables["C"], 1, 1)
    assert not _magenta(tables["B"], 1, 1) and not _magenta(tables["A"], 0, 0)
    # The worst entry of the first disagreeing matrix is selected and explained.
    chain = window.verify.chain_rule
    assert chain.entry == ("B", 2, 0)
    assert window.verify.dock.isVisible()
    current = tables["B"].currentIndex()
    assert (current.row(), current.column()) == (2, 0)
    assert panel.check_note.isVisible()
    assert panel.check_note.text() == "Outlined: 4 disagreeing entries"


def test_the_outlines_go_when_the_model_changes_and_stay_for_a_repaint_of_the_same_model(window, qtbot):
    panel = window.gradients_panel
    _shown(window, _comparison({"A": ((0, 0),)}, {"A": (0, 0)}))
    assert panel.disagreeing_cells() == {"A": frozenset({(0, 0)})}
    window.document.modelChanged.emit()  # the same numbers again (a live step's marks): they stay
    assert panel.disagreeing_cells() == {"A": frozenset({(0, 0)})}
    window.document.set_entry("A", 1, 1, 0.25)
    assert panel.disagreeing_cells() == {} and not panel.check_note.isVisible()
    assert not _magenta(panel.tables["A"], 0, 0)
    window.document.undo_stack.undo()  # the checked numbers are back, but the check is not redone
    assert panel.disagreeing_cells() == {}


def test_a_check_that_agrees_clears_the_outlines(window):
    panel = window.gradients_panel
    _shown(window, _comparison({"C": ((2, 2),)}, {"C": (2, 2)}))
    assert panel.disagreeing_cells()
    entry = window.verify.chain_rule.entry
    _shown(window, _comparison({}, {}))
    assert panel.disagreeing_cells() == {} and not panel.check_note.isVisible()
    assert window.verify.chain_rule.entry == entry  # nothing to open: the chain rule stays put


def test_a_comparison_of_another_model_outlines_nothing(window):
    panel = window.gradients_panel
    before = window.document.model
    window.document.set_entry("x", 0, 0, 2.0)
    panel.show_comparison(_comparison({"A": ((0, 0),)}, {"A": (0, 0)}), before)
    assert panel.disagreeing_cells() == {}


def test_only_the_loss_disagreeing_outlines_no_cell_and_opens_no_chain_rule(window):
    loss = Verdict("loss", False, 1, ((0, 0),), Difference(0, 0, 40.0, 44.06, 0.09))
    agree = _comparison({}, {})
    _shown(window, Comparison((loss, *agree.verdicts)))
    assert window.gradients_panel.disagreeing_cells() == {}
    assert window.verify.chain_rule.entry is None


# --------------------------------------------------------------------------- the dialog


def test_the_verdicts_are_shown_in_the_commands_words():
    c = _comparison({"B": ((0, 1), (2, 0))}, {"B": (2, 0)})
    html = comparison_html(c)
    assert "✗ ∂L/∂B disagrees." in html
    assert "∂L/∂A</b>: <span" in html and "agrees (all 9 entries)" in html
    assert "DISAGREES in 2 of 9 entries" in html
    assert "worst entry B[2][0]: given 1.0, true 0.5 (relative difference 1.0e+00)" in html
    assert "disagreeing: B[0][1], B[2][0]" in html
    assert "<tt>transposed</tt>" in html and "Your ∂L/∂B is the transpose of the true one." in html
    assert "Loss</b>: <span" in html and "not given" in html
    assert "✓ Everything you gave agrees." in comparison_html(_comparison({}, {}))


def test_the_correct_line_sets_its_formulas_as_formulas_and_its_words_as_words():
    line = chain_rule_html(
        "∂L/∂A_ij = x_i · σ′(a_j) · g_j, with g_j = Σ_k C_j,k · 2w_k and σ′(a) = 1 − tanh(a)²"
    )
    assert ", with <i>g</i><sub><i>j</i></sub> = Σ" in line  # "with" upright, no comma in a subscript
    assert " and σ′(<i>a</i>) = 1 − tanh(<i>a</i>)²" in line
    assert "<i>w</i><i>i</i>" not in line


def test_nothing_pasted_is_one_line_and_no_check(window, qtbot):
    dialog = window.verify.check_numbers()
    with qtbot.assertNotEmitted(dialog.checked):
        assert dialog.check() is None
    assert dialog.error == "Nothing to check: paste what your program printed, or open a file."
    assert dialog.error in dialog.verdicts.toPlainText()
    dialog.close()


def test_check_waits_while_a_run_trains(window, qtbot):
    dialog = window.verify.check_numbers()
    window.document.set_training_state("running")
    assert not dialog.check_button.isEnabled()
    assert dialog.status.text() == "Training is running: pause or stop it to check."
    dialog.editor.setPlainText("Loss = 44.0612")
    with qtbot.assertNotEmitted(dialog.checked):
        assert dialog.check() is None
    window.document.set_training_state("paused")
    assert dialog.check_button.isEnabled() and dialog.status.text() == ""
    window.document.set_training_state("idle")
    dialog.close()


def test_the_dialog_names_the_model_it_checks_against(window):
    dialog = window.verify.check_numbers()
    assert "(K = 3; sigmoid, row vectors, no target)" in dialog.about.text()
    window.model_panel.k_spin.setValue(4)
    assert "(K = 4; sigmoid, row vectors, no target)" in dialog.about.text()
    dialog.close()


def test_an_unreadable_file_is_named_in_the_dialog_and_the_text_is_kept(window, dialogs, tmp_path):
    dialog = window.verify.check_numbers()
    dialog.editor.setPlainText("Loss = 44.0612")
    bad = tmp_path / "out.txt"
    bad.write_bytes(b"\xff\xfe\x00")
    dialogs.open_path = str(bad)
    assert dialog.open_file() is False
    assert dialog.error == f"{bad} is not UTF-8 text (byte 1 cannot be read)"
    assert dialog.editor.toPlainText() == "Loss = 44.0612"  # nothing the user typed is lost
    dialogs.open_path = ""  # cancelled: nothing happens
    assert dialog.open_file() is False and dialog.editor.toPlainText() == "Loss = 44.0612"
    good = tmp_path / "good.txt"
    good.write_text("Loss = 44.06\n", encoding="utf-8")
    dialogs.open_path = str(good)
    assert dialog.open_file() is True and dialog.editor.toPlainText() == "Loss = 44.06\n"
    dialog.close()


def test_closing_the_window_closes_the_dialog(window):
    dialog = window.verify.check_numbers()
    assert dialog.parent() is window
    window.close()
    assert not dialog.isVisible()


def test_ctrl_return_checks_from_the_text(window, qtbot):
    dialog = window.verify.check_numbers()
    qtbot.waitExposed(dialog)
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow, timeout=10_000)
    dialog.editor.setFocus()
    qtbot.keyClick(dialog.editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: dialog.error is not None, timeout=10_000)
    assert dialog.error.startswith("Nothing to check")
    assert dialog.editor.toPlainText() == ""  # no new line typed
    dialog.close()


# --------------------------------------------------------------------------- end to end: what students print


def _printed(m, digits: int = 4) -> str:
    return "[" + ",\n ".join("[" + ", ".join(f"{v:.{digits}f}" for v in row) + "]" for row in m) + "]"


def _answers(loss, grads, digits: int = 4) -> str:
    parts = [f"Loss = {loss:.{digits}f}", ""]
    for name, m in grads.items():
        parts += [f"{name} =", _printed(m, digits), ""]
    return "\n".join(parts)


def _paste_and_check(dialog, text: str):
    dialog.editor.setPlainText(text)
    dialog.check_button.click()
    return dialog.comparison


def test_the_true_numbers_to_four_digits_agree_and_outline_nothing(window, qtbot):
    loss, grads = model_loss_and_grads(window.document.model)
    dialog = window.verify.check_numbers()
    with qtbot.waitSignal(dialog.checked, timeout=10_000):
        comparison = _paste_and_check(dialog, _answers(loss, grads))
    assert comparison is not None and comparison.agree
    assert "✓ Everything you gave agrees." in dialog.verdicts.toHtml()
    assert window.gradients_panel.disagreeing_cells() == {}
    assert window.verify.chain_rule.entry is None
    dialog.close()


def test_a_transposed_dB_is_outlined_explained_and_diagnosed(window, qtbot):
    loss, grads = model_loss_and_grads(window.document.model)
    dB = grads["B"]
    wrong = {(i, j) for i in range(3) for j in range(3) if abs(dB[i][j] - dB[j][i]) > 2e-4}
    dialog = window.verify.check_numbers()
    transposed = [list(r) for r in zip(*dB, strict=True)]
    comparison = _paste_and_check(dialog, _answers(loss, {**grads, "B": transposed}))
    assert comparison is not None and not comparison.agree
    assert set(comparison.verdict("B").disagreeing) == wrong
    assert window.gradients_panel.disagreeing_cells() == {"B": frozenset(wrong)}
    worst = comparison.worst_cell
    assert worst[0] == "B" and worst[1:] in wrong
    assert window.verify.chain_rule.entry == worst
    text = dialog.verdicts.toPlainText()
    assert "✗ ∂L/∂B disagrees." in text and "Diagnosis (transposed)" in text
    qtbot.waitUntil(lambda: _magenta(window.gradients_panel.tables["B"], *worst[1:]), timeout=10_000)
    # The model changes: the outlines go and the dialog says its verdicts are out of date.
    window.document.set_entry("B", 0, 0, 0.5)
    assert window.gradients_panel.disagreeing_cells() == {}
    assert dialog.status.text() == "The model has changed since this check: Check again."
    dialog.close()


def test_an_unreadable_line_is_named_and_selected(window):
    dialog = window.verify.check_numbers()
    assert (
        _paste_and_check(dialog, "Loss = 44.0612\n\nA =\n[[1.0, 2.0, oops],\n [1, 2, 3],\n [1, 2, 3]]\n")
        is None
    )
    assert dialog.error is not None and dialog.error.startswith("line 4: ")
    assert dialog.editor.textCursor().blockNumber() == 3
    assert "oops" in dialog.editor.textCursor().selectedText()
    assert window.gradients_panel.disagreeing_cells() == {}
    dialog.close()


def test_an_opened_file_is_checked_against_the_variant_in_the_window(window, dialogs, tmp_path):
    variant = Variant("relu", "column", None)
    window.document.set_variant(variant)
    loss, grads = model_loss_and_grads(window.document.model)
    path = tmp_path / "out.txt"
    path.write_text(_answers(loss, {"C": grads["C"]}, 10), encoding="utf-8")
    dialog = window.verify.check_numbers()
    assert "relu, column vectors, no target" in dialog.about.text()
    dialogs.open_path = str(path)
    assert dialog.open_file()
    comparison = dialog.check()
    assert comparison is not None and comparison.agree
    assert [v.name for v in comparison.verdicts] == ["loss", "C"]
    dialog.close()


def test_the_dialog_opens_clear_of_the_gradient_tables(window, qtbot):
    window.resize(1400, 900)
    qtbot.waitUntil(lambda: window.width() == 1400, timeout=10_000)
    dialog = window.verify.check_numbers()
    panel = window.gradients_panel
    right_of_tables = panel.mapToGlobal(panel.rect().topRight()).x()
    assert dialog.frameGeometry().left() > right_of_tables
    assert dialog.frameGeometry().right() <= window.frameGeometry().right()
    dialog.close()


# --------------------------------------------------------------------------- big answers: a worker thread


def _big(window, k: int = 24):
    """A random K×K model in the window and its gradients with ∂L/∂C halved, at full precision."""
    window.model_panel.k_spin.setValue(k)
    loss, grads = model_loss_and_grads(window.document.model)
    grads = {**grads, "C": [[v / 2 for v in row] for row in grads["C"]]}
    return _answers(loss, grads, 17)


def test_big_answers_are_checked_on_a_worker_thread(window, qtbot):
    text = _big(window)
    dialog = window.verify.check_numbers()
    dialog.editor.setPlainText(text)
    with qtbot.waitSignal(dialog.checked, timeout=120_000) as checked:
        assert dialog.check() is None and dialog.is_busy
        assert not dialog.check_button.isEnabled() and dialog.status.text() == "Checking…"
        assert dialog.check() is None  # one check at a time
    comparison, model = checked.args
    assert model == window.document.model and not dialog.is_busy and dialog.check_button.isEnabled()
    assert comparison.verdict("C").diagnosis.id == "missing-factor-2"
    assert window.gradients_panel.disagreeing_cells()["C"] == frozenset(
        (i, j) for i in range(24) for j in range(24)
    )
    assert window.verify.chain_rule.entry[0] == "C"
    dialog.close()


@pytest.mark.parametrize("delay_ms", [0, 10, 50])
def test_the_model_changing_during_a_check_drops_its_result(window, qtbot, monkeypatch, delay_ms):
    text = _big(window)
    dialog = window.verify.check_numbers()
    dialog.editor.setPlainText(text)
    # The worker holds its result until the edit has happened, however fast this machine reads.
    edited = threading.Event()
    real = check_numbers_dialog.compare_text
    monkeypatch.setattr(
        check_numbers_dialog, "compare_text", lambda model, text: edited.wait(60) and real(model, text)
    )
    dialog.check()
    job = dialog._job
    ended = []
    job.finished.connect(lambda: ended.append(True))
    qtbot.wait(delay_ms)  # the edit comes 0–50 ms after Check
    with qtbot.assertNotEmitted(dialog.checked, wait=200):
        window.document.set_entry("A", 0, 0, 0.125)
        edited.set()
        qtbot.waitUntil(lambda: bool(ended), timeout=120_000)
    assert dialog.status.text() == "The model changed while checking: Check again."
    assert not dialog.is_busy and dialog.comparison is None and dialog.check_button.isEnabled()
    assert window.gradients_panel.disagreeing_cells() == {}
    dialog.close()


def test_closing_the_window_during_a_check_joins_its_thread(window, qtbot, monkeypatch):
    dialog = window.verify.check_numbers()
    dialog.editor.setPlainText(_big(window))
    release = threading.Event()  # the worker is still reading when the window closes
    real = check_numbers_dialog.compare_text
    monkeypatch.setattr(check_numbers_dialog, "compare_text", lambda m, t: release.wait(60) and real(m, t))
    dialog.check()
    release.set()
    assert dialog.is_busy
    window.close()
    assert len(dialog.jobs) == 0 and not dialog.isVisible()
