"""Qt item models over the document's numbers: editable weights, read-only gradients, intermediates.

All of them show each value with at least 4 decimals (:mod:`engine.formatting`'s ``cell``) for
``Qt.DisplayRole``; ``Qt.EditRole`` gives the exact value (``full``: the shortest round trip), and the
tooltip names the entry in full precision.
``MatrixModel.setData(index, text, Qt.EditRole)`` accepts what the editors accept and refuses the rest
(empty, words, NaN, infinities, overflow) by returning False and emitting ``inputRefused``.
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QFont, QFontDatabase

from backprop_lab.engine.formatting import format_number
from backprop_lab.engine.matrix_text import parse_number
from backprop_lab.gui.document import INTERMEDIATES, Document
from backprop_lab.gui.heat_map import diverging_color, text_color

Index = QModelIndex | QPersistentModelIndex

FLASH_MS = 900
_REFUSED = QColor(255, 170, 170)
_ALIGN = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


def _fixed_font() -> QFont:
    font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    return font


class _DocumentTableModel(QAbstractTableModel):
    """Shared plumbing: follows ``modelChanged``; resets only when the shape changes."""

    def __init__(self, document: Document, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._document = document
        self._shape = self._current_shape()
        self._font = _fixed_font()
        self._scale: float | None = None
        document.modelChanged.connect(self._on_document_model_changed)

    # subclasses
    def _current_shape(self) -> tuple[int, int]:
        raise NotImplementedError

    def _value(self, row: int, col: int) -> float | None:
        raise NotImplementedError

    def _label(self, row: int, col: int) -> str:
        raise NotImplementedError

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else self._shape[0]

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else self._shape[1]

    def value(self, row: int, col: int) -> float | None:
        return self._value(row, col)

    def rows(self) -> list[list[float | None]]:
        """Every value, row by row (one call for a whole heat map, not one per cell)."""
        rows, cols = self._shape
        return [[self._value(r, c) for c in range(cols)] for r in range(rows)]

    @property
    def scale(self) -> float:
        """The |value| at which the colour saturates: the largest finite |entry| (0 if none)."""
        if self._scale is None:
            values = (v for row in self.rows() for v in row)
            self._scale = max((abs(v) for v in values if v is not None and math.isfinite(v)), default=0.0)
        return self._scale

    def coming_shape(self) -> tuple[int, int]:
        """(rows, columns) the model has after a pending reset (during ``modelAboutToBeReset``)."""
        return self._current_shape()

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        v = self._value(index.row(), index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            return format_number(v, "cell")
        if role == Qt.ItemDataRole.EditRole:
            return format_number(v, "full", none="")
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{self._label(index.row(), index.column())} = {format_number(v, 'full')}"
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _ALIGN
        if role == Qt.ItemDataRole.FontRole:
            return self._font
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            return str(section)
        if role == Qt.ItemDataRole.TextAlignmentRole and orientation == Qt.Orientation.Horizontal:
            return _ALIGN
        return None

    def _on_document_model_changed(self) -> None:
        self._scale = None
        shape = self._current_shape()
        if shape != self._shape:
            self.beginResetModel()
            self._shape = shape
            self.endResetModel()
        elif shape[0] and shape[1]:
            self.dataChanged.emit(self.index(0, 0), self.index(shape[0] - 1, shape[1] - 1))


class MatrixModel(_DocumentTableModel):
    """The editable block ``name`` ("x" is 1×K, "A", "B", "C" are K×K) of the document's model."""

    inputRefused = Signal(QModelIndex, str)  # the cell and a one-line reason

    def __init__(self, document: Document, name: str, parent: QObject | None = None) -> None:
        self.name = name
        super().__init__(document, parent)
        self._flash: QPersistentModelIndex | None = None
        self._flash_timer = QTimer(self)
        self._flash_timer.setSingleShot(True)
        self._flash_timer.setInterval(FLASH_MS)
        self._flash_timer.timeout.connect(self._on_flash_timer_timeout)

    def _current_shape(self) -> tuple[int, int]:
        k = self._document.K
        return (1 if self.name == "x" else k), k

    def _value(self, row: int, col: int) -> float:
        return self._document.value(self.name, row, col)

    def _label(self, row: int, col: int) -> str:
        return f"x[{col}]" if self.name == "x" else f"{self.name}[{row}][{col}]"

    def rows(self) -> list[list[float | None]]:
        return [list[float | None](row) for row in self._document.matrix(self.name)]

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if (
            role == Qt.ItemDataRole.DisplayRole
            and self.name == "x"
            and orientation == Qt.Orientation.Vertical
        ):
            return "x"
        return super().headerData(section, orientation, role)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.BackgroundRole and self._flash is not None and self._flash == index:
            return QBrush(_REFUSED)
        return super().data(index, role)

    def flags(self, index: Index) -> Qt.ItemFlag:
        base = super().flags(index)
        if index.isValid() and not self._document.is_training:
            return base | Qt.ItemFlag.ItemIsEditable
        return base

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        """Parse ``value`` (text or number) and make it one undoable edit; False (and a signal) if refused."""
        if role != Qt.ItemDataRole.EditRole or not index.isValid():
            return False
        try:
            number = value if isinstance(value, float) and math.isfinite(value) else parse_number(str(value))
            if number == self._value(index.row(), index.column()):
                return True
            self._document.set_entry(self.name, index.row(), index.column(), number)
        except ValueError as exc:
            self.refuse(index, f"{self._label(index.row(), index.column())}: {exc}; kept the old value")
            return False
        return True

    def refuse(self, index: Index, message: str) -> None:
        """Flash ``index`` red and report ``message`` (the status bar shows it)."""
        self._flash = QPersistentModelIndex(index)
        self.dataChanged.emit(index, index, [Qt.ItemDataRole.BackgroundRole])
        self._flash_timer.start()
        self.inputRefused.emit(self.index(index.row(), index.column()), message)
        self._document.notify(message)

    def _on_flash_timer_timeout(self) -> None:
        if self._flash is not None and self._flash.isValid():
            idx = self.index(self._flash.row(), self._flash.column())
            self._flash = None
            self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.BackgroundRole])
        self._flash = None


