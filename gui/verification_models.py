"""The verification's tables: every entry beside its references, and one error heat map per matrix.

Qt item models over :class:`engine.gradcheck.CheckReport` s (the checks themselves run elsewhere);
:func:`error_color` is the heat-map colour scale both use.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFontDatabase
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QSizePolicy, QTableView

from backprop_lab.engine.formatting import format_number
from backprop_lab.engine.gradcheck import DEFAULT_RTOL, CheckReport, EntryCheck
from backprop_lab.gui.heat_map import text_color

Index = QModelIndex | QPersistentModelIndex


# --------------------------------------------------------------------------- colours and text


#: A failed entry: dark orange, the far end of the blue–orange scale below (readable by red–green
#: colour-blind users, as green–red was not), and white text reads on it.
FAILED_COLOUR = (179, 88, 6)
#: A verdict cell that passed: the scale's blue, light.
PASSED_COLOUR = (67, 147, 195, 90)


def error_color(error: float, passed: bool, tolerance: float = DEFAULT_RTOL) -> QColor:
    """Heat-map colour of a relative (or absolute) error: blue at 1e-16, through white, to orange
    near the tolerance, dark orange for a failed entry (a log scale: errors span twenty orders of
    magnitude). Blue–orange, so that red–green colour-blind users read it too."""
    if not passed or not math.isfinite(error):
        return QColor(*FAILED_COLOUR)
    if error <= 0.0:
        return QColor(67, 147, 195)
    lo, hi = -16.0, math.log10(max(tolerance, 1e-15))
    t = min(1.0, max(0.0, (math.log10(error) - lo) / (hi - lo)))
    # ColorBrewer PuOr/RdBu stops: #4393c3 → #d1e5f0 → #fee0b6 → #fdb863 towards the tolerance.
    stops = ((67, 147, 195), (209, 229, 240), (254, 224, 182), (253, 184, 99))
    x = t * (len(stops) - 1)
    s = min(int(x), len(stops) - 2)
    f = x - s
    return QColor(*(round(a + (b - a) * f) for a, b in zip(stops[s], stops[s + 1], strict=True)))


def greyed(color: QColor) -> QColor:
    """``color`` without its hue, lightened: a cell about an earlier model (out of date) that stays
    readable with dark text but can no longer be read as a verdict."""
    lum = 0.299 * color.red() + 0.587 * color.green() + 0.114 * color.blue()
    g = round(175 + 0.3 * lum)
    return QColor(g, g, g)


STALE_TEXT = QColor(0x59, 0x59, 0x59)
STALE_TIP = "Out of date (checked for an earlier model): "


# --------------------------------------------------------------------------- table models


COLUMNS = (
    "Entry",
    "Analytic",
    "Central difference",
    "|Δ| FD",
    "rel FD",
    "PyTorch",
    "|Δ| torch",
    "rel torch",
    "Pass",
)
#: The order the table shows COLUMNS in: the verdict right after the entry, where it is seen first.
VIEW_ORDER = (0, 8, 1, 2, 3, 4, 5, 6, 7)


class EntriesModel(QAbstractTableModel):
    """One row per weight (A, B, C row by row): analytic, references, errors, pass."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._fd: tuple[EntryCheck, ...] = ()
        self._torch: tuple[EntryCheck, ...] | None = None
        self._font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        #: The entries are about an earlier model: drawn grey (see :func:`greyed`).
        self.stale = False

    def set_stale(self, stale: bool) -> None:
        if stale != self.stale:
            self.stale = stale
            if self._fd:
                self.dataChanged.emit(self.index(0, 0), self.index(len(self._fd) - 1, len(COLUMNS) - 1))

    def set_reports(self, fd: CheckReport | None, torch: CheckReport | None) -> None:
        """Show the finite-difference check's entries, with PyTorch's beside them when there is one."""
        self.beginResetModel()
        self._fd = fd.entries if fd else ()
        self._torch = torch.entries if fd and torch else None
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._fd)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[VIEW_ORDER[section]]
        return None

    def entry(self, row: int) -> tuple[EntryCheck, EntryCheck | None]:
        return self._fd[row], (self._torch[row] if self._torch else None)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        fd, tc = self.entry(index.row())
        col = VIEW_ORDER[index.column()]  # the logical column (COLUMNS' order)
        if role == Qt.ItemDataRole.DisplayRole:
            passed = fd.passed and (tc is None or tc.passed)
            return (
                f"∂L/∂{fd.matrix}[{fd.i}][{fd.j}]",
                format_number(fd.analytic, "precise"),
                format_number(fd.reference, "precise"),
                format_number(fd.abs_error, "error"),
                format_number(fd.rel_error, "error"),
                format_number(tc.reference if tc else None, "precise"),
                format_number(tc.abs_error if tc else None, "error"),
                format_number(tc.rel_error if tc else None, "error"),
                "✓" if passed else "✗",
            )[col]
        if role == Qt.ItemDataRole.BackgroundRole and col in (3, 4, 6, 7, 8):
            check = fd if col in (3, 4) else tc
            if col == 8:
                ok = fd.passed and (tc is None or tc.passed)
                colour = QColor(*PASSED_COLOUR) if ok else QColor(*FAILED_COLOUR)
            elif check is None:
                return None
            else:
                colour = error_color(check.rel_error, check.passed)
            return QBrush(greyed(colour) if self.stale else colour)
        if role == Qt.ItemDataRole.ForegroundRole and self.stale:
            return QBrush(STALE_TEXT)
        if role == Qt.ItemDataRole.ForegroundRole and col in (3, 4, 6, 7):
            # Text readable on its coloured cell whatever the palette's text colour (light when dark).
            check = fd if col in (3, 4) else tc
            return None if check is None else QBrush(text_color(error_color(check.rel_error, check.passed)))
        if role == Qt.ItemDataRole.ToolTipRole and col in (3, 4, 6, 7):
            check = fd if col in (3, 4) else tc
            if check is not None:
                return (STALE_TIP if self.stale else "") + (
                    f"|Δ| = {check.abs_error!r}, tolerance for this entry {check.tolerance:.3g} "
                    f"({'passed' if check.passed else 'FAILED'})"
                )
        if role == Qt.ItemDataRole.TextAlignmentRole and col == 8:
            return int(Qt.AlignmentFlag.AlignCenter)
        if role == Qt.ItemDataRole.TextAlignmentRole and col > 0:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.FontRole and col > 0:
            return self._font
        return None


