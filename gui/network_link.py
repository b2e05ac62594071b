"""The network view linked to the tables: an edge and its matrix entry are one thing.

:class:`NetworkLink` joins the graph (``gui.network_view.NetworkView``) to the matrix editors, the
gradient tables and the chain rule, both ways:

* clicking an edge makes that entry the current cell of its editor and of its gradient table
  (scrolled into view) and opens its chain rule;
* making a cell of A, B or C current in an editor or a gradient table (click, keyboard) highlights
  its edge and the path its chain rule runs through; a cell of x is no edge and clears it.

It holds no state of its own beyond the highlighted entry, which it drops when K shrinks past it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from PySide6.QtCore import QModelIndex, QObject
from PySide6.QtWidgets import QAbstractItemView

from backprop_lab.gui.chain_rule_panel import ChainRulePanel
from backprop_lab.gui.document import Document
from backprop_lab.gui.network_view import NetworkView

Cell = tuple[str, int, int]


class NetworkLink(QObject):
    """Links ``view`` with ``editors`` (x, A, B, C) and ``gradient_tables`` (A, B, C).

    ``show_chain_rule`` opens the chain-rule dock (the verify controller's); ``chain_rule`` is the
    panel it shows. ``highlight`` is the entry whose edge the view highlights, or None.
    """

    def __init__(
        self,
        document: Document,
        view: NetworkView,
        editors: Mapping[str, QAbstractItemView],
        gradient_tables: Mapping[str, QAbstractItemView],
        chain_rule: ChainRulePanel,
        show_chain_rule: Callable[[], object],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._document = document
        self._view = view
        self._editors = dict(editors)
        self._tables = dict(gradient_tables)
        self._chain_rule = chain_rule
        self._show_chain_rule = show_chain_rule
        self.highlight: Cell | None = None
        for name, table in (*self._editors.items(), *self._tables.items()):
            table.selectionModel().currentChanged.connect(
                lambda current, _previous, n=name: self._on_table_current_changed(n, current)
            )
        view.edgeClicked.connect(self._on_view_edge_clicked)
        document.modelChanged.connect(self._on_document_model_changed)

    def select(self, matrix: str, i: int, j: int) -> None:
        """Clicking the edge of ``matrix[i][j]``: the entry current everywhere, its chain rule open."""
        for tables in (self._editors, self._tables):
            table = tables.get(matrix)
            if table is None:
                continue
            index = table.model().index(i, j)
            table.setCurrentIndex(index)
            table.scrollTo(index)
        # The gradient table's current cell shows the chain rule, unless it was current already.
        if self._chain_rule.entry != (matrix, i, j):
            self._chain_rule.show_entry(matrix, i, j)
        self._show_chain_rule()
        self._set_highlight((matrix, i, j))

    def _set_highlight(self, cell: Cell | None) -> None:
        self.highlight = cell
        self._view.set_highlight(cell)

    # ------------------------------------------------------------------ slots

    def _on_view_edge_clicked(self, matrix: str, i: int, j: int) -> None:
        self.select(matrix, i, j)

    def _on_table_current_changed(self, name: str, current: QModelIndex) -> None:
        # An invalid current cell is a table giving up its selection to another: nothing to show.
        if current.isValid():
            self._set_highlight(None if name == "x" else (name, current.row(), current.column()))

    def _on_document_model_changed(self) -> None:
        cell = self.highlight
        if cell is not None and max(cell[1], cell[2]) >= self._document.K:
            self._set_highlight(None)
