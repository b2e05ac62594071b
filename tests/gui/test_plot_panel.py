"""The live plot: growing buffers, TensorBoard smoothing, incremental sync, epochs, log axis, readout."""

from __future__ import annotations

import numpy as np
import pytest

from backprop_lab.engine.training import StepRecord
from backprop_lab.gui.plot_data import GrowingBuffer, ema_extend, ema_extend_rows
from backprop_lab.gui.plot_panel import CURVES, PlotPanel


def naive_ema(values, weight):
    last, out = 0.0, []
    for n, v in enumerate(values, start=1):
        last = weight * last + (1 - weight) * v
        out.append(last / (1 - weight**n) if weight > 0 else v)
    return np.array(out)


def test_growing_buffer_doubles_and_keeps_values():
    b = GrowingBuffer(capacity=4)
    b.extend(np.arange(3.0))
    b.extend(np.arange(3.0, 10.0))
    assert b.capacity == 16 and len(b) == 10
    assert b.view.tolist() == list(range(10))
    b.clear()
    assert len(b) == 0 and b.capacity == 16


@pytest.mark.parametrize("weight", [0.0, 0.3, 0.6, 0.9, 0.99, 0.999])
def test_ema_matches_tensorboard_in_chunks_of_any_size(weight):
    rng = np.random.default_rng(1)
    values = rng.lognormal(0, 2, 10_000)
    expected = naive_ema(values, weight)
    got, last, count = ema_extend(values[:7], weight, 0.0, 0)
    rest, last, count = ema_extend(values[7:], weight, last, count)
    np.testing.assert_allclose(np.concatenate([got, rest]), expected, rtol=1e-9)
    assert count == 10_000


def test_ema_survives_huge_values():
    values = np.array([1e300, 1e301, 1.0, 2.0])
    got, _, _ = ema_extend(values, 0.9, 0.0, 0)
    np.testing.assert_allclose(got, naive_ema(values, 0.9), rtol=1e-9)


def test_ema_of_several_rows_matches_each_row_alone():
    rng = np.random.default_rng(2)
    values = rng.lognormal(0, 2, (3, 5000))
    values[1, 10] = 1e305  # this row alone takes the overflow fallback
    got, lasts, count = ema_extend_rows(values[:, :100], 0.9, [0.0, 0.0, 0.0], 0)
    rest, lasts, count = ema_extend_rows(values[:, 100:], 0.9, lasts, count)
    assert count == 5000
    for row, expected in zip(np.hstack([got, rest]), values, strict=True):
        np.testing.assert_allclose(row, naive_ema(expected, 0.9), rtol=1e-9)


def feed(document, n, start=1, per_epoch=10):
    document.append_history(
        StepRecord(s, (s - 1) // per_epoch + 1, 10.0 / s, 5.0 / s, 1.0, 2.0, 3.0)
        for s in range(start, start + n)
    )


def test_panel_syncs_incrementally_and_rebuilds_after_truncation(document, qtbot):
    panel = PlotPanel(document)
    qtbot.addWidget(panel)
    feed(document, 25)
    qtbot.waitUntil(lambda: panel.point_count == 25, timeout=60_000)  # at once, or when the redraw is due
    x, _ = panel.curves["loss"].getData()
    assert x[-1] == 25
    feed(document, 5, start=26)
    qtbot.waitUntil(lambda: panel.point_count == 30, timeout=60_000)  # from the redraw timer
    assert len(panel.epoch_lines) == 2  # boundaries before steps 11 and 21
    assert not panel.refresh()  # nothing new
    document._apply_history_truncate(12, None)
    assert panel.refresh() and panel.point_count == 12


def test_smoothing_slider_and_faint_raw_curve(document, qtbot):
    panel = PlotPanel(document)
    qtbot.addWidget(panel)
    feed(document, 50)
    panel.refresh()
    panel.smoothing.setValue(0)
    assert not panel.raw_curves["loss"].isVisible()
    np.testing.assert_allclose(panel.curves["loss"].yData, 10.0 / np.arange(1, 51))
    panel.smoothing.setValue(900)
    assert panel.raw_curves["loss"].isVisible()
    assert panel.raw_curves["loss"].opts["pen"].color().alpha() < 255
    np.testing.assert_allclose(panel.curves["loss"].yData, naive_ema(10.0 / np.arange(1, 51), 0.9))


def test_log_axis_readout_and_legend(document, qtbot):
    panel = PlotPanel(document)
    qtbot.addWidget(panel)
    feed(document, 20)
    panel.refresh()
    panel.log_y.setChecked(False)
    panel.log_y.setChecked(True)
    panel.plot.grab()  # paints in log mode without warnings (filterwarnings = error)
    text = panel.readout_at(12)
    assert text.startswith("step 12 (epoch 2)")
    assert "batch loss 0.8333" in text and "‖∂L/∂B‖ 2" in text
    assert panel.readout_at(999).startswith("step 20")
    labels = [item[1].text for item in panel.legend.items]
    assert labels == [label for _, label, _ in CURVES]


def test_while_running_batches_redraw_when_due_and_the_end_draws_the_rest(document, qtbot):
    panel = PlotPanel(document)
    qtbot.addWidget(panel)
    document.set_training_state("running")
    feed(document, 10)  # the first redraw is due at once
    assert panel.point_count == 10
    panel._redraw_interval_ms = 60_000.0  # as after a slow redraw: the next one is not due for a while
    feed(document, 5, start=11)  # not due yet: taken in, drawn later, and no timer while running
    assert panel.point_count == 10 and not panel._redraw_timer.isActive()
    document.set_training_state("idle")
    assert panel.point_count == 15
    x, _ = panel.curves["loss"].getData()
    assert x[-1] == 15
