"""Loss along the gradient: L(θ − t·g) for t from 0 to a few learning rates, with lr marked.

Gradient descent moves the weights along −g by t = lr, so this one curve shows at a glance whether
the next step lands in the valley or past it. Two choices of g (a combo box):

* **at x**: the gradient in the tables, at the model's own x, and the loss at x;
* **next mini-batch**: the mean gradient and mean loss over the batch the next training step will
  take (the document's settings and history position, as the Step-through dialog shows it): the
  very line that step moves along.

The numbers come from :func:`engine.explain.loss_along_gradient`; the curve is recomputed when the
model, the settings or the history change (coalesced by a zero-delay timer). During a run the
model follows the run's weights several times a second: the curve follows them while a refresh is
cheap (:data:`LIVE_MAX_COST`), and otherwise is greyed and marked "out of date" until the run
pauses or ends (at K = 32 one refresh takes ~50 ms of the GUI thread).
"""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from backprop_lab.engine.explain import LineSearch, loss_along_gradient
from backprop_lab.engine.formatting import format_count, format_number
from backprop_lab.engine.model import NumericalOverflowError
from backprop_lab.engine.step_phases import next_batch
from backprop_lab.gui.axes import ValueAxis
from backprop_lab.gui.contrast import ink
from backprop_lab.gui.document import Document
from backprop_lab.gui.live_pace import live_text

SOURCES = (("x", "gradient at x (the tables)"), ("batch", "mean gradient of the next mini-batch"))
#: A running run's live weights are followed while K² × (samples averaged) is at most this: a
#: refresh is 121 losses, ~7 ms at K = 10 at x (one sample), ~50 ms at K = 32.
LIVE_MAX_COST = 100
CURVE_COLOUR = "#1f77b4"
#: The curve and the words about an earlier model (7:1 on white).
STALE_COLOUR = "#595959"


