"""Outlines over some cells of matrix tables: in the editors the cells a chain-rule entry reads,
in the gradient tables the entries a student's numbers disagree with (Verify ▸ Check my numbers…).

:class:`CellHighlighter` puts an overlay on each table's viewport. It paints and nothing else
(transparent to the mouse, below any open cell editor), so the tables work exactly as before. An
:class:`OutlineStyle` says how its outlines look; both styles draw inside the cell, where the
tables' own selection outline (outside it, black and white) never covers them.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QAbstractItemView, QWidget


@dataclass(frozen=True)
class OutlineStyle:
    """How an overlay outlines: ``colour`` for every cell, ``focus`` (thicker) for the one in focus,
    a translucent fill of ``colour`` (``fill_alpha``, 0 for none), ``dashed`` outlines (a white line
    under the dashes keeps them visible on the palette's dark blues), the overlay's objectName."""

    colour: QColor
    focus: QColor
    fill_alpha: int
    dashed: bool
    name: str


#: The chain rule's: the cells that feed the shown entry, amber, the entry's own cell red.
FEEDING_CELLS = OutlineStyle(QColor(255, 170, 0), QColor(200, 40, 40), 55, False, "chainRuleOverlay")
#: A check of a student's numbers: each disagreeing entry dashed magenta, the worst one solid and
#: thicker. Magenta is on neither side of the diverging red–blue palette the gradient tables use,
#: and the dashes tell it apart from the selection's solid frame without colour.
DISAGREEING_CELLS = OutlineStyle(QColor(200, 0, 170), QColor(200, 0, 170), 0, True, "disagreementOverlay")


class _Overlay(QWidget):
    """Paints outlines over some cells of one table; sees no mouse events and holds no focus."""

    def __init__(self, view: QAbstractItemView, style: OutlineStyle) -> None:
        super().__init__(view.viewport())
        self.setObjectName(style.name)
        self._view = view
        self._style = style
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
        style = self._style
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        fill = QColor(style.colour)
        fill.setAlpha(style.fill_alpha)
        for r, c in self.cells:
            rect = self._view.visualRect(model.index(r, c)).adjusted(1, 1, -2, -2)
            if rect.isEmpty():
                continue
            focus = (r, c) == self.focus
            if style.fill_alpha:
                painter.fillRect(rect, fill)
            pen = QPen(style.focus if focus else style.colour, 3 if focus else 2)
            if style.dashed and not focus:
                painter.setPen(QPen(QColor(255, 255, 255), 2))
                painter.drawRect(rect)
                pen.setStyle(Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.drawRect(rect)
        painter.end()


class CellHighlighter(QObject):
    """Outlines cells of several tables (by block name) with overlays on their viewports, in
    ``style`` (default: the chain rule's)."""

    def __init__(
        self,
        tables: dict[str, QAbstractItemView],
        parent: QObject | None = None,
        style: OutlineStyle = FEEDING_CELLS,
    ) -> None:
        super().__init__(parent)
        self.tables = {name: t for name, t in tables.items() if t is not None}
        self.overlays = {name: _Overlay(t, style) for name, t in self.tables.items()}
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
