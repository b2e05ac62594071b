"""A number in a narrow table cell keeps its exponent: fewer digits, never ``6.6378e-…``."""

from __future__ import annotations

import math

from PySide6.QtCore import QRect
from PySide6.QtGui import QFontMetricsF
from PySide6.QtWidgets import QStyleOptionViewItem

from backprop_lab.engine.model import Model
from backprop_lab.gui.matrix_cells import NumberCellDelegate
from backprop_lab.gui.matrix_editor import MatrixTable
from backprop_lab.gui.matrix_model import MatrixModel


def _shown(table: MatrixTable, row: int, col: int, width: int) -> str:
    option = QStyleOptionViewItem()
    option.initFrom(table)
    option.rect = QRect(0, 0, width, 24)
    index = table.model().index(row, col)
    table.itemDelegateForIndex(index).initStyleOption(option, index)
    return option.text


def test_narrow_cells_drop_digits_and_keep_the_exponent(qtbot, document):
    small = [[6.6378e-3, 6.6378e-13, -2.1699e-7], [1.0, 2.0, 3.0], [0.25, -44.0612131, 3e9]]
    document.set_model(Model([1.0, 2.0, 3.0], small, small, small))
    table = MatrixTable(MatrixModel(document, "A"), "matrixA", "A")
    qtbot.addWidget(table)
    # Wide enough: the cell precision as it is.
    assert _shown(table, 0, 0, 400) == "6.6378e-03"
    assert _shown(table, 2, 1, 400) == "-44.0612"
    font = table.model().data(table.model().index(0, 0), 6)  # FontRole
    digit = QFontMetricsF(font).horizontalAdvance("0")
    for width in (40, 50, 60, 70):
        for (row, col), exponent in {(0, 0): -3, (0, 1): -13, (0, 2): -7, (2, 2): 9}.items():
            text = _shown(table, row, col, width)
            assert "…" not in text and "e" in text, (width, text)
            assert int(text.split("e")[1]) in (exponent, exponent + 1), (width, text)
            fits = QFontMetricsF(font).horizontalAdvance(text) <= width - NumberCellDelegate.PADDING_PX
            # Even 7e-13 needs five characters: below that the text stays whole (Qt then clips it).
            assert fits or len(text) <= 5, (width, text)
    # A cell as narrow as the editors' minimum column still shows 6.6e-13 and 6.6e-3 apart.
    narrow = math.ceil(7 * digit) + NumberCellDelegate.PADDING_PX
    assert _shown(table, 0, 0, narrow) == "6.64e-3"
    assert _shown(table, 0, 1, narrow) == "6.6e-13"
