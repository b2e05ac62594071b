"""The report's charts (gui.report_charts): drawn by pyqtgraph from the curve specification the
window's live plot uses, with log axes labelled in powers of ten."""

from __future__ import annotations

import math
import threading

import pytest
from PySide6.QtGui import QColor

from backprop_lab.engine.session import Session
from backprop_lab.gui import report_charts
from backprop_lab.gui.axes import ValueAxis
from backprop_lab.gui.curves import BY_ID, CURVES
from backprop_lab.gui.document import Document
from backprop_lab.gui.plot_panel import PlotPanel


def _legend(legend) -> dict[str, str]:
    """Legend label → the colour of its curve's pen."""
    return {label.text: QColor(sample.item.opts["pen"].color()).name() for sample, label in legend.items}


def _trained() -> Session:
    session = Session.report_example()
    trainer = session.make_trainer()
    session.history.extend(trainer.steps())
    session.finish_run(trainer)
    return session


def test_report_and_window_name_and_colour_every_curve_alike(qtbot):
    session = _trained()
    document = Document()
    document.replace_session(session.copy(), None)
    panel = PlotPanel(document)
    qtbot.addWidget(panel)
    panel.refresh()
    window = _legend(panel.legend)

    reduced = report_charts.reduce_curves({c.id: session.history.column(c.id) for c in CURVES})
    report = {}
    for title, ids, ylabel in report_charts.PANELS:
        report.update(_legend(report_charts._panel(title, ids, ylabel, reduced).legend))
    assert report == window == {c.name: QColor(c.colour).name() for c in CURVES}
    assert window["batch loss"] == "#1f77b4"  # the window's name and colour won


def test_log_axes_read_as_powers_of_ten_without_an_si_multiplier(qtbot):
    session = _trained()
    reduced = report_charts.reduce_curves({c.id: session.history.column(c.id) for c in CURVES})
    plot = report_charts._panel("Loss", ("loss", "loss_at_x"), "loss", reduced)
    axis = plot.getAxis("left")
    assert axis.logMode and plot.getAxis("left").labelText == "loss (log scale)"
    lo, hi = axis.range
    decades = list(range(math.ceil(lo), math.floor(hi) + 1))
    assert len(decades) >= 3
    assert axis.tickStrings(decades, 1.0, 1.0) == [
        "10" + str(d).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")) for d in decades
    ]
    axis.updateAutoSIPrefix()
    assert axis.autoSIPrefixScale == 1.0 and axis.labelUnitPrefix == ""
    assert isinstance(axis, ValueAxis)  # the window's axis (tests/gui/test_axes.py)
    steps = plot.getAxis("bottom")
    assert steps.tickStrings([0, 20_000, 1_500_000], 1.0, 1.0) == ["0", "20k", "1.5M"]


@pytest.mark.parametrize("values", [[1.0, 5.0, 2.0], [0.0, -1.0, 1.0]])
def test_a_linear_axis_where_values_are_not_all_positive_or_span_less_than_tenfold(values, qtbot):
    reduced = report_charts.reduce_curves({"loss": values, "loss_at_x": values})
    plot = report_charts._panel("Loss", ("loss", "loss_at_x"), "loss", reduced)
    assert not plot.getAxis("left").logMode and plot.getAxis("left").labelText == "loss"


def test_the_chart_is_drawn_on_the_gui_thread_only(qtbot):
    drawing = report_charts.ChartDrawing(report_charts.reduce_curves({"loss": [1.0, 2.0]}))
    errors: list[BaseException] = []

    def off_thread() -> None:
        try:
            drawing.stages[0]()
        except RuntimeError as exc:
            errors.append(exc)

    worker = threading.Thread(target=off_thread)
    worker.start()
    worker.join(60)
    assert len(errors) == 1 and "GUI thread" in str(errors[0])
    chart = report_charts.draw_chart(report_charts.reduce_curves({c.id: [1.0, 0.5, 0.1] for c in CURVES}))
    assert (chart.image.width(), chart.image.height()) == (2400, 1200)
    assert chart.svg.startswith(b"<?xml") and b"batch loss" in chart.svg
    assert BY_ID["loss"].name.encode() in chart.svg
