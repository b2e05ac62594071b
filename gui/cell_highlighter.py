"""Outlines over some cells of the matrix editors: the cells a chain-rule entry reads.

:class:`CellHighlighter` puts an overlay on each editor's viewport. It paints and nothing else
(transparent to the mouse, below any open cell editor), so the editors work exactly as before.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QAbstractItemView, QWidget

_HIGHLIGHT = QColor(255, 170, 0)
_FOCUS = QColor(200, 40, 40)


class _Overlay(QWidget):
    """Paints outlines over some cells of one table; sees no mouse events and holds no focus."""

    def __init__(self, view: QAbstractItemView) -> None:
        super().__init__(view.viewport())
        self.setObjectName("chainRuleOverlay")
        self._view = view
        self.cells: frozenset[tuple[int, int]] = frozenset()
        self.focus: tuple[int, int] | None = None
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setAttribute(Qt.WidgetAttribute.WA_NoSystemBackground)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setGeometry(view.viewport().rect())
        self.lower()  # below a cell editor, should one open
        self.show()

    def set_cells(self, cells: frozenset[tuple[int, int]], focus: tuple[int, int] | None = None) -> None:
        self.cells, self.focus = cells, focus
        self.update()

    def paintEvent(self, _event: QPaintEvent) -> None:
        if not self.cells:
            return
        model = self._view.model()
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        fill = QColor(_HIGHLIGHT)
        fill.setAlpha(55)
        for r, c in self.cells:
            rect = self._view.visualRect(model.index(r, c)).adjusted(1, 1, -2, -2)
            if rect.isEmpty():
                continue
            focus = (r, c) == self.focus
            painter.fillRect(rect, fill)
            painter.setPen(QPen(_FOCUS if focus else _HIGHLIGHT, 3 if focus else 2))
            painter.drawRect(rect)
        painter.end()


class CellHighlighter(QObject):
    """Outlines cells of several tables (by block name) with overlays on their viewports."""

    def __init__(self, tables: dict[str, QAbstractItemView], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.tables = {name: t for name, t in tables.items() if t is not None}
        self.overlays = {name: _Overlay(t) for name, t in self.tables.items()}
        for name, t in self.tables.items():
            t.viewport().installEventFilter(self)
            t.horizontalScrollBar().valueChanged.connect(self.overlays[name].update)
            t.verticalScrollBar().valueChanged.connect(self.overlays[name].update)
            t.model().modelReset.connect(self.overlays[name].update)
            t.model().dataChanged.connect(self.overlays[name].update)

    def show_cells(
        self, cells: dict[str, frozenset[tuple[int, int]]], focus: tuple[str, int, int] | None = None
    ) -> None:
        for name, overlay in self.overlays.items():
            f = (focus[1], focus[2]) if focus and focus[0] == name else None
            overlay.set_cells(cells.get(name, frozenset()), f)

    def clear(self) -> None:
        self.show_cells({})

    def highlighted(self) -> dict[str, frozenset[tuple[int, int]]]:
        return {name: o.cells for name, o in self.overlays.items() if o.cells}

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize:
            for name, t in self.tables.items():
                if t.viewport() is watched:
                    self.overlays[name].setGeometry(t.viewport().rect())
        return False