class HeatMapModel(QAbstractTableModel):
    """K×K errors of one matrix, coloured on a log scale; the text is the error (K ≤ 8) or empty."""

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self._rows: list[list[EntryCheck]] = []
        self.metric = "rel_error"
        #: The errors are about an earlier model: drawn grey (see :func:`greyed`).
        self.stale = False

    def set_stale(self, stale: bool) -> None:
        if stale != self.stale:
            self.stale = stale
            if self._rows:
                last = self.index(len(self._rows) - 1, len(self._rows[0]) - 1)
                self.dataChanged.emit(self.index(0, 0), last)

    def set_report(self, report: CheckReport | None, metric: str) -> None:
        self.beginResetModel()
        self._rows = report.by_matrix(self.name) if report else []
        self.metric = metric
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() or not self._rows else len(self._rows[0])

    def error(self, row: int, col: int) -> float:
        return float(getattr(self._rows[row][col], self.metric))

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        e = self._rows[index.row()][index.column()]
        v = self.error(index.row(), index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            return (f"{v:.0e}" if v else "0") if len(self._rows) <= 6 else None
        if role == Qt.ItemDataRole.BackgroundRole:
            colour = error_color(e.rel_error, e.passed)
            return QBrush(greyed(colour) if self.stale else colour)
        if role == Qt.ItemDataRole.ForegroundRole:
            return QBrush(STALE_TEXT if self.stale else text_color(error_color(e.rel_error, e.passed)))
        if role == Qt.ItemDataRole.ToolTipRole:
            return (STALE_TIP if self.stale else "") + (
                f"∂L/∂{e.matrix}[{e.i}][{e.j}]: analytic {e.analytic!r}, reference {e.reference!r}, "
                f"|Δ| {e.abs_error:.2e}, relative {e.rel_error:.2e}"
            )
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignCenter)
        return None

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        return str(section) if role == Qt.ItemDataRole.DisplayRole else None


def heat_table(model: HeatMapModel) -> QTableView:
    view = QTableView()
    view.setObjectName(f"heatMap{model.name}")
    view.setModel(model)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
    for header in (view.horizontalHeader(), view.verticalHeader()):
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(8)
    font = view.font()
    font.setPointSizeF(font.pointSizeF() * 0.85)
    view.setFont(font)
    view.horizontalHeader().setFont(font)
    view.verticalHeader().setFont(font)
    view.setMinimumHeight(70)
    view.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
    return view
