"""Table views for matrices: copy as text everywhere, paste and refusal feedback on editable ones."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import cast

import shiboken6
from PySide6.QtCore import (
    QEvent,
    QModelIndex,
    QPoint,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QFontMetricsF,
    QGuiApplication,
    QImage,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPaintEvent,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHeaderView,
    QMenu,
    QSizePolicy,
    QTableView,
    QToolTip,
    QWidget,
)

from backprop_lab.engine.matrix_text import (
    format_latex_bmatrix,
    format_markdown,
    format_python,
    format_tsv,
    parse_matrix_text,
)
from backprop_lab.gui.document import EDITOR_MAX_K
from backprop_lab.gui.heat_map import matrix_image, paint_heat_map, paint_marks
from backprop_lab.gui.matrix_cells import (
    MAX_SQUARE,
    MAX_VISIBLE_ROWS,
    MIN_COLUMN_WIDTH,
    MIN_SQUARE,
    NUMBER_CHARS,
    ROW_HEIGHT,
    MeasuredHeader,
    NumberCellDelegate,
)
from backprop_lab.gui.matrix_model import MatrixModel, _DocumentTableModel

COPY_FORMATS: dict[str, Callable[[list[list[float]]], str]] = {
    "Tab-separated (spreadsheet)": format_tsv,
    "Python list": format_python,
    "LaTeX bmatrix": format_latex_bmatrix,
    "Markdown table": format_markdown,
}


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


def _resize_sections(header: QHeaderView, size: int, resize: bool = True) -> None:
    """Every section of ``header`` to ``size`` (a Fixed header keeps the sizes a Stretch one gave)."""
    header.setDefaultSectionSize(size)
    if resize:
        for i in range(header.count()):
            if header.sectionSize(i) != size:
                header.resizeSection(i, size)


class MatrixTable(QTableView):
    """A K×K (or 1×K, 5×K) block that shows the whole matrix in the room it has.

    Numbers when every column fits a whole number (``NUMBER_CHARS`` characters) and every row fits
    its height, else a heat map: one coloured square a cell on the diverging palette, the value and
    its index in the tooltip, the hovered cell's row and column outlined. Ctrl+wheel (or the context
    menu) zooms between the two; zoomed past what fits, the table scrolls. Selection is an outline,
    never a fill. Ctrl+C and a "Copy as" menu copy it as text.
    """

    #: True when the table now shows numbers, False when it shows the heat map.
    displayChanged = Signal(bool)

    def __init__(
        self, model: _DocumentTableModel, object_name: str, title: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName(object_name)
        self.title = title
        self._zoom: str | None = None  # None: whatever fits; "numbers" / "heat": the user's choice
        self._numbers = True
        self._fits = True
        self._hover: tuple[int, int] | None = None
        self._image: QImage | None = None
        self._number_width = 0
        self._fitting = False
        #: True: ask the layout only for the heat map's room (see sizeHint).
        self.modest = False
        self.setHorizontalHeader(MeasuredHeader(Qt.Orientation.Horizontal, self))
        self.setVerticalHeader(MeasuredHeader(Qt.Orientation.Vertical, self))
        self.setModel(model)
        self._number_delegate = NumberCellDelegate(self)
        self.setItemDelegate(self._number_delegate)
        self.setAccessibleName(title)
        self.setAlternatingRowColors(False)
        self.setWordWrap(False)
        self.setCornerButtonEnabled(False)
        self.setMouseTracking(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ContiguousSelection)
        h = self.horizontalHeader()
        h.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        h.setMinimumSectionSize(1)
        h.setDefaultSectionSize(MIN_COLUMN_WIDTH)
        v = self.verticalHeader()
        v.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        v.setMinimumSectionSize(1)
        v.setDefaultSectionSize(ROW_HEIGHT)
        v.setMinimumWidth(22)
        v.setDefaultAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._on_self_context_menu)
        model.modelAboutToBeReset.connect(self._on_model_about_to_be_reset)
        model.modelReset.connect(self._fit_height_soon)
        model.modelReset.connect(self._on_model_data_changed)
        model.dataChanged.connect(self._on_model_data_changed)
        # Numbers are framed, heat maps are not: decisions use the framed size so they do not flip.
        self._numbers_frame = self.frameWidth()
        self._on_model_about_to_be_reset()
        self._fit_height()

    def model(self) -> _DocumentTableModel:
        # Typed as what the constructor was given (Qt's model() returns the base class).
        return cast(_DocumentTableModel, super().model())

    # ------------------------------------------------------------------ what it shows

    @property
    def shows_numbers(self) -> bool:
        """True when the cells show numbers, False when they are coloured squares without text."""
        return self._numbers

    @property
    def hovered(self) -> tuple[int, int] | None:
        """(row, column) of the cell under the mouse, whose row and column are outlined."""
        return self._hover

    def number_width(self) -> int:
        """The narrowest column that shows every finite number whole (``NUMBER_CHARS`` characters)."""
        if not self._number_width:
            metrics = QFontMetricsF(self.model()._font)
            digit = max(metrics.horizontalAdvance(ch) for ch in "0-.e")
            self._number_width = math.ceil(NUMBER_CHARS * digit) + NumberCellDelegate.PADDING_PX + 1
        return self._number_width

    def zoom_in(self) -> None:
        """Show numbers (scrolling if the matrix does not fit them)."""
        self._zoom = None if self._fits else "numbers"
        self._fit_height()

    def zoom_out(self) -> None:
        """Show the heat map (the whole matrix, squares as big as the room allows)."""
        self._zoom = "heat" if self._fits else None
        self._fit_height()

    def wheelEvent(self, event: QWheelEvent) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            dy = event.angleDelta().y()
            if dy > 0:
                self.zoom_in()
            elif dy < 0:
                self.zoom_out()
            event.accept()
            return
        super().wheelEvent(event)

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

    def _named_rows(self) -> bool:
        # x and the intermediates name their rows ("x", "σ(a)", …): those names stay on screen.
        return not str(self.model().headerData(0, Qt.Orientation.Vertical)).isdigit()

    def _heights(self, rows: int) -> tuple[int, int]:
        """(height of the numbers, height of one heat-map row if the rows are named, else 0)."""
        numbers = self.horizontalHeader().sizeHint().height() + rows * ROW_HEIGHT
        label = QFontMetricsF(self.verticalHeader().font()).height() + 2 if self._named_rows() else 0
        return numbers + 2 * self._numbers_frame, math.ceil(label)

    def _tight_row(self) -> int:
        """The lowest row that still shows a number: its font's height and a little air."""
        return min(ROW_HEIGHT, math.ceil(QFontMetricsF(self.model()._font).height()) + 4)

    def sizeHint(self) -> QSize:
        # Tall enough for the numbers: a layout short of room shrinks every table towards its
        # heat map; a ``modest`` table asks only for its heat map and shows numbers from what is left.
        rows, cols = self.model().rowCount(), self.model().columnCount()
        vheader = max(self.verticalHeader().sizeHint().width(), 22)
        width = min(vheader + cols * self.number_width(), 360) + 2 * self._numbers_frame
        height = self.minimumSizeHint().height() if self.modest else self._heights(rows)[0]
        return QSize(width, height)

    def minimumSizeHint(self) -> QSize:
        rows, cols = self.model().rowCount(), self.model().columnCount()
        if cols > EDITOR_MAX_K:
            return super().minimumSizeHint()
        label = self._heights(rows)[1]
        vheader = max(self.verticalHeader().sizeHint().width(), 22) if label else 0
        return QSize(vheader + cols * MIN_SQUARE, rows * (label or MIN_SQUARE))

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.model().columnCount() <= EDITOR_MAX_K:
            self._fit_height()

    def _fit_height(self) -> None:
        """Numbers or the heat map, whichever the room allows (or the user zoomed to), cells sized."""
        if self._fitting:  # a scroll bar or the frame changed the viewport: fitted again next turn
            _queue_fit(self)
            return
        self._fitting = True
        try:
            self._fit()
        finally:
            self._fitting = False

    def _fit(self) -> None:
        rows, cols = self.model().rowCount(), self.model().columnCount()
        if cols > EDITOR_MAX_K:
            self._fit_wide(rows, cols)
            return
        frame = 2 * self._numbers_frame
        width, height = self.width() - frame, self.height() - frame
        vheader = max(self.verticalHeader().sizeHint().width(), 22)
        numbers_height, label = self._heights(rows)
        wide_enough = bool(cols) and width - vheader >= cols * self.number_width()
        # Rows give up their air before the numbers give way to colour.
        spare_rows = numbers_height - frame - height
        row = ROW_HEIGHT - max(0, math.ceil(spare_rows / max(rows, 1)))
        self._fits = wide_enough and row >= self._tight_row()
        numbers = self._zoom == "numbers" or (self._zoom is None and self._fits)
        scrolls = not self._fits and numbers
        # The heat map has no frame: its squares get the frame's pixels too.
        room = self.width() - (vheader if label else 0)
        column = max(MIN_SQUARE, min(MAX_SQUARE, room // max(cols, 1)))
        square = max(MIN_SQUARE, min(column, self.height() // max(rows, 1)))
        if numbers:
            tallest = numbers_height + (self.horizontalScrollBar().sizeHint().height() if scrolls else 0)
        elif wide_enough:
            tallest = numbers_height  # room to grow into numbers when the panel gives it
        else:
            tallest = rows * (label or column)  # as tall as the squares, no empty band
        self.setMinimumHeight(0)
        self.setMaximumHeight(tallest)
        h, v = self.horizontalHeader(), self.verticalHeader()
        h.setVisible(numbers)
        v.setVisible(numbers or bool(label))
        if numbers:
            fixed, stretch = QHeaderView.ResizeMode.Fixed, QHeaderView.ResizeMode.Stretch
            h.setSectionResizeMode(fixed if scrolls else stretch)
            _resize_sections(h, MIN_COLUMN_WIDTH, resize=scrolls)
            _resize_sections(v, ROW_HEIGHT if scrolls else max(row, 1))
        else:
            h.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
            _resize_sections(h, column if label else square)
            _resize_sections(v, label or square)
        # Scroll bars only where the user zoomed in, or where even the smallest squares overflow.
        overflow = not numbers and (cols * column > room or rows * (label or square) > self.height())
        policy = Qt.ScrollBarPolicy.ScrollBarAlwaysOff
        if scrolls or overflow:
            policy = Qt.ScrollBarPolicy.ScrollBarAsNeeded
        self.setHorizontalScrollBarPolicy(policy)
        self.setVerticalScrollBarPolicy(policy)
        # A heat map is framed by its own edge, not by an empty table's frame.
        self.setFrameShape(QFrame.Shape.StyledPanel if numbers else QFrame.Shape.NoFrame)
        self._number_delegate.squares = not numbers
        if numbers != self._numbers:
            self._numbers = numbers
            self.viewport().update()
            self.displayChanged.emit(numbers)

    def _fit_wide(self, rows: int, cols: int) -> None:
        # Past the editors' K (a file opened with K up to 1024) the table scrolls through numbers.
        self._numbers = True
        self._number_delegate.squares = False
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.horizontalHeader().setVisible(True)
        self.verticalHeader().setVisible(True)
        self.horizontalHeader().setDefaultSectionSize(MIN_COLUMN_WIDTH)
        self.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        header = self.horizontalHeader().sizeHint().height()
        extra = self.horizontalScrollBar().sizeHint().height()
        self.setFixedHeight(header + min(rows, MAX_VISIBLE_ROWS) * ROW_HEIGHT + 2 * self.frameWidth() + extra)

    # ------------------------------------------------------------------ painting

    def _on_model_data_changed(self) -> None:
        self._image = None
        self.viewport().update()

    def paintEvent(self, event: QPaintEvent) -> None:
        if self._numbers:
            super().paintEvent(event)
        else:
            self._paint_heat_map()
        self._paint_marks()

    def _paint_heat_map(self) -> None:
        model = self.model()
        if self._image is None and model.rowCount() and model.columnCount():
            self._image = matrix_image(model.rows(), model.scale)
        paint_heat_map(self, self._image)

    def _paint_marks(self) -> None:
        current = self.currentIndex()
        focus = None
        if not self._numbers and current.isValid() and self.hasFocus():
            focus = (current.row(), current.column())
        paint_marks(self, self._hover, focus)

    # ------------------------------------------------------------------ hover

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        super().mouseMoveEvent(event)
        index = self.indexAt(event.position().toPoint())
        self._set_hover((index.row(), index.column()) if index.isValid() else None)

    def viewportEvent(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Leave:
            self._set_hover(None)
        return super().viewportEvent(event)

    def _set_hover(self, cell: tuple[int, int] | None) -> None:
        if cell != self._hover:
            self._hover = cell
            self.viewport().update()

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
        for key, zoom in (
            (QKeySequence.StandardKey.ZoomIn, self.zoom_in),
            (QKeySequence.StandardKey.ZoomOut, self.zoom_out),
        ):
            if event.matches(key) and self.model().columnCount() <= EDITOR_MAX_K:
                zoom()  # the keyboard's Ctrl+wheel
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
        if self.model().columnCount() <= EDITOR_MAX_K:
            menu.addSeparator()
            if self._numbers:
                menu.addAction("Show as heat map (Ctrl+wheel down, Ctrl+−)").triggered.connect(self.zoom_out)
            else:
                menu.addAction("Show numbers (Ctrl+wheel up, Ctrl++)").triggered.connect(self.zoom_in)
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
