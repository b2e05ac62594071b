"""The matrix views at K = 3 … 32: numbers when they fit, else a heat map that shows the whole matrix.

Driven through the objectNames a user's tools see (matrixX/A/B/C, gradA/B/C), in a 1400×900 window.
"""

from __future__ import annotations

import itertools
import math

import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, QRect, Qt
from PySide6.QtGui import QColor, QFontMetricsF, QHelpEvent, QWheelEvent
from PySide6.QtWidgets import QAbstractItemView, QApplication, QLineEdit, QScrollArea, QToolTip, QWidget

from backprop_lab.engine.formatting import format_number
from backprop_lab.engine.model import Model
from backprop_lab.engine.session import Session
from backprop_lab.gui.contrast import contrast_ratio
from backprop_lab.gui.heat_map import ScaleLegend, diverging_color, diverging_rgb, text_color
from backprop_lab.gui.matrix_cells import EDIT_BOX_WIDTH, NumberCellDelegate
from backprop_lab.gui.matrix_editor import MatrixTable

WAIT = 60_000  # a deadline, not a target
EDITORS = ("matrixX", "matrixA", "matrixB", "matrixC")
GRADIENTS = ("gradA", "gradB", "gradC")


def view(window, name: str) -> MatrixTable:
    found = window.findChild(MatrixTable, name)
    assert found is not None, name
    return found


def settle(qtbot, window) -> None:
    """Let the window lay itself out (tables are fitted in event-loop turns of their own)."""
    for _ in range(3):
        qtbot.wait(20)
        QApplication.processEvents()


@pytest.fixture
def big_window(window, qtbot):
    window.resize(1400, 900)
    settle(qtbot, window)
    return window


def set_k(qtbot, window, k: int) -> None:
    window.model_panel.k_spin.setValue(k)
    assert window.document.K == k
    qtbot.waitUntil(lambda: all(view(window, n).model().columnCount() == k for n in EDITORS + GRADIENTS))
    settle(qtbot, window)


def wholly_visible(table: MatrixTable) -> bool:
    """Every cell of ``table`` is inside its viewport, and the table inside the window's visible area."""
    model = table.model()
    last = table.visualRect(model.index(model.rowCount() - 1, model.columnCount() - 1))
    if not table.viewport().rect().contains(last) or table.visualRect(model.index(0, 0)).top() < 0:
        return False
    widget: QWidget = table
    while widget.parentWidget() is not None:
        parent = widget.parentWidget()
        if isinstance(parent, QScrollArea):
            area = parent.viewport()
            box = QRect(table.mapTo(area, QPoint(0, 0)), table.size())
            if not area.rect().contains(box):
                return False
        widget = parent
    return True


