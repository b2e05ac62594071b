"""The live plot's controls: log y, smoothing, Auto-range, the hover readout, and the curve and x
choosers (which the window places with the runs list, gui.runs_panel); and its epoch lines.

Widgets and marks only: the plot panel (gui.plot_panel) connects them, reads their values and says
where the lines go.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QLabel, QPushButton, QSlider

from backprop_lab.gui import curves as curve_specs
from backprop_lab.gui.plot_data import X_MODES

SMOOTHING_STEPS = 1000  # the slider's resolution: weight = value / SMOOTHING_STEPS, at most 0.999
ALL_CURVES = ""  # the curve chooser's first entry: every curve of the session's own history


def _chooser(name: str, items: list[tuple[str, str]]) -> QComboBox:
    box = QComboBox()
    box.setObjectName(name)
    for text, data in items:
        box.addItem(text, data)
    # Narrow enough for the runs column: a long entry is elided, its popup shows it whole.
    box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    box.setMinimumContentsLength(8)
    return box


class PlotControls:
    """The widgets (see the module docstring), built once with their object names."""

    def __init__(self) -> None:
        self.log_y = QCheckBox("Log y")
        self.log_y.setObjectName("logY")
        self.smoothing = QSlider(Qt.Orientation.Horizontal)
        self.smoothing.setObjectName("smoothing")
        self.smoothing.setRange(0, int(SMOOTHING_STEPS * 0.999))
        self.smoothing.setValue(600)
        self.smoothing.setMinimumWidth(60)
        self.smoothing_label = QLabel()
        self.smoothing_label.setObjectName("smoothingValue")
        self.smoothing_label.setMinimumWidth(36)
        curves = [("All curves", ALL_CURVES)] + [(spec.name, spec.id) for spec in curve_specs.CURVES]
        self.curve_choice = _chooser("plotCurve", curves)
        self.x_choice = _chooser("plotX", [(f"x: {label}", mode) for mode, label in X_MODES])
        self.auto_range = QPushButton("Auto-range")
        self.auto_range.setObjectName("autoRange")
        self.readout = QLabel()
        self.readout.setObjectName("plotReadout")
        self.readout.setTextFormat(Qt.TextFormat.PlainText)
        self.readout.setWordWrap(True)
        self.readout.setMinimumWidth(100)
        # One line at the default window size: the readout is a caption, not body text.
        font = self.readout.font()
        font.setPointSizeF(font.pointSizeF() * 0.9)
        self.readout.setFont(font)


class EpochLines:
    """Dashed vertical lines where epochs begin, on ``plot_item``; none when there would be more
    than ``most`` (then they are noise, not information). Made as needed and kept."""

    def __init__(self, plot_item: pg.PlotItem, most: int) -> None:
        self._item, self._most = plot_item, most
        self._lines: list[pg.InfiniteLine] = []

    @property
    def visible(self) -> list[pg.InfiniteLine]:
        return [line for line in self._lines if line.isVisible()]

    def show(self, positions: list[float]) -> None:
        """Lines at ``positions`` (x in view units), or none when there are more than ``most``."""
        if len(positions) > self._most:
            positions = []
        pen = pg.mkPen("#bbbbbb", width=1, style=Qt.PenStyle.DashLine)
        while len(self._lines) < len(positions):
            line = pg.InfiniteLine(angle=90, movable=False, pen=pen)
            self._item.addItem(line, ignoreBounds=True)
            self._lines.append(line)
        for i, line in enumerate(self._lines):
            if i < len(positions):
                line.setPos(positions[i])
            line.setVisible(i < len(positions))
