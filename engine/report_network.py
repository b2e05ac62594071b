"""The report's network figure as HTML: the model drawn as a graph at its initial weights.

The drawing itself is made by the window's painter (``gui/report_network.py`` draws it as SVG for
report.html and as vectors in the PDF); this module places it and writes its caption, which names
the mode (forward values or backward gradients), the colour scales and the variant. Qt-free.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Literal

from backprop_lab.engine.formatting import format_number
from backprop_lab.engine.report_data import ReportData
from backprop_lab.engine.report_equations import describe_html
from backprop_lab.engine.report_equations import var as _v

__all__ = ["NETWORK_SRC", "NetworkFigure", "network_html"]


@dataclass(frozen=True)
class NetworkFigure:
    """The network drawn at the initial model, as :func:`render_html` places it.

    ``mode`` is "forward" (unit values, edges by weight; placed in section 1) or "backward"
    (∂L/∂unit, edges by ∂L/∂weight; placed in section 2). ``node_scale``/``edge_scale``: where
    the palette saturates; ``note``: the sentence on faded edges ("" when every edge is drawn).
    ``svg``: the inline ``<svg>`` element for the web flavour (already valid XML: its text is
    escaped by whoever drew it); ``width``/``height``: the figure's size in layout pixels for the
    qt flavour, whose ``<img src="{NETWORK_SRC}">`` the PDF paints as vectors.
    """

    mode: str
    node_scale: float
    edge_scale: float
    note: str = ""
    svg: str = ""
    width: int = 0
    height: int = 0


#: The qt flavour's image name for the network figure (the PDF paints vectors in its place).
NETWORK_SRC = "network-figure"


def _saturating(scale: float) -> str:
    """Where a colour scale saturates, for the caption; nothing when there is no such number."""
    if not (math.isfinite(scale) and scale > 0):
        return ""
    return f" on a scale saturating at ±{format_number(scale, 'short', digits=3)}"


def network_html(data: ReportData, fig: NetworkFigure, flavour: Literal["web", "qt"]) -> str:
    """Figure 1: the network at the initial model, with a caption naming its mode and variant."""
    nodes, edges = _saturating(fig.node_scale), _saturating(fig.edge_scale)
    edges = f", both{edges}" if edges else ""
    if fig.mode == "forward":
        what = (
            f"forward pass: each unit shows its value (coloured{nodes}), and each weight is an "
            f"edge coloured by its value and drawn as wide as its magnitude{edges}"
        )
    else:
        what = (
            f"backward pass: each unit shows ∂{_v('L')}/∂(unit) (coloured{nodes}; "
            f"∂{_v('L')}/∂{_v('L')} = 1), and each weight is an edge coloured by "
            f"∂{_v('L')}/∂(weight) and drawn as wide as its magnitude{edges}"
        )
    note = f" {html.escape(fig.note)}." if fig.note else ""
    caption = (
        f'<p class="caption"><b>Figure 1.</b> The network at the initial model, {what}; blue is '
        f"negative, white 0, red positive. The B branch is the skip. Variant: "
        f"{describe_html(data.initial.variant)}.{note}</p>"
    )
    if flavour == "web":
        return f'<figure class="network">{fig.svg}{caption}</figure>'
    img = f'<img src="{NETWORK_SRC}" width="{fig.width}" height="{fig.height}">'
    return f'<p align="center">{img}</p>{caption}'
