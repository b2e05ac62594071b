"""The one value axis (gui.axes) of the window's plots and the reports: 10ⁿ labels, no SI
multiplier, minor labels only where they fit, for any range (a diverged K = 32 run spans 250 decades)."""

from __future__ import annotations

import itertools
import math
import random

import pytest
from PySide6.QtGui import QImage, QPainter

from backprop_lab.engine.training import StepRecord
from backprop_lab.gui.axes import StepAxis, ValueAxis, log_ticks, power_label
from backprop_lab.gui.document import Document
from backprop_lab.gui.line_search_panel import LineSearchPanel
from backprop_lab.gui.plot_panel import PlotPanel
from backprop_lab.gui.report_charts import _panel, reduce_curves


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.0, "10⁰"), (-27.0, "10⁻²⁷"), (223.0, "10²²³"), (math.log10(2e-3), "2·10⁻³"),
     (math.log10(5e16), "5·10¹⁶"), (3 - 1e-12, "10³"), (math.log10(0.25), "2.5·10⁻¹")],
)  # fmt: skip
def test_power_labels(value, text):
    assert power_label(value) == text


def _pixels(ticks, lo, hi, size):
    return [(t - lo) / (hi - lo) * size for t in ticks]


def test_a_250_decade_range_labels_every_20th_decade_and_no_multiplier():
    labelled, quiet = log_ticks(-27.0, 223.0, 480.0, 20.0)
    assert [power_label(v) for v in labelled[:3]] == ["10⁻²⁰", "10⁰", "10²⁰"]
    assert power_label(labelled[-1]) == "10²²⁰"
    assert all(v % 20 == 0 for v in labelled)
    assert quiet and not set(quiet) & set(labelled)


def test_minor_labels_appear_only_when_a_decade_has_room_for_them():
    short, _ = log_ticks(-0.9, 2.4, 200.0, 20.0)  # 60 px a decade: decades only
    assert [power_label(v) for v in short] == ["10⁰", "10¹", "10²"]
    tall, quiet = log_ticks(-0.9, 2.4, 480.0, 20.0)  # 145 px a decade: 2, 3 and 5 as well
    assert "2·10¹" in map(power_label, tall) and "3·10¹" in map(power_label, tall)
    assert "9·10¹" not in map(power_label, tall)
    assert math.log10(90) in quiet or any(abs(q - math.log10(90)) < 1e-12 for q in quiet)


def test_less_than_a_decade_gets_round_values_inside_it():
    labelled, _ = log_ticks(math.log10(0.2), math.log10(0.5), 300.0, 20.0)
    assert [power_label(v) for v in labelled] == ["2·10⁻¹", "3·10⁻¹", "4·10⁻¹", "5·10⁻¹"]
    narrow, _ = log_ticks(math.log10(0.2), math.log10(0.21), 300.0, 20.0)
    assert len(narrow) >= 2 and len(set(map(power_label, narrow))) == len(narrow)


def test_labels_never_crowd_for_any_range_and_size():
    rng = random.Random(13)
    for _ in range(3000):
        lo = rng.uniform(-300, 300)
        hi = lo + 10 ** rng.uniform(-5, 2.8)
        size, room = rng.uniform(40, 2000), rng.uniform(8, 40)
        labelled, quiet = log_ticks(lo, hi, size, room)
        px = _pixels(labelled, lo, hi, size)
        assert all(b - a >= room - 1e-6 for a, b in itertools.pairwise(px)), (lo, hi, size, room)
        assert all(lo - 1e-6 <= v <= hi + 1e-6 for v in labelled + quiet)
        assert len(set(map(power_label, labelled))) == len(labelled)
        if hi - lo >= 1 and size >= 3 * room:
            assert len(labelled) >= 2, (lo, hi, size, room)


def _drawn_labels(axis) -> list[tuple[object, str]]:
    """The (rectangle, text) of every tick label the axis draws at its current size."""
    image = QImage(10, 10, QImage.Format.Format_RGB32)
    painter = QPainter(image)
    try:
        _, _, texts = axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    return [(rect, text) for rect, _, text in texts if text]


def _feed(document: Document, values: list[float]) -> None:
    document.append_history(StepRecord(s, 1, v, v * 10, v / 10, v, v) for s, v in enumerate(values, start=1))


@pytest.mark.parametrize(
    ("span", "height"), [((-27, 223), 400), ((-1, 2.5), 160), ((-1, 2.5), 700), ((0.1, 0.6), 300)]
)
def test_the_windows_log_axis_draws_separate_labels_without_a_multiplier(qtbot, span, height):
    document = Document()
    panel = PlotPanel(document)
    qtbot.addWidget(panel)
    panel.resize(600, height + 80)
    panel.show()
    lo, hi = span
    _feed(document, [10 ** (lo + (hi - lo) * i / 19) for i in range(20)])
    panel.log_y.setChecked(True)
    panel.refresh()
    axis = panel.plot.getPlotItem().getAxis("left")
    assert isinstance(axis, ValueAxis) and isinstance(panel.plot.getPlotItem().getAxis("bottom"), StepAxis)
    qtbot.waitUntil(lambda: _drawn_labels(axis) != [])
    labels = _drawn_labels(axis)
    assert "x1e" not in axis.labelString() and axis.autoSIPrefixScale == 1.0
    assert len(labels) >= 2 and all("10" in text for _, text in labels), labels
    rects = sorted((r for r, _ in labels), key=lambda r: r.top())
    assert all(a.bottom() <= b.top() + 0.5 for a, b in itertools.pairwise(rects)), labels


def test_the_line_search_plot_writes_huge_values_as_powers_of_ten(qtbot):
    panel = LineSearchPanel(Document())
    qtbot.addWidget(panel)
    axis = panel.plot.getPlotItem().getAxis("left")
    assert isinstance(axis, ValueAxis)
    assert axis.tickStrings([4.0e146, 4.5e146], 1.0, 0.5e146) == ["4·10¹⁴⁶", "4.5·10¹⁴⁶"]
    assert axis.tickStrings([0.0, 0.5, 1.0], 1.0, 0.5) == ["0", "0.5", "1.0"]
    assert axis.tickStrings([-2e-5, 0.0], 1.0, 2e-5) == ["−2·10⁻⁵", "0"]


def test_the_report_uses_the_same_axis(qtbot):
    plot = _panel("Loss", ("loss", "loss_at_x"), "loss", reduce_curves({"loss": [1e-27, 1e50, 1e223]}))
    assert type(plot.getAxis("left")) is ValueAxis and type(plot.getAxis("bottom")) is StepAxis