class LineSearchPanel(QWidget):
    """The curve, the learning rate marked, and a one-sentence verdict (``verdict_label``).

    ``line`` is the last :class:`LineSearch` (None when there is none); :meth:`refresh` recomputes.
    """

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("lineSearchPanel")
        self._document = document
        self.line: LineSearch | None = None
        self._batch_cache: tuple[tuple[object, ...], list[int], list[list[float]]] | None = None
        self._build_controls()
        self._build_plot()
        self._build_layout()

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self.refresh)
        # 121 loss evaluations per refresh: at K = 64 that is most of an edit's budget, so the
        # curve is only recomputed while it can be seen; a hidden panel just remembers it is stale.
        self._stale = True
        self.source.currentIndexChanged.connect(self._schedule)
        self.span.valueChanged.connect(self._schedule)
        document.modelChanged.connect(self._schedule)
        document.settingsChanged.connect(self._schedule)
        document.historyChanged.connect(self._on_document_history_changed)
        document.trainingStateChanged.connect(self._on_document_training_state_changed)

    def _build_controls(self) -> None:
        """The direction's combo box, the span and the verdict."""
        self.source = QComboBox()
        self.source.setObjectName("lineSearchSource")
        for _, label in SOURCES:
            self.source.addItem(label)
        self.span = QDoubleSpinBox(minimum=1.0, maximum=100.0, value=3.0, decimals=1)
        self.span.setObjectName("lineSearchSpan")
        self.span.setSuffix(" × lr")
        self.verdict_label = QLabel()
        self.verdict_label.setObjectName("lineSearchVerdict")
        self.verdict_label.setWordWrap(True)
        self.verdict_label.setTextFormat(Qt.TextFormat.RichText)

    def _build_plot(self) -> None:
        """The plot: the curve, its tangent at t = 0, the start level, lr and the lowest point."""
        self.plot = pg.PlotWidget(
            background="w", axisItems={"left": ValueAxis("left"), "bottom": ValueAxis("bottom")}
        )
        self.plot.setObjectName("lineSearchPlot")
        item = self.plot.getPlotItem()
        item.showGrid(x=True, y=True, alpha=0.2)
        item.setLabel("bottom", "step size t (along −g)")
        item.setLabel("left", "L(θ − t·g)")
        self.curve = item.plot(pen=pg.mkPen(CURVE_COLOUR, width=2), name="L(θ − t·g)")
        self.tangent = item.plot(pen=pg.mkPen("#888", width=1, style=Qt.PenStyle.DashLine))
        self.start_line = pg.InfiniteLine(angle=0, pen=pg.mkPen("#aaa", width=1, style=Qt.PenStyle.DotLine))
        self.lr_line = pg.InfiniteLine(
            angle=90,
            pen=pg.mkPen("#d62728", width=1.5),
            label="lr",
            labelOpts={"position": 0.92, "color": "#d62728", "fill": (255, 255, 255, 200)},
        )
        self.lr_point = pg.ScatterPlotItem(size=10, brush=pg.mkBrush("#d62728"), pen=None)
        self.best_point = pg.ScatterPlotItem(size=9, brush=pg.mkBrush("#1a7a40"), pen=None, symbol="d")
        for it in (self.start_line, self.lr_line, self.lr_point, self.best_point):
            item.addItem(it)

    def _build_layout(self) -> None:
        """The controls above the verdict, the plot and its legend."""
        top = QHBoxLayout()
        top.addWidget(QLabel("Direction:"))
        top.addWidget(self.source)
        top.addWidget(QLabel("span:"))
        top.addWidget(self.span)
        top.addStretch(1)
        legend = QLabel(
            "<span style='color:#1f77b4'>━</span> L(θ − t·g) &nbsp; <span style='color:#888'>╌</span> "
            "first-order prediction L − t‖g‖² &nbsp; <span style='color:#d62728'>┃●</span> t = lr "
            "(the next step) "
            f"&nbsp; <span style='color:{ink('good')}'>◆</span> lowest point sampled"
        )
        legend.setObjectName("lineSearchLegend")
        legend.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.verdict_label)
        layout.addWidget(self.plot, 1)
        layout.addWidget(legend)

    def _schedule(self, *_args: object) -> None:
        if self._document.training_state == "running" and not self.follows_live():
            self._stale = True
            self._timer.stop()
            self._show_out_of_date()
        elif self.isVisible():
            self._timer.start()
        else:
            self._stale = True

    def follows_live(self) -> bool:
        """Whether the curve is recomputed for a running run's live weights (cheap enough)."""
        doc = self._document
        samples = doc.training_settings.batch_size if self.source_key == "batch" else 1
        return doc.K**2 * samples <= LIVE_MAX_COST

    def _show_out_of_date(self) -> None:
        if self.line is None:
            return
        self.curve.setPen(pg.mkPen(STALE_COLOUR, width=2))
        for point in (self.lr_point, self.best_point):
            point.setBrush(pg.mkBrush(STALE_COLOUR))
        self.verdict_label.setText(
            f"<span style='color:{STALE_COLOUR}'><b>Out of date</b>: this curve is for an earlier model. "
            f"The run is changing the weights ({self._live_text()}); the curve is drawn again "
            "when it pauses or ends.</span>"
        )

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self._timer.start()

    @property
    def source_key(self) -> str:
        return SOURCES[self.source.currentIndex()][0]

    def _on_document_history_changed(self) -> None:
        if self.source_key != "batch":
            return
        if self._document.training_state == "running":
            # The live weights arrive with the history they belong to (modelChanged follows), and a
            # batch that was not shown leaves the curve true to the weights on screen.
            return
        self._schedule()  # the next batch depends on the history's epoch

    def _on_document_training_state_changed(self, state: str) -> None:
        if state != "running" and self._stale:
            self._schedule()

    def _next_batch(self) -> tuple[list[int], list[list[float]]]:
        doc = self._document
        s, h, m = doc.training_settings, doc.history, doc.model
        key = (m.K, s, h.last_step, h.last_epoch)
        if self._batch_cache is None or self._batch_cache[0] != key:
            # The inputs depend only on (settings, K, epoch), not on the weights: cached per key.
            indices, rows, _ = next_batch(m, s, start_step=h.last_step, start_epoch=h.last_epoch)
            self._batch_cache = (key, indices, rows)
        return self._batch_cache[1], self._batch_cache[2]

    def refresh(self) -> None:
        """Recompute the curve for the current model, settings and direction."""
        self._timer.stop()
        self._stale = False
        doc = self._document
        m, lr = doc.model, float(doc.training_settings.learning_rate)
        try:
            if self.source_key == "batch":
                indices, rows = self._next_batch()
                line = loss_along_gradient(m, lr, batch_rows=rows, batch=indices, span=self.span.value())
            else:
                line = loss_along_gradient(m, lr, span=self.span.value())
        except (NumericalOverflowError, ValueError) as exc:
            self.line = None
            self.verdict_label.setText(f"<span style='color:{ink('bad')}'>No curve: {exc}</span>")
            for it in (self.curve, self.tangent):
                it.setData([], [])
            self.lr_point.setData([], [])
            self.best_point.setData([], [])
            return
        self.line = line
        self._draw(line)

    def _draw(self, line: LineSearch) -> None:
        ts = list(line.ts)
        finite = [v for v in line.losses if math.isfinite(v)]
        lo, hi = min(finite), max(finite)
        # Clip overflowed points to the top of the plot rather than dropping them silently.
        ys = [v if math.isfinite(v) else hi for v in line.losses]
        self.curve.setData(ts, ys)
        self.curve.setPen(pg.mkPen(CURVE_COLOUR, width=2))
        self.lr_point.setBrush(pg.mkBrush("#d62728"))
        self.best_point.setBrush(pg.mkBrush("#2ca02c"))
        # The first-order prediction L(θ) − t‖g‖², drawn until it leaves the plotted range.
        pad = 0.08 * (hi - lo) if hi > lo else max(abs(hi), 1.0) * 0.1
        t_end = ts[-1] if line.slope == 0 else min(ts[-1], (line.loss0 - (lo - pad)) / -line.slope)
        self.tangent.setData([0.0, t_end], [line.loss0, line.loss0 + line.slope * t_end])
        self.start_line.setPos(line.loss0)
        self.lr_line.setPos(line.lr)
        self.lr_line.label.setFormat(f"lr = {format_number(line.lr, 'short', digits=6)}")
        self.lr_point.setData([line.lr], [line.loss_at_lr if math.isfinite(line.loss_at_lr) else hi])
        self.best_point.setData([line.best_t], [line.best_loss])
        item = self.plot.getPlotItem()
        item.setXRange(0.0, ts[-1], padding=0.02)
        item.setYRange(lo - pad, hi + pad, padding=0.0)
        where = (
            "at x"
            if line.source == "x"
            else f"over the next mini-batch ({format_count(len(line.batch), 'sample')}, mean loss)"
        )
        color = ink("bad") if line.overshoots else ink("good")
        live = self._live_text()
        self.verdict_label.setText(
            f"<span style='color:{color}'><b>{line.verdict()}</b></span>"
            + (f" <i style='color:{ink('muted')}'>{live}</i>" if live else "")
            + "<br>"
            f"<span style='color:{ink('muted')}'>Loss and gradient {where} ({line.variant.describe()}); "
            "slope at t = 0 is −‖g‖² = "
            f"{format_number(line.slope, 'short')}.</span>"
        )

    def _live_text(self) -> str:
        return live_text(self._document.live_step, self._document.training_state)
