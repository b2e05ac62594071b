"""Item models (display text, setData refusals, colours) and the editors' copy and paste."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from backprop_lab.engine.formatting import format_number
from backprop_lab.engine.matrix_text import parse_matrix_text
from backprop_lab.gui.heat_map import diverging_color, text_color
from backprop_lab.gui.matrix_editor import MatrixEditor, MatrixTable
from backprop_lab.gui.matrix_model import GradientModel, IntermediatesModel, MatrixModel

DISPLAY, EDIT = Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.0, "0.0000"),
        (0.25129816, "0.2513"),
        (-44.0612131, "-44.0612"),
        (1.5e-7, "1.5000e-07"),
        (3e9, "3.0000e+09"),
    ],
)
def test_format_value_has_at_least_four_decimals(value, text):
    assert format_number(value, "cell") == text


def test_matrix_model_shapes_and_roles(document):
    x, a = MatrixModel(document, "x"), MatrixModel(document, "A")
    assert (x.rowCount(), x.columnCount()) == (1, 3) and (a.rowCount(), a.columnCount()) == (3, 3)
    idx = a.index(0, 1)
    assert a.data(idx, DISPLAY) == "0.4594"
    assert float(a.data(idx, EDIT)) == document.model.A[0][1]  # exact, for editing
    assert "A[0][1]" in a.data(idx, Qt.ItemDataRole.ToolTipRole)
    assert a.flags(idx) & Qt.ItemFlag.ItemIsEditable
    assert x.headerData(0, Qt.Orientation.Vertical) == "x"


def test_set_data_accepts_text_and_refuses_what_the_editors_refuse(document, qtbot):
    a = MatrixModel(document, "A")
    idx = a.index(2, 0)
    assert a.setData(idx, " -1.25e-1 ", EDIT)
    assert document.model.A[2][0] == -0.125 and a.data(idx) == "-0.1250"
    for bad in ("", "abc", "nan", "inf", "-inf", "1e999", "1,5"):
        with qtbot.waitSignal(a.inputRefused) as sig:
            assert not a.setData(idx, bad, EDIT)
        assert "A[2][0]" in sig.args[1]
        assert document.model.A[2][0] == -0.125
    assert a.data(idx, Qt.ItemDataRole.BackgroundRole) is not None  # flashing red
    assert document.undo_stack.count() == 1


def test_models_follow_k_changes_with_a_reset(document, qtbot):
    a = MatrixModel(document, "A")
    with qtbot.waitSignal(a.modelReset):
        document.resize(4)
    assert a.rowCount() == 4 and IntermediatesModel(document).columnCount() == 4


def test_gradient_colours_are_diverging_and_symmetric(document):
    document.paste_block("C", 0, 0, [[-1.0, 0.5, 1.0], [0.0, 0.2, -0.3], [0.1, 0.1, 0.1]])
    g = GradientModel(document, "A")
    assert not g.flags(g.index(0, 0)) & Qt.ItemFlag.ItemIsEditable
    assert g.scale == max(abs(v) for row in document.evaluation.grads["A"] for v in row)
    blue, red, white = diverging_color(-1.0, 1.0), diverging_color(1.0, 1.0), diverging_color(0.0, 1.0)
    assert blue.blue() > blue.red() and red.red() > red.blue()
    assert (white.red(), white.green(), white.blue()) == (255, 255, 255)
    # Symmetric: ±v are equally far from white.
    p, n = diverging_color(0.4, 1.0), diverging_color(-0.4, 1.0)
    assert abs((255 - p.green()) - (255 - n.green())) <= 40
    # Text stays readable: dark backgrounds get white text.
    assert text_color(diverging_color(1.0, 1.0)).red() == 255
    assert text_color(white).red() < 100
    for i in range(3):
        for j in range(3):
            brush = g.data(g.index(i, j), Qt.ItemDataRole.BackgroundRole)
            v = document.evaluation.grads["A"][i][j]
            c = brush.color()
            assert (c.red() >= c.blue()) if v > 0 else (c.blue() >= c.red())


def test_intermediates_rows(document):
    m = IntermediatesModel(document)
    assert [m.headerData(r, Qt.Orientation.Vertical) for r in range(5)] == ["a", "σ(a)", "u", "z", "w"]
    assert float(m.data(m.index(4, 0))) == pytest.approx(document.evaluation.values["w"][0], abs=1e-4)


def test_editor_copy_and_paste_through_the_clipboard(document, qtbot):
    editor = MatrixEditor(MatrixModel(document, "B"), "matrixB", "B")
    qtbot.addWidget(editor)
    editor.copy_as("Tab-separated (spreadsheet)")
    assert parse_matrix_text(QGuiApplication.clipboard().text()) == document.model.B
    editor.copy_as("LaTeX bmatrix")
    assert QGuiApplication.clipboard().text().startswith("\\begin{bmatrix}")
    QGuiApplication.clipboard().setText("[[7, 8], [9, 10]]")
    editor.setCurrentIndex(editor.model().index(1, 0))
    assert editor.paste()
    assert document.model.B[1][:2] == [7.0, 8.0] and document.model.B[2][:2] == [9.0, 10.0]
    assert not editor.paste_text("1 2 3 4")  # runs past the edge: refused whole
    assert document.undo_stack.count() == 1


def test_a_column_pasted_into_x_is_the_vector(document, qtbot):
    editor = MatrixEditor(MatrixModel(document, "x"), "matrixX", "x")
    qtbot.addWidget(editor)
    assert editor.paste_text("0.1\n0.2\n0.3")
    assert document.model.x == [0.1, 0.2, 0.3]


def test_read_only_table_copies_a_selection(document, qtbot):
    table = MatrixTable(GradientModel(document, "C"), "gradC", "∂L/∂C")
    qtbot.addWidget(table)
    table.selectionModel().select(table.model().index(0, 0), table.selectionModel().SelectionFlag.Select)
    table.selectionModel().select(table.model().index(1, 1), table.selectionModel().SelectionFlag.Select)
    block = table.block()
    grads = document.evaluation.grads["C"]
    assert block == [[grads[0][0], grads[0][1]], [grads[1][0], grads[1][1]]]
