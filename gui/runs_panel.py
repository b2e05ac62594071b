"""The runs list beside the live plot: every run the plot can show, its colour and a tick to show it.

The list (objectName ``runsList``) is a view of the window's :class:`gui.runs.RunsModel`; the plot
panel draws from the same model, and its curve and x choosers sit above the list (they say what the
plot shows of the runs; beside the plot's own controls they would widen it past a laptop's room).
Add… does what File ▸ Add run to compare… does (the window joins the button to the action);
Remove forgets the selected compared runs (the session's own history and its segments cannot be
removed, only hidden).
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QItemSelection, QSize, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QListView,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from backprop_lab.gui.layout import FitScrollArea
from backprop_lab.gui.runs import RunsModel

#: The runs list's width beside the plot: room for a name and its settings, the plot keeps the rest.
LIST_WIDTH = 190


class RunsPanel(QWidget):
    """The runs list with Add… and Remove (see the module docstring)."""

    def __init__(
        self, runs: RunsModel, choosers: Sequence[QWidget] = (), parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("runsPanel")
        self.runs = runs
        self.title = QLabel("Runs")
        self.title.setObjectName("runsTitle")
        self.list = QListView()
        self.list.setObjectName("runsList")
        self.list.setModel(runs)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.list.setIconSize(QSize(12, 12))  # the run's colour: a swatch, not a block
        self.list.setUniformItemSizes(True)
        self.add_button = QPushButton("Add…")
        self.add_button.setObjectName("addRun")
        self.remove_button = QPushButton("Remove")
        self.remove_button.setObjectName("removeRun")
        self.remove_button.setEnabled(False)

        self.list.setMinimumWidth(80)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 0, 0, 0)
        layout.addWidget(self.title)
        for chooser in choosers:
            layout.addWidget(chooser)
        layout.addWidget(self.list, 1)
        # Stacked, not side by side: the column stays narrow enough to leave the plot its room.
        layout.addWidget(self.add_button)
        layout.addWidget(self.remove_button)

        self.remove_button.clicked.connect(self._on_remove_clicked)
        self.list.selectionModel().selectionChanged.connect(self._on_selection_changed)
        runs.modelReset.connect(self._on_runs_reset)
        runs.rowsRemoved.connect(self._on_runs_reset)

    def selected_rows(self) -> list[int]:
        return sorted(i.row() for i in self.list.selectionModel().selectedRows())

    def _on_selection_changed(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        self.remove_button.setEnabled(any(self.runs.entry(r).compared for r in self.selected_rows()))

    def _on_runs_reset(self, *_args: object) -> None:
        self.remove_button.setEnabled(any(self.runs.entry(r).compared for r in self.selected_rows()))

    def _on_remove_clicked(self) -> None:
        for row in reversed(self.selected_rows()):
            if self.runs.entry(row).compared:
                self.runs.remove(row)


def plot_with_runs(plot: QWidget, runs_panel: RunsPanel) -> QSplitter:
    """The live plot and the runs list beside it, the plot taking what the list leaves.

    The list's column scrolls only when the window is too short for it (its choosers and buttons
    stacked are taller than the plot's least height), so it never makes the window's least size larger.
    """
    splitter = QSplitter(Qt.Orientation.Horizontal)
    splitter.setObjectName("plotAndRuns")
    splitter.addWidget(plot)
    splitter.addWidget(FitScrollArea(runs_panel))
    splitter.setStretchFactor(0, 1)
    splitter.setStretchFactor(1, 0)
    splitter.setCollapsible(0, False)
    splitter.setSizes([1000, LIST_WIDTH])
    return splitter
