"""Table views for matrices: copy as text everywhere, paste and refusal feedback on editable ones."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import shiboken6
from PySide6.QtCore import QEvent, QModelIndex, QPersistentModelIndex, QPoint, QSize, Qt, QTimer
from PySide6.QtGui import QAction, QFontMetricsF, QGuiApplication, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QMenu,
    QSizePolicy,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QToolTip,
    QWidget,
)

from backprop_lab.engine.formatting import format_number
from backprop_lab.engine.matrix_text import (
    format_latex_bmatrix,
    format_markdown,
    format_python,
    format_tsv,
    parse_matrix_text,
)
from backprop_lab.gui.document import EDITOR_MAX_K
from backprop_lab.gui.matrix_model import MatrixModel, _DocumentTableModel

ROW_HEIGHT = 24
MIN_COLUMN_WIDTH = 78
#: Rows shown before a table scrolls instead of growing.
MAX_VISIBLE_ROWS = 8

COPY_FORMATS: dict[str, Callable[[list[list[float]]], str]] = {
    "Tab-separated (spreadsheet)": format_tsv,
    "Python list": format_python,
    "LaTeX bmatrix": format_latex_bmatrix,
    "Markdown table": format_markdown,
}


class NumberCellDelegate(QStyledItemDelegate):
    """Shows a number whole in the width its column has: a narrow cell gets fewer digits, never an
    elided exponent (``6.6378e-…`` would make 6.6e-3 and 6.6e-13 look alike). The digits come from
    the ``cell`` precision of :mod:`engine.formatting` with ``max_chars`` set from the column width."""

    #: Room the style takes around a cell's text (margins and focus frame), in pixels.
    PADDING_PX = 8

    def initStyleOption(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        super().initStyleOption(option, index)
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

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._sizes.clear()
            self._tabular = None
        super().changeEvent(event)


#: Tables whose size waits to be fitted to a new shape, and whether a turn to fit one is scheduled.
_PENDING_FITS: list[MatrixTable] = []
_FIT_SCHEDULED = [False]


def _queue_fit(table: MatrixTable) -> None:
    """Fit ``table`` to its model's new shape in an event-loop turn of its own.

    Opening a K = 1024 file resets eight tables at once, and measuring a 1024-row header takes
    ~10 ms per table: fitted one per turn, the GUI thread never stalls for all of them together.
    """
    if table not in _PENDING_FITS:
        _PENDING_FITS.append(table)
    if not _FIT_SCHEDULED[0]:
        _FIT_SCHEDULED[0] = True
        QTimer.singleShot(0, _fit_next)


def _fit_next() -> None:
    _FIT_SCHEDULED[0] = False
    while _PENDING_FITS:
        table = _PENDING_FITS.pop(0)
        if shiboken6.isValid(table):  # a closed window's tables are gone by now
            table._fit_height()
            break
    if _PENDING_FITS:
        _FIT_SCHEDULED[0] = True
        QTimer.singleShot(0, _fit_next)


class MatrixTable(QTableView):
    """A compact table for one K×K (or 1×K) block; Ctrl+C and a "Copy as" menu copy it as text."""

    def __init__(
        self, model: _DocumentTableModel, object_name: str, title: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName(object_name)
        self.title = title
        self.setHorizontalHeader(MeasuredHeader(Qt.Orientation.Horizontal, self))
        self.setVerticalHeader(MeasuredHeader(Qt.Orientation.Vertical, self))
        self.setModel(model)
        self._number_delegate = NumberCellDelegate(self)
        self.setItemDelegate(self._number_delegate)
        self.setAccessibleName(title)
        self.setAlternatingRowColors(False)
        self.setWordWrap(False)
        self.setCornerButtonEnabled(False)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ContiguousSelection)
        h = self.horizontalHeader()
        h.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        h.setMinimumSectionSize(MIN_COLUMN_WIDTH)
        h.setDefaultSectionSize(MIN_COLUMN_WIDTH)
        v = self.verticalHeader()
        v.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        v.setDefaultSectionSize(ROW_HEIGHT)
        v.setMinimumWidth(22)
        v.setDefaultAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Maximum)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._on_self_context_menu)
        model.modelAboutToBeReset.connect(self._on_model_about_to_be_reset)
        model.modelReset.connect(self._fit_height_soon)
        self._on_model_about_to_be_reset()
        self._fit_height()

    def model(self) -> _DocumentTableModel:
        # Typed as what the constructor was given (Qt's model() returns the base class).
        return cast(_DocumentTableModel, super().model())

    # ------------------------------------------------------------------ sizing

    def _on_model_about_to_be_reset(self) -> None:
        # Stretch lays out every column again on each reset and resize (0.1 s at K = 1024, on the
        # GUI thread, when a file is opened); past the editors' K the columns are at their minimum
        # width anyway, which Fixed gives for free.
        wide = self.model().coming_shape()[1] > EDITOR_MAX_K
        mode = QHeaderView.ResizeMode.Fixed if wide else QHeaderView.ResizeMode.Stretch
        self.horizontalHeader().setSectionResizeMode(mode)

    def _fit_height_soon(self) -> None:
        _queue_fit(self)

    def _fit_height(self) -> None:
        # Tall enough for every row up to MAX_VISIBLE_ROWS, then scroll: no empty band under small K.
        rows = min(self.model().rowCount(), MAX_VISIBLE_ROWS)
        header = self.horizontalHeader().sizeHint().height()
        # Past about six columns the panel is narrower than the table and a scroll bar takes a row's room.
        extra = self.horizontalScrollBar().sizeHint().height() if self.model().columnCount() > 6 else 0
        self.setFixedHeight(header + rows * ROW_HEIGHT + 2 * self.frameWidth() + extra)
        # Wide enough for up to six columns side by side; beyond that the table scrolls.
        vheader = max(self.verticalHeader().sizeHint().width(), 22)
        cols = min(self.model().columnCount(), 6)
        self.setMinimumWidth(vheader + cols * MIN_COLUMN_WIDTH + 2 * self.frameWidth())

    # ------------------------------------------------------------------ copy

    def block(self) -> list[list[float]]:
        """The selected rectangle's values, or the whole matrix when nothing is selected."""
        model = self.model()
        sel = self.selectionModel().selectedIndexes() if self.selectionModel() else []
        if len(sel) > 1:
            rows = sorted({i.row() for i in sel})
            cols = sorted({i.column() for i in sel})
        else:
            rows = list(range(model.rowCount()))
            cols = list(range(model.columnCount()))
        return [[float(model.value(r, c) or 0.0) for c in cols] for r in rows]

    def copy_as(self, fmt: str) -> str:
        text = COPY_FORMATS[fmt](self.block())
        QGuiApplication.clipboard().setText(text)
        return text

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.matches(QKeySequence.StandardKey.Copy):
            self.copy_as("Tab-separated (spreadsheet)")
            event.accept()
            return
        super().keyPressEvent(event)

    def _context_menu(self) -> QMenu:
        menu = QMenu(self)
        copy = QAction("Copy", menu)
        copy.setShortcut(QKeySequence.StandardKey.Copy)
        copy.triggered.connect(lambda: self.copy_as("Tab-separated (spreadsheet)"))
        menu.addAction(copy)
        sub = menu.addMenu("Copy as")
        for fmt in COPY_FORMATS:
            act = sub.addAction(fmt)
            act.triggered.connect(lambda _=False, f=fmt: self.copy_as(f))
        return menu

    def _on_self_context_menu(self, pos: QPoint) -> None:
        menu = self._context_menu()
        menu.exec(self.viewport().mapToGlobal(pos))
        menu.deleteLater()