def ctrl_wheel(table: MatrixTable, up: bool) -> None:
    pos = QPointF(table.viewport().rect().center())
    event = QWheelEvent(
        pos,
        QPointF(table.viewport().mapToGlobal(pos.toPoint())),
        QPoint(0, 0),
        QPoint(0, 120 if up else -120),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.ControlModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(table.viewport(), event)


def shown_text(table: MatrixTable, row: int, col: int) -> str:
    """The text the delegate paints in a cell, at the width the cell has on screen."""
    from PySide6.QtWidgets import QStyleOptionViewItem

    index = table.model().index(row, col)
    option = QStyleOptionViewItem()
    option.initFrom(table)
    option.rect = table.visualRect(index)
    table.itemDelegateForIndex(index).initStyleOption(option, index)
    return option.text


# --------------------------------------------------------------------------- the window at K = 3, 32


def test_k3_shows_numbers_and_every_matrix_whole(big_window):
    for name in EDITORS + GRADIENTS:
        table = view(big_window, name)
        assert table.shows_numbers, name
        assert not table.horizontalScrollBar().isVisible() and not table.verticalScrollBar().isVisible()
        assert wholly_visible(table), name


def test_k32_every_matrix_fits_a_1400x900_window_without_scrollbars(big_window, qtbot):
    set_k(qtbot, big_window, 32)
    for name in EDITORS + GRADIENTS:
        table = view(big_window, name)
        assert not table.shows_numbers, name  # 32 numbers do not fit a panel's width
        assert not table.horizontalScrollBar().isVisible(), name
        assert not table.verticalScrollBar().isVisible(), name
        assert wholly_visible(table), name
        # One square a cell, big enough to see and point at.
        if name != "matrixX":
            assert table.columnWidth(0) == table.rowHeight(0) >= 5, name
    # Back to K = 3: numbers again.
    set_k(qtbot, big_window, 3)
    assert all(view(big_window, n).shows_numbers for n in EDITORS + GRADIENTS)


def test_k16_fits_too_and_the_legends_are_whole(big_window, qtbot):
    set_k(qtbot, big_window, 16)
    panel = big_window.gradients_panel
    for name in EDITORS + GRADIENTS:
        table = view(big_window, name)
        assert wholly_visible(table), name
        assert not table.horizontalScrollBar().isVisible() and not table.verticalScrollBar().isVisible()
    for name in ("A", "B", "C"):
        legend = panel.findChild(ScaleLegend, f"gradScale{name}")
        assert legend is not None and legend.isVisible()
        assert legend.scale == pytest.approx(
            max(abs(v) for r in big_window.document.evaluation.grads[name] for v in r)
        )
        # Never cut, never off the panel's edge.
        assert legend.width() >= legend.sizeHint().width()
        right = legend.mapTo(panel, QPoint(legend.width(), 0)).x()
        assert right <= panel.width()
        low, high = legend.texts()
        assert high == "+" + format_number(legend.scale, "short", digits=3) and low.startswith("−")
    # The editors' legends show with their heat maps.
    assert big_window.model_panel.findChild(ScaleLegend, "matrixScaleA").isVisible()


# --------------------------------------------------------------------------- hover, zoom, selection


def test_hover_shows_value_and_index_and_outlines_row_and_column(big_window, qtbot):
    set_k(qtbot, big_window, 32)
    table = view(big_window, "gradB")
    cell = table.visualRect(table.model().index(5, 7)).center()
    qtbot.mouseMove(table.viewport(), cell)
    qtbot.waitUntil(lambda: table.hovered == (5, 7))
    QApplication.sendEvent(
        table.viewport(), QHelpEvent(QEvent.Type.ToolTip, cell, table.viewport().mapToGlobal(cell))
    )
    qtbot.waitUntil(QToolTip.isVisible)
    value = big_window.document.evaluation.grads["B"][5][7]
    assert QToolTip.text() == f"∂L/∂B[5][7] = {format_number(value, 'full')}"
    # The row and the column are outlined in dark pixels over the palette colours.
    image = table.viewport().grab().toImage()
    row_edge = table.visualRect(table.model().index(5, 20)).top()
    col_edge = table.visualRect(table.model().index(20, 7)).left()
    assert (
        QColor(image.pixel(table.visualRect(table.model().index(5, 20)).center().x(), row_edge)).lightness()
        < 120
    )
    assert (
        QColor(image.pixel(col_edge, table.visualRect(table.model().index(20, 7)).center().y())).lightness()
        < 120
    )
    QToolTip.hideText()


def test_ctrl_wheel_toggles_between_numbers_and_heat_map(big_window, qtbot):
    table = view(big_window, "gradA")
    assert table.shows_numbers
    ctrl_wheel(table, up=False)
    settle(qtbot, big_window)
    assert not table.shows_numbers and wholly_visible(table)
    ctrl_wheel(table, up=True)
    settle(qtbot, big_window)
    assert table.shows_numbers and wholly_visible(table)
    # At K = 32 zooming in shows numbers (the table scrolls then), zooming out the whole heat map.
    set_k(qtbot, big_window, 32)
    editor = view(big_window, "matrixB")
    assert not editor.shows_numbers
    ctrl_wheel(editor, up=True)
    settle(qtbot, big_window)
    assert editor.shows_numbers
    assert editor.horizontalScrollBar().isVisible()
    assert all(not n.endswith("…") for n in (shown_text(editor, 0, c) for c in range(3)))
    ctrl_wheel(editor, up=False)
    settle(qtbot, big_window)
    assert not editor.shows_numbers and wholly_visible(editor)
    # The keyboard zooms too (Ctrl++ and Ctrl+-).
    editor.setFocus()
    qtbot.keyClick(editor, Qt.Key.Key_Plus, Qt.KeyboardModifier.ControlModifier)
    settle(qtbot, big_window)
    assert editor.shows_numbers
    qtbot.keyClick(editor, Qt.Key.Key_Minus, Qt.KeyboardModifier.ControlModifier)
    settle(qtbot, big_window)
    assert not editor.shows_numbers
    # A plain wheel still scrolls; it does not zoom.
    plain = QWheelEvent(
        QPointF(5, 5), QPointF(5, 5), QPoint(0, 0), QPoint(0, 120), Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False,
    )  # fmt: skip
    QApplication.sendEvent(editor.viewport(), plain)
    assert not editor.shows_numbers


@pytest.mark.parametrize("k", [3, 32])
def test_selection_is_an_outline_not_a_palette_fill(big_window, qtbot, k):
    if k != 3:
        set_k(qtbot, big_window, k)
    doc = big_window.document
    table = view(big_window, "gradC")
    grads = doc.evaluation.grads["C"]
    # A positive entry: selected, its cell keeps its red, not the highlight's blue.
    row, col = max(((r, c) for r in range(k) for c in range(k)), key=lambda rc: grads[rc[0]][rc[1]])
    assert grads[row][col] > 0
    table.setCurrentIndex(table.model().index(row, col))
    assert table.selectionModel().isSelected(table.model().index(row, col))
    assert table.shows_numbers == (k == 3)  # (selecting opens the chain-rule dock: still numbers)
    QApplication.processEvents()
    rect = table.visualRect(table.model().index(row, col))
    image = table.viewport().grab().toImage()
    # Away from the number (right-aligned) at K = 3; the whole square at K = 32.
    x = rect.left() + 5 if table.shows_numbers else rect.center().x()
    inside = QColor(image.pixel(x, rect.center().y()))
    expected = diverging_color(grads[row][col], table.model().scale)
    assert inside.red() > inside.blue()
    assert abs(inside.red() - expected.red()) <= 3 and abs(inside.blue() - expected.blue()) <= 3
    # The outline sits just outside the cell, dark on whatever is next to it.
    edge_x = rect.left() - 1 if rect.left() > 0 else rect.right() + 1
    assert QColor(image.pixel(edge_x, rect.center().y())).lightness() < 60
    assert inside.rgb() != table.palette().highlight().color().rgb()


def test_no_cell_text_is_cut(big_window, qtbot):
    doc = big_window.document
    awkward = [[6.6378e-3, -6.6378e-13, 2.1699e-7], [-44.0612131, 3e9, -1e-300], [0.25, 1.0, -123456.789]]
    doc.set_model(Model([1e-9, -2.5e7, 0.5], awkward, awkward, awkward))
    settle(qtbot, big_window)
    checked = 0
    for name in EDITORS + GRADIENTS:
        table = view(big_window, name)
        assert table.shows_numbers, name
        font = table.model().data(table.model().index(0, 0), Qt.ItemDataRole.FontRole)
        metrics = QFontMetricsF(font)
        for r in range(table.model().rowCount()):
            for c in range(table.model().columnCount()):
                text = shown_text(table, r, c)
                room = table.visualRect(table.model().index(r, c)).width() - NumberCellDelegate.PADDING_PX
                assert "…" not in text and metrics.horizontalAdvance(text) <= room, (name, r, c, text)
                value = table.model().value(r, c)
                assert math.isclose(float(text), value, rel_tol=0.06, abs_tol=1e-4), (name, text, value)
                checked += 1
    assert checked == 3 + 3 * 9 + 3 * 9  # x, A, B, C and the three gradients


# --------------------------------------------------------------------------- editing in a heat map


def test_a_heat_map_square_edits_pastes_copies_and_undoes(big_window, qtbot):
    set_k(qtbot, big_window, 32)
    doc = big_window.document
    editor = view(big_window, "matrixA")
    assert not editor.shows_numbers
    index = editor.model().index(3, 4)
    editor.setFocus()
    editor.setCurrentIndex(index)
    qtbot.keyClick(editor, Qt.Key.Key_F2)
    boxes = editor.viewport().findChildren(QLineEdit)
    assert boxes and boxes[-1].width() >= EDIT_BOX_WIDTH  # room to type, though the square is small
    assert editor.viewport().rect().contains(boxes[-1].geometry())
    boxes[-1].selectAll()
    qtbot.keyClicks(boxes[-1], "0.625")
    qtbot.keyClick(boxes[-1], Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: editor.state() != QAbstractItemView.State.EditingState, timeout=WAIT)
    assert doc.model.A[3][4] == 0.625
    assert editor.paste_text("1.5\t-2.5")
    assert doc.model.A[3][4:6] == [1.5, -2.5]
    editor.selectionModel().clearSelection()
    assert editor.block() == doc.model.A
    doc.undo_stack.undo()
    doc.undo_stack.undo()
    assert doc.model.A[3][4] != 0.625


# --------------------------------------------------------------------------- the palette


def test_cell_text_reaches_wcag_aa_on_every_palette_colour():
    worst = min(
        contrast_ratio(text_color(QColor(*diverging_rgb(t / 100))), QColor(*diverging_rgb(t / 100)))
        for t in range(-100, 101)
    )
    assert worst >= 4.5
    assert contrast_ratio(QColor(0, 0, 0), QColor(255, 255, 255)) == pytest.approx(21.0)


# Machado, Oliveira & Fernandes (2009), severity 1.0, applied to linear RGB.
_PROTANOPIA = (
    (0.152286, 1.052583, -0.204868),
    (0.114503, 0.786281, 0.099216),
    (-0.003882, -0.048116, 1.051998),
)
_DEUTERANOPIA = (
    (0.367322, 0.860646, -0.227968),
    (0.280085, 0.672501, 0.047413),
    (-0.011820, 0.042940, 0.968881),
)


def _simulate(rgb: tuple[int, int, int], matrix) -> tuple[float, float, float]:
    linear = [c / 255 / 12.92 if c / 255 <= 0.04045 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in rgb]
    out = [max(0.0, min(1.0, sum(m * v for m, v in zip(row, linear, strict=True)))) for row in matrix]
    return out[0], out[1], out[2]


def _lab(linear: tuple[float, float, float]) -> tuple[float, float, float]:
    r, g, b = linear
    x, y, z = (
        (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.9505,
        0.2126 * r + 0.7152 * g + 0.0722 * b,
        (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.089,
    )

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


@pytest.mark.parametrize("matrix", [_PROTANOPIA, _DEUTERANOPIA], ids=["protanopia", "deuteranopia"])
def test_palette_keeps_its_two_sides_for_red_green_colour_blindness(matrix):
    for step in range(5, 101, 5):
        t = step / 100
        pos, neg = _simulate(diverging_rgb(t), matrix), _simulate(diverging_rgb(-t), matrix)
        assert pos[0] > pos[2] and neg[2] > neg[0], t  # warm stays warm, cool stays cool
        if t >= 0.25:  # the mid-tones and beyond: clearly different colours (CIE76 ΔE)
            assert math.dist(_lab(pos), _lab(neg)) >= 15, t
    # Bigger |value|, darker square, on both sides: the scale reads by lightness too.
    for sign in (1, -1):
        lightness = [_lab(_simulate(diverging_rgb(sign * s / 20), matrix))[0] for s in range(21)]
        assert all(a > b for a, b in itertools.pairwise(lightness))


def test_the_context_menu_offers_the_other_view(big_window, qtbot):
    table = view(big_window, "gradB")
    assert table.shows_numbers
    menu = table._context_menu()
    [zoom] = [a for a in menu.actions() if "heat map" in a.text()]
    assert "Ctrl+wheel" in zoom.text()
    zoom.trigger()
    settle(qtbot, big_window)
    assert not table.shows_numbers
    menu.deleteLater()
    menu = table._context_menu()
    [zoom] = [a for a in menu.actions() if "numbers" in a.text()]
    zoom.trigger()
    settle(qtbot, big_window)
    assert table.shows_numbers
    menu.deleteLater()


def test_the_editors_legends_show_only_while_they_are_heat_maps(big_window, qtbot):
    legends = [big_window.findChild(QWidget, f"matrixScale{n}") for n in "XABC"]
    assert all(legend is not None for legend in legends)
    assert not any(legend.isVisible() for legend in legends)  # K = 3: numbers, no colour to explain
    big_window.document.replace_session(Session.random(32, 0), None)
    settle(qtbot, big_window)
    assert all(legend.isVisible() and legend.scale > 0 for legend in legends)
    big_window.document.mark_clean()
