"""One training step taken apart: a dialog that walks through the next mini-batch step in phases.

Batch → Forward → Gradients → Update → New loss, with Back/Next, above the phases the network graph
lighting up as each phase runs (:mod:`gui.step_animation`). Nothing changes until **Commit** on
the last phase; Cancel (or Esc, or closing) leaves the document as it was. The numbers are
:func:`engine.step_phases.plan_step`'s: the very step the next training run would take first.

Commit takes that step the way the Training controller does, through the document's training API
(``begin_training_run`` → one ``Trainer`` step → ``append_history`` → ``finish_training_run``): the
new weights and one history record, as one undoable command ("Step through: step n"). The dialog
checks that the step taken equals the step shown.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from backprop_lab.engine.formatting import format_count, format_number
from backprop_lab.engine.model import MATRIX_NAMES
from backprop_lab.engine.step_phases import PHASES, StepPlan, plan_step
from backprop_lab.gui.contrast import ink
from backprop_lab.gui.document import Document
from backprop_lab.gui.heat_map import diverging_color, text_color
from backprop_lab.gui.network_view import NetworkView
from backprop_lab.gui.step_animation import StepAnimation

# The one formatter (engine.formatting) at the precisions this panel shows.
_cell = partial(format_number, precision="cell")
_full = partial(format_number, precision="full")
_short = partial(format_number, precision="short")

#: Rows of per-sample tables shown before "… n more" (a batch can be the whole data set).
MAX_SAMPLE_ROWS = 200
#: Vector entries written out in a cell before "…".
MAX_VECTOR_ENTRIES = 4


def vector_text(v: list[float]) -> str:
    """'[0.1234, −0.5678, …]' with at most MAX_VECTOR_ENTRIES entries."""
    shown = ", ".join(_cell(e) for e in v[:MAX_VECTOR_ENTRIES])
    more = ", …" if len(v) > MAX_VECTOR_ENTRIES else ""
    return f"[{shown}{more}]"


def _table(rows: int, headers: list[str], name: str) -> QTableWidget:
    t = QTableWidget(rows, len(headers))
    t.setObjectName(name)
    t.setHorizontalHeaderLabels(headers)
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.verticalHeader().setVisible(False)
    t.verticalHeader().setDefaultSectionSize(22)
    # Few columns fill the width evenly; many (a wide K) fit their contents and scroll.
    mode = QHeaderView.ResizeMode.Stretch if len(headers) <= 8 else QHeaderView.ResizeMode.ResizeToContents
    t.horizontalHeader().setSectionResizeMode(mode)
    t.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
    return t


def _item(text: str, tooltip: str = "", align_right: bool = True) -> QTableWidgetItem:
    it = QTableWidgetItem(text)
    if tooltip:
        it.setToolTip(tooltip)
    if align_right:
        it.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return it


def _text(html: str, name: str = "") -> QLabel:
    label = QLabel(html)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if name:
        label.setObjectName(name)
    return label


def _matrix_table(
    m: list[list[float]],
    name: str,
    fmt: Callable[[float], str] | list[list[str]] = _cell,
    colors: list[list[float]] | None = None,
) -> QTableWidget:
    k = len(m)
    t = QTableWidget(k, k)
    t.setObjectName(name)
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.setHorizontalHeaderLabels([str(c) for c in range(k)])
    t.setVerticalHeaderLabels([str(r) for r in range(k)])
    t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
    t.verticalHeader().setDefaultSectionSize(22)
    t.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
    if k <= 8:  # as tall as its rows: no empty band under a small matrix
        t.setFixedHeight(t.horizontalHeader().sizeHint().height() + 22 * k + 2 * t.frameWidth() + 2)
    vmax = max((abs(v) for row in (colors or m) for v in row), default=0.0)
    for r in range(k):
        for c in range(k):
            it = _item(fmt(m[r][c]) if callable(fmt) else fmt[r][c], f"[{r}][{c}] = {_full(m[r][c])}")
            if colors is not None:
                bg = diverging_color(colors[r][c], vmax)
                it.setBackground(QBrush(bg))
                it.setForeground(QBrush(text_color(bg)))
            t.setItem(r, c, it)
    return t


class StepThroughDialog(QDialog):
    """The next training step in five phases (see the module docstring).

    ``plan`` is the :class:`StepPlan` shown; ``phase`` the current page (0 … 4); :meth:`next`,
    :meth:`back`, :meth:`commit` and ``reject()`` are what the buttons do. ``committed`` tells
    whether the step was applied. ``graph`` is the network the phases animate (``animation``).
    """

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("stepThroughDialog")
        self.setWindowTitle("Step through one training step")
        self._document = document
        self.committed = False
        if document.is_training:
            raise ValueError("a training run is in progress; stop it to step through one step")
        h = document.history
        m = document.model
        self.plan: StepPlan = plan_step(
            m, document.training_settings, start_step=h.last_step, start_epoch=h.last_epoch
        )
        self._model_before = m.copy()

        self.title = _text("", "stepThroughTitle")
        self.stack = QStackedWidget()
        self.stack.setObjectName("stepThroughPages")
        for build in (
            self._page_batch,
            self._page_forward,
            self._page_gradients,
            self._page_update,
            self._page_new_loss,
        ):
            self.stack.addWidget(build())
        split = self._build_graph(document)
        self.back_button = QPushButton("◀ Back")
        self.back_button.setObjectName("stepBack")
        self.next_button = QPushButton("Next ▶")
        self.next_button.setObjectName("stepNext")
        self.commit_button = QPushButton("Commit step")
        self.commit_button.setObjectName("stepCommit")
        self.commit_button.setToolTip(
            "Apply the new weights and add the step to the history (one undoable step)"
        )
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("stepCancel")
        self.cancel_button.setToolTip("Close without changing anything")
        buttons = QHBoxLayout()
        buttons.addWidget(self.back_button)
        buttons.addWidget(self.next_button)
        buttons.addStretch(1)
        buttons.addWidget(self.commit_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(split, 1)
        layout.addLayout(buttons)
        self.back_button.clicked.connect(self.back)
        self.next_button.clicked.connect(self.next)
        self.commit_button.clicked.connect(self.commit)
        self.cancel_button.clicked.connect(self.reject)
        self.next_button.setDefault(True)
        # Room for the graph above the tables, within the screen.
        room = self.screen().availableGeometry()
        self.resize(min(1100, room.width() - 40), min(860, room.height() - 40))
        # Nearly half the height to the graph; the pages' tables would otherwise ask for all of it.
        split.setSizes([9 * self.height() // 20, 11 * self.height() // 20])
        self._go(0)

    def _build_graph(self, document: Document) -> QSplitter:
        """The dialog's own graph of the model (``graph``, animated by ``animation``) above the pages.

        Its own: the window's Network dock may be closed, behind a tab, or under this dialog.
        """
        self.graph = NetworkView(document, parent=self)
        self.graph.setObjectName("stepThroughGraph")
        self.graph.setMinimumHeight(150)
        self.graph.edgeClicked.connect(self._on_graph_edge_clicked)
        self.animation = StepAnimation(self.graph, self.plan, parent=self)
        self.finished.connect(self._on_finished)
        split = QSplitter(Qt.Orientation.Vertical)
        split.setObjectName("stepThroughSplit")
        split.setChildrenCollapsible(False)
        split.addWidget(self.graph)
        split.addWidget(self.stack)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        return split

    # ------------------------------------------------------------------ navigation

    @property
    def phase(self) -> int:
        return self.stack.currentIndex()

    def next(self) -> None:
        self._go(min(self.phase + 1, len(PHASES) - 1))

    def back(self) -> None:
        self._go(max(self.phase - 1, 0))

    def _go(self, phase: int) -> None:
        self.stack.setCurrentIndex(phase)
        self.animation.show_phase(phase)
        p = self.plan
        steps = " → ".join(f"<b>{name}</b>" if s == phase else name for s, name in enumerate(PHASES))
        self.title.setText(
            f"<span style='font-size:12pt'>Step {p.step} (epoch {p.epoch}) — phase {phase + 1} of "
            f"{len(PHASES)}: "
            f"<b>{PHASES[phase]}</b></span><br><span style='color:{ink('muted')}'>{steps}. "
            "Nothing changes until Commit on the last phase.</span>"
        )
        last = phase == len(PHASES) - 1
        self.back_button.setEnabled(phase > 0)
        self.next_button.setEnabled(not last)
        self.commit_button.setEnabled(last and p.finite)
        (self.commit_button if last else self.next_button).setDefault(True)

    def _on_finished(self, _result: int) -> None:
        self.animation.stop()

    def _on_graph_edge_clicked(self, matrix: str, i: int, j: int) -> None:
        # The weight's row in the update's table: what this step does to it.
        self.graph.set_highlight((matrix, i, j))
        k = len(self.plan.x)
        table = self.findChild(QTableWidget, "stepUpdateTable")
        if table is not None:
            table.selectRow((MATRIX_NAMES.index(matrix) * k + i) * k + j)

    # ------------------------------------------------------------------ commit

    def commit(self) -> bool:
        """Take the step through the document (one undoable command with one history record)."""
        doc = self._document
        if self.phase != len(PHASES) - 1 or not self.plan.finite:
            return False
        if doc.is_training or doc.model != self._model_before:
            QMessageBox.warning(
                self,
                "Step through",
                "The model changed since this step was prepared; close the dialog and open it again.",
            )
            return False
        try:
            trainer = doc.begin_training_run()
        except ValueError as exc:
            QMessageBox.warning(self, "Step through", f"Cannot take the step: {exc}")
            return False
        record = next(trainer.steps(), None)
        if record is not None:
            doc.append_history([record])
        doc.finish_training_run(trainer, f"Step through: step {self.plan.step}")
        if record != self.plan.record or tuple(trainer.weights()) != tuple(self.plan.after):
            doc.notify("Step through: the step taken differs from the one shown (please report this)")
        else:
            doc.notify(
                f"Step {self.plan.step} committed: L at x {_short(self.plan.loss_at_x_before, digits=6)} → "
                f"{_short(self.plan.loss_at_x_after, digits=6)} (Undo takes it back)"
            )
        self.committed = True
        self.accept()
        return True

    # ------------------------------------------------------------------ pages

    def _page(self, intro: str, *widgets: QWidget | tuple[QWidget, int], name: str) -> QWidget:
        """A page: the intro text, then the widgets (stretch 1, or (widget, stretch))."""
        page = QWidget()
        page.setObjectName(name)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(_text(intro, f"{name}Text"))
        grows = False
        for item in widgets:
            w, stretch = item if isinstance(item, tuple) else (item, 1)
            layout.addWidget(w, stretch)
            grows = grows or stretch > 0
        if not grows:
            layout.addStretch(1)
        return page

    def _page_batch(self) -> QWidget:
        p = self.plan
        s = p.settings
        n = len(p.indices)
        rows = min(n, MAX_SAMPLE_ROWS)
        t = _table(rows, ["sample", *(f"x[{j}]" for j in range(len(p.x)))], "stepBatchTable")
        for r in range(rows):
            smp = p.samples[r]
            t.setItem(r, 0, _item(str(smp.index)))
            for j, v in enumerate(smp.x):
                t.setItem(r, 1 + j, _item(_cell(v), _full(v)))
        more = f" (the first {rows} shown)" if rows < n else ""
        intro = (
            f"The next mini-batch: <b>{n}</b> of the {s.n_samples:,} training inputs x<sub>s</sub> ~ U[0, 1)"
            f"<sup>K</sup> (seed {s.seed}), taken in the order of epoch {p.epoch}'s shuffle{more}. "
            f"Sample indices: {', '.join(map(str, p.indices[:20]))}{' …' if n > 20 else ''}. "
            "These are exactly the inputs the next training step uses."
        )
        return self._page(intro, t, name="stepPageBatch")

    def _page_forward(self) -> QWidget:
        p = self.plan
        v = p.variant
        n = len(p.samples)
        rows = min(n, MAX_SAMPLE_ROWS)
        a, u, w = ("x A", "x B", "z C") if v.row else ("A x", "B x", "C z")
        loss = "Σ (w − t)²" if v.target is not None else "Σ w²"
        t = _table(
            rows,
            ["sample", f"L(x_s) = {loss}", f"a = {a}", "σ(a)", f"u = {u}", "z = σ(a) + u", f"w = {w}"],
            "stepForwardTable",
        )
        for r in range(rows):
            smp = p.samples[r]
            t.setItem(r, 0, _item(str(smp.index)))
            t.setItem(r, 1, _item(_cell(smp.loss), _full(smp.loss)))
            for c, vec in enumerate((smp.a, smp.y, smp.u, smp.z, smp.w), start=2):
                t.setItem(r, c, _item(vector_text(vec), ", ".join(map(repr, vec)), align_right=False))
        wj = "(w<sub>j</sub> − t<sub>j</sub>)²" if v.target is not None else "w<sub>j</sub>²"
        intro = (
            f"The forward pass for each sample, with the current weights ({v.describe()}): a = {a}, "
            f"{v.sigma.formula}, u = {u}, z = σ(a) + u, w = {w} and its loss "
            f"L = Σ<sub>j</sub> {wj}. The batch loss is their mean: <b>{_short(p.batch_loss, digits=10)}</b>."
        )
        return self._page(intro, t, name="stepPageForward")

    def _page_gradients(self) -> QWidget:
        p = self.plan
        n = len(p.per_sample)
        rows = min(n, MAX_SAMPLE_ROWS)
        v = p.variant
        dw = "∂L/∂w = 2(w − t)" if v.target is not None else "∂L/∂w = 2w"
        headers = ["sample", "L(x_s)", "σ′(a)", dw, "‖∂L/∂A‖", "‖∂L/∂B‖", "‖∂L/∂C‖"]
        t = _table(rows, headers, "stepGradientsTable")
        from backprop_lab.engine.model import frobenius

        for r in range(rows):
            loss, grads = p.per_sample[r]
            smp = p.samples[r]
            t.setItem(r, 0, _item(str(p.indices[r])))
            t.setItem(r, 1, _item(_cell(loss)))
            for c, vec in enumerate((smp.sigma_prime, smp.dw), start=2):
                t.setItem(r, c, _item(vector_text(vec), ", ".join(map(repr, vec)), align_right=False))
            for c, name in enumerate(MATRIX_NAMES, start=4):
                t.setItem(r, c, _item(_cell(frobenius(grads[name]))))
        means = QWidget()
        ml = QHBoxLayout(means)
        ml.setContentsMargins(0, 0, 0, 0)
        for name in MATRIX_NAMES:
            box = QVBoxLayout()
            box.addWidget(
                _text(
                    f"<b>g<sub>{name}</sub></b> = mean ∂L/∂{name} &nbsp; (‖·‖ = {_short(p.grad_norms[name])})"
                )
            )
            box.addWidget(_matrix_table(p.mean_grads[name], f"stepMeanGrad{name}", colors=p.mean_grads[name]))
            ml.addLayout(box)
        intro = (
            f"Back-propagation for each sample (the report's formulas, per sample, for {v.describe()}): "
            f"it starts from {dw} and goes through σ with {v.sigma.derivative_formula}. Then the mean "
            f"over the batch, g = (1/{n}) Σ<sub>s</sub> ∂L(x<sub>s</sub>)/∂θ: the gradient the update uses."
        )
        return self._page(intro, t, (means, 0), name="stepPageGradients")

    def _page_update(self) -> QWidget:
        p = self.plan
        lr = p.learning_rate
        k = len(p.x)
        rows = [(name, i, j) for name in MATRIX_NAMES for i in range(k) for j in range(k)]
        t = _table(
            len(rows),
            ["weight", "θ (now)", "g (mean)", "−λ·g", "θ_new", "Δ = θ_new − θ"],
            "stepUpdateTable",
        )
        for r, (name, i, j) in enumerate(rows):
            m = MATRIX_NAMES.index(name)
            old, new, g = p.before[m][i][j], p.after[m][i][j], p.mean_grads[name][i][j]
            delta = p.deltas[name][i][j]
            t.setItem(r, 0, _item(f"{name}[{i}][{j}]", align_right=False))
            t.setItem(r, 1, _item(_cell(old), _full(old)))
            t.setItem(r, 2, _item(_cell(g), _full(g)))
            t.setItem(r, 3, _item(f"{-lr * g:+.4e}", _full(-lr * g)))
            t.setItem(r, 4, _item(_cell(new), _full(new)))
            t.setItem(r, 5, _item(f"{delta:+.4e}", _full(delta)))
        mats = QWidget()
        ml = QVBoxLayout(mats)
        ml.setContentsMargins(0, 0, 0, 0)
        for name in MATRIX_NAMES:
            ml.addWidget(_text(f"<b>Δ{name}</b> (red up, blue down)"))
            ml.addWidget(
                _matrix_table(
                    p.deltas[name], f"stepDelta{name}", fmt=lambda v: f"{v:+.2e}", colors=p.deltas[name]
                )
            )
        ml.addStretch(1)
        side = QWidget()
        sl = QHBoxLayout(side)
        sl.setContentsMargins(0, 0, 0, 0)
        sl.addWidget(t, 3)
        sl.addWidget(mats, 2)
        moves = "; ".join(f"{n}[{i}][{j}] {d:+.4g}" for n, i, j, d in p.largest_changes(4))
        intro = (
            f"The update of the report's Figure 3, θ<sub>new</sub> = θ<sub>old</sub> − λ·g with λ = lr = "
            f"<b>{lr:g}</b>, for every weight. Largest changes: {moves}."
        )
        return self._page(intro, side, name="stepPageUpdate")

    def _page_new_loss(self) -> QWidget:
        p = self.plan
        r = p.record

        def change(a: float, b: float) -> str:
            if not (math.isfinite(a) and math.isfinite(b)):
                return "not finite"
            arrow = (
                f"<span style='color:{ink('good')}'>▼</span>"
                if b < a
                else f"<span style='color:{ink('bad')}'>▲</span>"
            )
            change = (b - a) / a if a else 0.0
            return f"{_short(a, digits=10)} → <b>{_short(b, digits=10)}</b> {arrow} ({change:+.2%})"

        body = (
            "<table cellpadding='4'>"
            f"<tr><td>Batch loss (mean over these {format_count(p.batch_size, 'sample')})</td>"
            f"<td>{change(p.batch_loss, p.batch_loss_after)}</td></tr>"
            f"<tr><td>Loss at the model's own "
            f"x</td><td>{change(p.loss_at_x_before, p.loss_at_x_after)}</td></tr>"
            "</table>"
        )
        if p.finite:
            body += (
                f"<p>Commit applies the new weights as one undoable step and adds step {r.step} "
                f"(epoch {r.epoch}) "
                f"to the history: batch loss {_short(r.batch_loss, digits=6)}, "
                f"loss at x {_short(r.loss_at_x, digits=6)}, "
                f"‖g<sub>A</sub>‖ {_short(r.grad_norm_A)}, ‖g<sub>B</sub>‖ {_short(r.grad_norm_B)}, "
                f"‖g<sub>C</sub>‖ {_short(r.grad_norm_C)}. Later training continues from these weights and "
                "numbers its steps after this one. Cancel leaves everything as it was.</p>"
            )
        else:
            body += (
                f"<p style='color:{ink('bad')}'>This step overflows to non-finite numbers: training "
                "would stop here. Lower the learning rate; nothing can be committed.</p>"
            )
        return self._page(
            "The new loss: the batch loss the step aimed at and the loss at x (what the report calls "
            f"“Loss After GD”).{body}",
            name="stepPageNewLoss",
        )
