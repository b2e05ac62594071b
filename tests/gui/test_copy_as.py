"""Copy as: every matrix (editors and gradient tables), from its context menu and from Edit ▸ Copy as,
in the four formats of engine.matrix_text; a selection copies just that block."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QItemSelection, QItemSelectionModel
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QAbstractSpinBox, QMenu, QTableView

from backprop_lab.engine.matrix_text import (
    format_latex_bmatrix,
    format_markdown,
    format_python,
    format_tsv,
    parse_matrix_text,
)
from backprop_lab.gui.matrix_editor import COPY_FORMATS

FORMATTERS = {
    "Tab-separated (spreadsheet)": format_tsv,
    "Python list": format_python,
    "LaTeX bmatrix": format_latex_bmatrix,
    "Markdown table": format_markdown,
}


def values(window, name: str) -> list[list[float]]:
    doc = window.document
    if name.startswith("grad"):
        return doc.evaluation.grads[name[-1]]
    return doc.matrix("x" if name == "matrixX" else name[-1])


def clipboard() -> str:
    return QGuiApplication.clipboard().text()


def test_the_four_formats_are_the_engines():
    assert dict(COPY_FORMATS) == FORMATTERS


@pytest.mark.parametrize("name", ["matrixX", "matrixA", "matrixC", "gradA", "gradB", "gradC"])
def test_context_menu_copy_as_every_format(window, name):
    table = window.findChild(QTableView, name)
    menu = table._context_menu()
    try:
        sub = next(a.menu() for a in menu.actions() if a.menu() is not None and a.text() == "Copy as")
        assert isinstance(sub, QMenu)
        assert [a.text() for a in sub.actions()] == list(FORMATTERS)
        for action in sub.actions():
            QGuiApplication.clipboard().clear()
            action.trigger()
            assert clipboard() == FORMATTERS[action.text()](values(window, name)), action.text()
    finally:
        menu.deleteLater()


def test_edit_menu_copy_as_uses_the_matrix_clicked_last(window, qtbot):
    window.activateWindow()
    table = window.findChild(QTableView, "gradC")
    table.setFocus()
    qtbot.waitUntil(lambda: table.hasFocus(), timeout=10_000)
    spin = window.findChild(QAbstractSpinBox, "learningRate")
    spin.setFocus()  # focus moves on (e.g. to the Edit menu): the last matrix is still the one
    qtbot.waitUntil(lambda: spin.hasFocus(), timeout=10_000)
    sub = window.edit.copy_as_menu
    assert [a.text() for a in sub.actions()] == list(COPY_FORMATS)
    latex = next(a for a in sub.actions() if a.text() == "LaTeX bmatrix")
    latex.trigger()
    expected = format_latex_bmatrix(window.document.evaluation.grads["C"])
    assert clipboard() == expected and expected.startswith("\\begin{bmatrix}")


def test_edit_menu_copy_as_without_a_matrix_says_what_to_do(window):
    messages = []
    window.document.statusMessage.connect(lambda text, _ms: messages.append(text))
    QGuiApplication.clipboard().setText("unchanged")
    assert window.edit.copy_as("Markdown table") is None
    assert clipboard() == "unchanged"
    assert messages and "Click a matrix" in messages[-1]


def test_a_selection_copies_just_that_block(window):
    table = window.findChild(QTableView, "matrixB")
    model = table.model()
    selection = QItemSelection(model.index(1, 0), model.index(2, 1))
    table.selectionModel().select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
    text = table.copy_as("Markdown table")
    B = window.document.matrix("B")
    assert text == format_markdown([row[0:2] for row in B[1:3]])


def test_python_literal_round_trips_exactly(window):
    table = window.findChild(QTableView, "matrixA")
    text = table.copy_as("Python list")
    assert parse_matrix_text(text) == window.document.matrix("A")  # repr digits: bit for bit