class MatrixEditor(MatrixTable):
    """An editable block: type a number, paste a block at the current cell, undo either."""

    def __init__(
        self, model: MatrixModel, object_name: str, title: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(model, object_name, title, parent)
        self.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.AnyKeyPressed
        )
        model.inputRefused.connect(self._on_model_input_refused)

    def paste_text(self, text: str) -> bool:
        """Paste ``text`` with its top-left at the current cell (0, 0 if none). False if refused."""
        model = cast(MatrixModel, self.model())
        cur = self.currentIndex()
        row, col = (cur.row(), cur.column()) if cur.isValid() else (0, 0)
        target = model.index(row, col)
        try:
            block = parse_matrix_text(text)
            if model.rowCount() == 1 and len(block) > 1 and all(len(r) == 1 for r in block):
                block = [[r[0] for r in block]]  # a column pasted into x is meant as the vector
            model._document.paste_block(model.name, row, col, block)
        except ValueError as exc:
            model.refuse(target, f"Paste into {self.title}: {exc}")
            return False
        return True

    def paste(self) -> bool:
        return self.paste_text(QGuiApplication.clipboard().text())

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.matches(QKeySequence.StandardKey.Paste):
            self.paste()
            event.accept()
            return
        super().keyPressEvent(event)

    def _context_menu(self) -> QMenu:
        menu = super()._context_menu()
        paste = QAction("Paste at current cell", menu)
        paste.setShortcut(QKeySequence.StandardKey.Paste)
        paste.setEnabled(not self.model()._document.is_training)
        paste.triggered.connect(self.paste)
        menu.insertAction(menu.actions()[1], paste)
        return menu

    def _on_model_input_refused(self, index: QModelIndex, message: str) -> None:
        rect = self.visualRect(index)
        QToolTip.showText(self.viewport().mapToGlobal(rect.bottomLeft()), message, self, rect, 4000)
