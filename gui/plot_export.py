"""The live plot's visible curves as :class:`engine.export.Curve` s, and its right-click entry.

What is exported is what the plot shows: with "All curves" chosen, every curve of this session's
history; with one curve chosen, that curve for every visible run of the runs list (the session's
own first, when ticked). x is the plot's (step, epoch or samples seen). The raw values come first;
with smoothing on, each run's smoothed values follow as a curve of their own ("loss at x,
smoothed"), so the file holds both what was measured and what was drawn. Every array is copied
(the plot's buffers grow and are reused while the export is written on a worker).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QAction

from backprop_lab.engine.export import Curve
from backprop_lab.gui import curves as curve_specs
from backprop_lab.gui.plot_controls import ALL_CURVES
from backprop_lab.gui.plot_data import X_MODES
from backprop_lab.gui.plot_panel import PlotPanel


def _copy(values: np.ndarray) -> list[float]:
    return np.asarray(values, dtype=np.float64).tolist()  # type: ignore[no-any-return]


def visible_curves(panel: PlotPanel) -> list[Curve]:
    """The curves ``panel`` shows now, up to date with the history (see the module docstring)."""
    panel.refresh()
    x_name = dict(X_MODES)[panel.x_mode]
    live, current = panel.live, panel.runs.current
    drawn: list[tuple[str, str, np.ndarray, np.ndarray, np.ndarray]] = []  # run, curve, x, raw, smoothed
    if panel.curve == ALL_CURVES:
        for spec in curve_specs.CURVES if live.n else ():
            drawn.append(
                (current.name, spec.name, live.x.view, live.raw[spec.id].view, live.smooth[spec.id].view)
            )
    else:
        label = curve_specs.BY_ID[panel.curve].name
        if live.n and current.visible:
            drawn.append(
                (current.name, label, live.x.view, live.raw[panel.curve].view, live.smooth[panel.curve].view)
            )
        drawn += [(s.entry.name, label, s.x, s.raw, s.smooth) for s in panel.other_series]
    smoothed = panel.smoothing_weight > 0
    out: list[Curve] = []
    for run, label, x, raw, smooth in drawn:
        xs = _copy(x)
        out.append(Curve(run, x_name, xs, label, _copy(raw)))
        if smoothed:
            out.append(Curve(run, x_name, xs, f"{label}, smoothed", _copy(smooth)))
    return out


def add_to_plot_menu(panel: PlotPanel, action: QAction) -> None:
    """Put ``action`` at the end of the plot's right-click menu (pyqtgraph's view menu)."""
    menu = panel.plot.getPlotItem().getViewBox().menu
    menu.addSeparator()
    menu.addAction(action)
