"""How a matrix table's cells and headers are drawn and measured: numbers whole or not at all."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QFontMetricsF
from PySide6.QtWidgets import QHeaderView, QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from backprop_lab.engine.formatting import format_number

ROW_HEIGHT = 24
MIN_COLUMN_WIDTH = 78
#: Rows a table wider than the editors' K shows before it scrolls.
MAX_VISIBLE_ROWS = 8
#: Heat-map squares never get smaller (the table scrolls instead) or bigger than this, in pixels.
MIN_SQUARE = 3
MAX_SQUARE = ROW_HEIGHT
#: Characters every finite float fits in, from the cell formatter: "-0.1235", "-7e-13", "-1e-308".
NUMBER_CHARS = 7
#: Width of the box for typing a number into a heat-map square, which is smaller than the number.
EDIT_BOX_WIDTH = 140


class NumberCellDelegate(QStyledItemDelegate):
    """Shows a number whole in the width its column has: a narrow cell gets fewer digits, never an
    elided exponent (``6.6378e-…`` would make 6.6e-3 and 6.6e-13 look alike). The digits come from
    the ``cell`` precision of :mod:`engine.formatting` with ``max_chars`` set from the column width."""

    #: Room the style takes around a cell's text (margins and focus frame), in pixels.
    PADDING_PX = 8

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        #: True while the table is a heat map: a cell editor then opens wider than its square.
        self.squares = False

    def initStyleOption(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        super().initStyleOption(option, index)
        # The selection is outlined by the table: a fill would hide the cell's own colour.
        option.state &= ~QStyle.StateFlag.State_Selected
        text = option.text
        if not text or option.rect.width() <= 0:
            return
        metrics = QFontMetricsF(option.font)
        room = option.rect.width() - self.PADDING_PX
        if metrics.horizontalAdvance(text) <= room:
            return
        try:
            value = float(index.data(Qt.ItemDataRole.EditRole))
        except (TypeError, ValueError):
            return
        max_chars = max(1, int(room // max(metrics.horizontalAdvance("0"), 1.0)))
        option.text = format_number(value, "cell", max_chars=max_chars)

    def updateEditorGeometry(
        self, editor: QWidget, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        super().updateEditorGeometry(editor, option, index)
        parent = editor.parentWidget()
        if not self.squares or parent is None:
            return
        # A heat-map square is too small to type in: the box grows from it, inside the view.
        cell = option.rect
        box = QRect(cell.topLeft(), QSize(max(cell.width(), EDIT_BOX_WIDTH), max(cell.height(), ROW_HEIGHT)))
        room = parent.rect()
        box.moveLeft(max(0, min(box.left(), room.right() - box.width())))
        box.moveTop(max(0, min(box.top(), room.bottom() - box.height())))
        editor.setGeometry(box)


class MeasuredHeader(QHeaderView):
    """A header that remembers how big each label is.

    Qt measures up to 200 sections of a header whenever a table resets, lays out or paints, asking
    the model for about eight roles per section; at K = 1024, eight tables make ~30,000 calls into
    Python, most of the time the GUI thread spends opening the file. The size depends only on the
    label's text, the font and the style, so it is measured once per text (by Qt, as before).
    """

    def __init__(self, orientation: Qt.Orientation, parent: QWidget | None = None) -> None:
        super().__init__(orientation, parent)
        # As QTableView sets up the headers it makes itself.
        self.setSectionsClickable(True)
        self.setHighlightSections(True)
        self._sizes: dict[object, QSize] = {}
        self._tabular: bool | None = None  # all ten digits equally wide in this header's font

    def _digits_tabular(self) -> bool:
        if self._tabular is None:
            metrics = QFontMetricsF(self.font())
            self._tabular = len({metrics.horizontalAdvance(d) for d in "0123456789"}) == 1
        return self._tabular

    def sectionSizeFromContents(self, logicalIndex: int) -> QSize:
        model = self.model()
        if model is None:
            return super().sectionSizeFromContents(logicalIndex)
        key = model.headerData(logicalIndex, self.orientation(), Qt.ItemDataRole.DisplayRole)
        if isinstance(key, str) and key.isdigit() and self._digits_tabular():
            key = ("digits", len(key))  # "17" and "42" take the same room: one measure for both
        size = self._sizes.get(key)
        if size is None:
            size = self._sizes[key] = super().sectionSizeFromContents(logicalIndex)
        return QSize(size)

    def sizeHint(self) -> QSize:
        # Qt's own asks sectionSizeFromContents for the first and last 100 sections (200 calls
        # into Python a header, ~3 ms, on every reset). When every label is a number, the widest is
        # the last one's and all are equally tall: one measure says it.
        count = self.count()
        model = self.model()
        if model is None or count <= 64 or not self._digits_tabular():
            return super().sizeHint()
        ends = [model.headerData(i, self.orientation(), Qt.ItemDataRole.DisplayRole) for i in (0, count - 1)]
        if not all(isinstance(label, str) and label.isdigit() for label in ends):
            return super().sizeHint()
        return self.sectionSizeFromContents(count - 1)  # Qt's answer: the largest label's size

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._sizes.clear()
            self._tabular = None
        super().changeEvent(event)
