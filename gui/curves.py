"""The training curves, defined once: which History column each curve plots, its name (the legend
and the hover readout), its colour and its pens. The window's live plot (:mod:`gui.plot_panel`)
and the report's charts (:mod:`gui.report_charts`) both draw from :data:`CURVES`, so a curve reads
the same on screen and on paper.

Colours are matplotlib's tab10 (distinct, tolerable for colour-blind readers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import pyqtgraph as pg
from PySide6.QtGui import QColor, QPen


@dataclass(frozen=True)
class CurveSpec:
    """One curve: ``id`` is its History column, ``name`` its legend label, ``colour`` a hex RGB.

    ``report_width`` is its line width in the report's charts (in the chart's logical pixels): the
    smooth loss at x is drawn heavier than the noisy batch loss so that both stay visible. The live
    plot draws every curve 1 pixel wide (wider pens cost it twice the painting time per frame).
    """

    id: str
    name: str
    colour: str
    report_width: float = 2.0

    def pen(self, width: float = 1.0, alpha: int = 255) -> QPen:
        """A cosmetic pen of this curve's colour (``alpha`` 0–255: the faint raw curve behind a
        smoothed one), ``width`` in device pixels."""
        colour = QColor(self.colour)
        colour.setAlpha(alpha)
        return cast(QPen, pg.mkPen(colour, width=width))  # pyqtgraph is untyped; mkPen makes a QPen


CURVES: tuple[CurveSpec, ...] = (
    CurveSpec("loss", "batch loss", "#1f77b4", report_width=1.2),
    CurveSpec("loss_at_x", "loss at x", "#ff7f0e", report_width=2.6),
    CurveSpec("grad_norm_A", "‖∂L/∂A‖", "#2ca02c"),
    CurveSpec("grad_norm_B", "‖∂L/∂B‖", "#d62728"),
    CurveSpec("grad_norm_C", "‖∂L/∂C‖", "#9467bd"),
)
BY_ID: dict[str, CurveSpec] = {c.id: c for c in CURVES}
#: Loss and gradient norms span decades within a run: the window opens with a logarithmic value axis.
LOG_Y_DEFAULT = True