class GradientModel(_DocumentTableModel):
    """Read-only ∂L/∂``name`` with a diverging background colour, symmetric around 0 per matrix."""

    def __init__(self, document: Document, name: str, parent: QObject | None = None) -> None:
        self.name = name
        super().__init__(document, parent)

    def _current_shape(self) -> tuple[int, int]:
        k = self._document.K
        return k, k

    def _grad(self) -> list[list[float]] | None:
        return self._document.evaluation.grads.get(self.name)

    def _value(self, row: int, col: int) -> float | None:
        g = self._grad()
        return None if g is None else g[row][col]

    def _label(self, row: int, col: int) -> str:
        return f"∂L/∂{self.name}[{row}][{col}]"

    def rows(self) -> list[list[float | None]]:
        g = self._grad()
        return [list(row) for row in g] if g is not None else super().rows()

    @property
    def scale(self) -> float:
        """The |value| at which the colour saturates (the largest |entry| of this gradient)."""
        return self._document.evaluation.scales.get(self.name, 0.0)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if index.isValid() and role in (Qt.ItemDataRole.BackgroundRole, Qt.ItemDataRole.ForegroundRole):
            v = self._value(index.row(), index.column())
            if v is None:
                return None
            bg = diverging_color(v, self.scale)
            return QBrush(bg) if role == Qt.ItemDataRole.BackgroundRole else QBrush(text_color(bg))
        return super().data(index, role)


class IntermediatesModel(_DocumentTableModel):
    """Rows a, σ(a), u, z, w (each 1×K) of the forward pass at the model's x; read-only."""

    def _current_shape(self) -> tuple[int, int]:
        return len(INTERMEDIATES), self._document.K

    def _value(self, row: int, col: int) -> float | None:
        vec = self._document.evaluation.values.get(INTERMEDIATES[row][0])
        return None if vec is None else vec[col]

    def _label(self, row: int, col: int) -> str:
        return f"{INTERMEDIATES[row][1]}[{col}]"

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Vertical:
            return INTERMEDIATES[section][1]
        return super().headerData(section, orientation, role)
