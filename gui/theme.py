"""Light or dark: the window follows the palette the desktop hands Qt, and the plots follow the window.

Qt's widgets take the system palette by themselves; pyqtgraph's plots do not (their background,
axes and legend are painted in colours of their own). :func:`apply_to_plot` gives a plot the
colours of the current palette; the main window calls :func:`apply_to_window` again whenever its
palette changes (the desktop switched between light and dark).

:func:`dark_palette` is what a dark desktop hands Qt, near enough: the screenshots and the tests use
it to stand in for one.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyqtgraph as pg
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QWidget

from backprop_lab.gui.contrast import is_dark

Role = QPalette.ColorRole


@dataclass(frozen=True)
class PlotColours:
    """What a plot paints besides its curves."""

    background: str
    text: str  # tick labels, axis labels, titles, legend
    axis: str  # axis lines and ticks
    legend_fill: tuple[int, int, int, int]


LIGHT = PlotColours(background="#ffffff", text="#333333", axis="#666666", legend_fill=(255, 255, 255, 210))
# Text #dddddd on #1e1e1e is 12.6:1, axes #a0a0a0 6.4:1 (WCAG AA asks 4.5:1 of text).
DARK = PlotColours(background="#1e1e1e", text="#dddddd", axis="#a0a0a0", legend_fill=(30, 30, 30, 210))


def plot_colours(palette: QPalette | None = None) -> PlotColours:
    return DARK if is_dark(palette) else LIGHT


def apply_to_plot(widget: pg.PlotWidget, colours: PlotColours) -> None:
    """Background, axes, title and legend of ``widget``'s plot in ``colours``."""
    widget.setBackground(colours.background)
    item = widget.getPlotItem()
    for name in ("left", "bottom", "right", "top"):
        axis = item.getAxis(name)
        axis.setPen(colours.axis)
        axis.setTextPen(colours.text)  # the axis label too
    title = item.titleLabel
    if title.text:
        title.setText(title.text, color=colours.text)
    legend = item.legend
    if legend is not None:
        legend.setLabelTextColor(colours.text)  # for labels added later
        for _sample, label in legend.items:  # pyqtgraph sets the colour of the others but draws the old
            label.setText(label.text, color=colours.text)
        legend.setBrush(pg.mkBrush(*colours.legend_fill))


def apply_to_window(window: QWidget, palette: QPalette | None = None) -> PlotColours:
    """Every plot in ``window`` in the colours of ``palette`` (the application's); the colours."""
    colours = plot_colours(palette)
    for widget in window.findChildren(pg.PlotWidget):
        apply_to_plot(widget, colours)
    return colours


def dark_palette() -> QPalette:
    """A dark palette like the ones dark desktop themes give Qt (Fusion's colours, inverted)."""
    p = QPalette()
    window, base, text = QColor(45, 45, 45), QColor(30, 30, 30), QColor(230, 230, 230)
    for role, colour in (
        (Role.Window, window),
        (Role.WindowText, text),
        (Role.Base, base),
        (Role.AlternateBase, QColor(55, 55, 55)),
        (Role.ToolTipBase, QColor(60, 60, 60)),
        (Role.ToolTipText, text),
        (Role.PlaceholderText, QColor(160, 160, 160)),
        (Role.Text, text),
        (Role.Button, QColor(53, 53, 53)),
        (Role.ButtonText, text),
        (Role.BrightText, QColor(255, 90, 90)),
        (Role.Light, QColor(75, 75, 75)),
        (Role.Midlight, QColor(62, 62, 62)),
        (Role.Mid, QColor(150, 150, 150)),
        (Role.Dark, QColor(25, 25, 25)),
        (Role.Shadow, QColor(0, 0, 0)),
        (Role.Link, QColor(110, 170, 255)),
        (Role.Highlight, QColor(60, 110, 180)),
        (Role.HighlightedText, QColor(255, 255, 255)),
    ):
        p.setColor(role, colour)
    disabled = QColor(130, 130, 130)
    for role in (Role.WindowText, Role.Text, Role.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    return p
