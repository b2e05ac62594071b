"""The chain rule of one gradient entry, typeset, with the current numbers; and the cells that feed it.

Select a cell of ∂L/∂A, ∂L/∂B or ∂L/∂C and the panel writes out the report's Figure 2 for it,

    ∂E/∂w_ij = ∂E/∂o_j · ∂o_j/∂net_j · ∂net_j/∂w_ij,

in the model's own names (for A, row vectors: ∂L/∂A_ij = ∂L/∂y_j · ∂y_j/∂a_j · ∂a_j/∂A_ij =
g_j · σ′(a_j) · x_i), each factor with its value, the upstream sum g_j = Σ_k C_jk · 2w_k term by
term (summarised for K > :data:`EXPAND_MAX_K`), and the product, which equals the table's entry.
The numbers come from :func:`engine.explain.derive`; this module only typesets them (Qt rich text).

:class:`gui.cell_highlighter.CellHighlighter` outlines the cells of x, A, B, C that the factors
read. The model's variant decides the words: its σ′, its ∂L/∂w (2(w_k − t_k) with a target) and,
with column vectors, the swapped roles of i and j (:mod:`engine.formulas`). **Copy as LaTeX**
copies the shown entry's chain rule as an amsmath ``align*``.
"""

from __future__ import annotations

import html

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Signal
from PySide6.QtGui import QGuiApplication, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from backprop_lab.engine.explain import Derivation, derive
from backprop_lab.engine.explain_latex import derivation_latex
from backprop_lab.engine.formatting import format_number
from backprop_lab.engine.formulas import formula_html, rhs
from backprop_lab.engine.model import NumericalOverflowError
from backprop_lab.engine.variant import Variant
from backprop_lab.gui.cell_highlighter import CellHighlighter
from backprop_lab.gui.contrast import ink, muted_style
from backprop_lab.gui.document import Document

#: Up to this K the upstream sum is written out term by term; above it, summarised.
EXPAND_MAX_K = 6
#: Below this width (pixels of the text) the derivation is laid out in one column, not two.
TWO_COLUMNS_WIDTH = 900

_SERIF = "'Latin Modern Roman', 'CMU Serif', 'STIX Two Text', 'DejaVu Serif', 'Times New Roman', serif"


# --------------------------------------------------------------------------- typesetting


def num(v: float, digits: int = 6) -> str:
    """A number for the formulas: ``digits`` significant figures, a real minus sign."""
    text = f"{v:.{digits}g}"
    if "e" in text:
        mantissa, exp = text.split("e")
        text = f"{mantissa}·10<sup>{int(exp)}</sup>"
    return text.replace("-", "−")


def full(v: float) -> str:
    """Every digit (repr), as in the tables' tooltips."""
    return format_number(v, "full").replace("-", "−")


def sym(symbol: str) -> str:
    """'g_1' → <i>g</i><sub>1</sub>; 'σ′(a_1)' → σ′(<i>a</i><sub>1</sub>); '2w_3' → 2<i>w</i><sub>3</sub>."""
    return formula_html(symbol)


def _d(num_: str, den: str) -> str:
    """∂num/∂den, upright ∂ and italic variables."""
    return f"∂{num_}/∂{den}"


def derivation_html(d: Derivation, expand_max_k: int = EXPAND_MAX_K, columns: int = 2) -> str:
    """The derivation as Qt rich text (see the module docstring)."""
    i, j, m = d.i, d.j, d.matrix
    w_ij = f"<i>{m}</i><sub>{i},{j}</sub>"
    o, net = sym(d.output), sym(d.net)
    L = "<i>L</i>"
    parts = [f'<div style="font-family:{_SERIF}; font-size:12pt">']
    parts.append(
        f"<p style='margin-bottom:2px'><b>{_d(L, w_ij)}</b>, the entry in row {i}, column {j} of "
        f"∂<i>L</i>/∂<i>{m}</i>"
        f" &nbsp; <span style='color:{ink('muted')}'>(the report's Figure 2 with <i>E</i> = <i>L</i>, "
        f"<i>o<sub>j</sub></i> = {o}, net<sub><i>j</i></sub> = {net})</span></p>"
    )
    parts.append(variant_html(d.variant))
    # Two columns, so that a wide dock is used: the derivation and its factors on the left, the
    # upstream sum, the forward values and the check on the right.
    first = "width='52%'" if columns == 2 else ""
    parts.append(f"<table width='100%' cellspacing='0' cellpadding='0'><tr><td valign='top' {first}>")
    parts.append(_chain_html(d, w_ij, o, net))
    parts.append(_factors_html(d))
    # One column in a narrow dock (tabbed with the plot): the right half goes underneath.
    parts.append(
        "</td><td width='16'></td><td valign='top'>" if columns == 2 else "</td></tr><tr><td valign='top'>"
    )
    if d.terms:
        parts.append(_sum_html(d, expand_max_k))
    parts.append(_forward_values_html(d))
    parts.append(_check_html(d))
    parts.append("</td></tr></table></div>")
    return "".join(parts)


def variant_html(v: Variant) -> str:
    """One muted line: the variant, its model and its σ and σ′ (what the numbers below are of)."""
    words = html.escape(v.describe())
    return (
        f"<p style='margin-top:0; color:{ink('muted')}'>{words}: {formula_html(v.loss_formula())}, "
        f"&nbsp; σ(<i>a</i>) = {formula_html(rhs(v.sigma.formula))}, &nbsp; "
        f"σ′(<i>a</i>) = {formula_html(rhs(v.sigma.derivative_formula))}</p>"
    )


def _chain_html(d: Derivation, w_ij: str, o: str, net: str) -> str:
    """The three lines of a textbook derivation: the rule, the symbols, the numbers; then the product."""
    L = "<i>L</i>"
    if d.matrix == "A":
        rule = f"{_d(L, o)} · {_d(o, net)} · {_d(net, w_ij)}"
    else:
        rule = f"{_d(L, o)} · 1 · {_d(net, w_ij)}"
    symbols = " · ".join(sym(f.symbol) for f in d.factors)
    numbers = " · ".join(f"({num(f.value)})" if f.value < 0 else num(f.value) for f in d.factors)
    return "".join(
        [
            "<table cellspacing='0' cellpadding='3' style='margin-left:12px'>",
            f"<tr><td align='right'>{_d(L, w_ij)}</td><td>=</td><td>{rule}</td></tr>",
            f"<tr><td></td><td>=</td><td>{symbols}</td></tr>",
            f"<tr><td></td><td>=</td><td>{numbers}</td></tr>",
            f"<tr><td></td><td>=</td><td><b>{full(d.product)}</b></td></tr>",
            "</table>",
        ]
    )


def _factors_html(d: Derivation) -> str:
    """The factors, one per row: what the report calls it, what it is here, how it is computed, its value."""
    parts = ["<p style='margin:6px 0 2px 0'><b>The factors</b></p>"]
    parts.append(
        "<table cellspacing='0' cellpadding='4' border='1' style='border-color:#bbb; border-style:solid'>"
    )
    parts.append(
        "<tr style='background:#eef; color:#1e1e1e'><th>Figure 2</th><th>here</th><th>equals</th>"
        "<th>computed as</th><th align='right'>value</th></tr>"
    )
    roles = (
        "∂<i>E</i>/∂<i>o<sub>j</sub></i>",
        "∂<i>o<sub>j</sub></i>/∂net<sub><i>j</i></sub>",
        "∂net<sub><i>j</i></sub>/∂<i>w<sub>ij</sub></i>",
    )
    meanings = (
        "what the rest of the network makes of the output",
        "the activation's slope",
        "the input multiplied with the weight",
    )
    for f, role, meaning in zip(d.factors, roles, meanings, strict=True):
        here = "1" if f.derivative == "(no activation)" else _typeset_derivative(f.derivative)
        parts.append(
            f"<tr><td>{role}</td><td>{here}</td><td>{sym(f.symbol)}</td>"
            f"<td>{_typeset_formula(f.formula)}<br><span style='color:{ink('muted')}; "
            f"font-size:9pt'>{meaning}</span></td>"
            f"<td align='right'><tt>{full(f.value)}</tt></td></tr>"
        )
    parts.append("</table>")
    return "".join(parts)


def _forward_values_html(d: Derivation) -> str:
    parts = ["<p style='margin:6px 0 2px 0'><b>Forward values used</b></p>"]
    parts.append("<table cellspacing='0' cellpadding='2' style='margin-left:12px'>")
    for symbol, formula, v in d.intermediates:
        parts.append(
            f"<tr><td align='right'>{sym(symbol)}</td><td>=</td><td>{_typeset_formula(formula)}</td>"
            f"<td>=</td><td align='right'><tt>{full(v)}</tt></td></tr>"
        )
    parts.append("</table>")
    return "".join(parts)


def _check_html(d: Derivation) -> str:
    """The product beside the gradient table's entry, and which cells fed it."""
    agree = d.product == d.engine_value
    mark = (
        f"<span style='color:{ink('good')}'>✓ equals</span>"
        if agree
        else f"<span style='color:{ink('bad')}'>≠</span>"
    )
    return (
        f"<p>Product <tt>{full(d.product)}</tt> {mark} the table's ∂<i>L</i>/∂<i>{d.matrix}</i>"
        f"[{d.i}][{d.j}] = <tt>{full(d.engine_value)}</tt>.</p>"
        f"<p style='color:{ink('muted')}; font-size:9pt'>{_cells_text(d)}</p>"
    )


def _sum_html(d: Derivation, expand_max_k: int) -> str:
    j = d.unit
    g = sym(f"g_{j}")
    out = [
        f"<p style='margin:6px 0 2px 0'><b>The upstream sum</b> &nbsp; {g} = "
        f"∂<i>L</i>/∂<i>z</i><sub>{j}</sub> = "
        f"Σ<sub><i>k</i></sub> {sym(d.sum_weight)} · {sym(d.sum_upstream)} &nbsp;"
        f"<span style='color:{ink('muted')}'>(each output's pull on the loss, weighted by the "
        f"connection from unit {j})</span></p>"
    ]
    k = d.K
    if k <= expand_max_k:
        terms = " + ".join(
            f"{num(t.weight, 4)}·{num(t.upstream, 5)}"
            if t.weight >= 0
            else f"({num(t.weight, 4)})·{num(t.upstream, 5)}"
            for t in d.terms
        )
        out.append(f"<p style='margin-left:12px'>{g} = {terms}</p>")
        shown = list(d.terms)
    else:
        first, last = d.terms[:3], d.terms[-1]
        terms = " + ".join(f"{num(t.value, 5)}" for t in first)
        out.append(
            f"<p style='margin-left:12px'>{g} = {terms} + ⋯ + {num(last.value, 5)} "
            f"&nbsp;<span style='color:{ink('muted')}'>({k} terms; the largest three below)</span></p>"
        )
        shown = sorted(d.largest_terms(3), key=lambda t: t.k)
    out.append(
        "<table cellspacing='0' cellpadding='3' border='1' style='margin-left:12px; border-color:#bbb'>"
    )
    out.append(
        f"<tr style='background:#eef; color:#1e1e1e'><th><i>k</i></th>"
        f"<th>{sym(d.sum_weight)}</th><th>{sym(d.sum_upstream)}</th><th>product</th></tr>"
    )
    for t in shown:
        out.append(
            f"<tr><td align='center'>{t.k}</td><td align='right'><tt>{num(t.weight, 10)}</tt></td>"
            f"<td align='right'><tt>{num(t.upstream, 10)}</tt></td>"
            f"<td align='right'><tt>{num(t.value, 10)}</tt></td></tr>"
        )
    out.append(
        f"<tr><td align='center'>Σ</td><td></td><td></td><td align='right'><b><tt>{full(d.upstream_sum)}"
        "</tt></b></td></tr></table>"
    )
    return "".join(out)


def _typeset_derivative(text: str) -> str:
    """'∂L/∂y_1' → ∂<i>L</i>/∂<i>y</i><sub>1</sub>; 'A_01' → <i>A</i><sub>01</sub>."""
    return "/".join(sym(part) for part in text.split("/"))


def _typeset_formula(text: str) -> str:
    if text.startswith("input "):
        return f"input {text.split()[1]} of x"
    if text in ("linear branch", "output layer"):
        return f"no activation ({text})"
    if text == "the target":
        return "the target t"
    return sym(text)


def _cells_text(d: Derivation) -> str:
    q, p = d.unit, d.input
    # Row vectors: the weights into a unit are a column, out of it a row; column vectors: the reverse.
    into, out_of = ("column", "row") if d.variant.row else ("row", "column")
    if d.matrix == "A":
        feeds = (
            f"x<sub>{p}</sub>, {into} {q} of A (which makes a<sub>{q}</sub>) and {out_of} {q} of C "
            f"(which makes g<sub>{q}</sub>)"
        )
    elif d.matrix == "B":
        feeds = (
            f"x<sub>{p}</sub>, B<sub>{d.i},{d.j}</sub> itself and {out_of} {q} of C "
            f"(which makes g<sub>{q}</sub>)"
        )
    else:
        feeds = (
            f"x, {into}s {p} of A and B (which make z<sub>{p}</sub>) and {into} {q} of C (which "
            f"makes w<sub>{q}</sub>)"
        )
    return f"Outlined in the editors: {feeds}. Every entry also depends on all weights through w."


# --------------------------------------------------------------------------- the panel


class ChainRulePanel(QWidget):
    """Shows :func:`derivation_html` for the selected gradient entry; follows the document.

    :meth:`attach` connects the gradient tables (by matrix name) and the editors to outline;
    :meth:`show_entry` shows an entry directly (and emits ``entryShown``). ``derivation`` is the
    one shown (or None).
    """

    entryShown = Signal(str, int, int)

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("chainRulePanel")
        self._document = document
        self.derivation: Derivation | None = None
        self.entry: tuple[str, int, int] | None = None
        self.highlighter: CellHighlighter | None = None
        self.highlighting = True
        self._tables: dict[str, QAbstractItemView] = {}
        self._rendered_columns = 2

        self.text = QTextBrowser()
        self.text.setObjectName("chainRuleText")
        self.text.setOpenLinks(False)
        self.hint = QLabel()
        self.hint.setObjectName("chainRuleHint")
        self.hint.setStyleSheet(muted_style(self.hint.palette()))  # palette(mid) is 1.7:1
        self.hint.setText("Select a cell of ∂L/∂A, ∂L/∂B or ∂L/∂C to see how the chain rule builds it.")
        self.copy_latex_button = QPushButton("Copy as LaTeX")
        self.copy_latex_button.setObjectName("chainRuleCopyLatex")
        self.copy_latex_button.setToolTip(
            "Copy this entry's chain rule, with the variant's formulas and every digit, as LaTeX (amsmath)"
        )
        self.copy_latex_button.clicked.connect(self.copy_latex)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.hint, 1)
        top.addStretch(0)
        top.addWidget(self.copy_latex_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.text, 1)
        document.modelChanged.connect(self._on_document_model_changed)
        self._show()

    def attach(
        self, gradient_tables: dict[str, QAbstractItemView], editors: dict[str, QAbstractItemView]
    ) -> None:
        """Follow the current cell of each gradient table; outline feeding cells in ``editors``."""
        self._tables = {n: t for n, t in gradient_tables.items() if t is not None}
        for name, table in self._tables.items():
            sm = table.selectionModel()
            sm.currentChanged.connect(lambda cur, _prev, n=name: self._on_table_current_changed(n, cur))
        self.highlighter = CellHighlighter(editors, self)

    def show_entry(self, matrix: str, i: int, j: int) -> None:
        self.entry = (matrix, i, j)
        self._show()
        self.entryShown.emit(matrix, i, j)

    def clear(self) -> None:
        self.entry = None
        self._show()

    def set_highlighting(self, on: bool) -> None:
        """Outline the feeding cells in the editors (on while the panel is visible)."""
        self.highlighting = on
        self._show()

    def _render_columns(self) -> int:
        self._rendered_columns = 2 if self.text.viewport().width() >= TWO_COLUMNS_WIDTH else 1
        return self._rendered_columns

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        wanted = 2 if self.text.viewport().width() >= TWO_COLUMNS_WIDTH else 1
        if self.derivation is not None and wanted != self._rendered_columns:
            self._show()

    def plain_text(self) -> str:
        return self.text.toPlainText()

    def latex(self) -> str | None:
        """The shown entry's chain rule as LaTeX (:func:`engine.formulas.derivation_latex`), or None."""
        return derivation_latex(self.derivation) if self.derivation is not None else None

    def copy_latex(self) -> str | None:
        """Copy as LaTeX: the shown entry's chain rule onto the clipboard (nothing without one)."""
        text = self.latex()
        if text is not None:
            QGuiApplication.clipboard().setText(text)
        return text

    def _on_table_current_changed(self, name: str, current: QModelIndex) -> None:
        if current.isValid():
            # One entry at a time: clear the other tables' current cell so that reselecting works.
            for other, table in self._tables.items():
                if other != name and table.currentIndex().isValid():
                    table.selectionModel().setCurrentIndex(
                        QModelIndex(), QItemSelectionModel.SelectionFlag.Clear
                    )
            self.show_entry(name, current.row(), current.column())

    def _on_document_model_changed(self) -> None:
        if self.entry is not None and max(self.entry[1], self.entry[2]) >= self._document.K:
            self.entry = None
        self._show()

    def _show(self) -> None:
        doc = self._document
        self.derivation = None
        self.hint.setVisible(True)
        self.copy_latex_button.setEnabled(False)
        if self.entry is None:
            self.text.setHtml(
                f'<div style="font-family:{_SERIF}; font-size:12pt; color:{ink("muted")}"><p>The report\'s '
                f"Figure 2:</p>"
                "<p style='margin-left:12px'>∂<i>E</i>/∂<i>w<sub>ij</sub></i> = "
                "∂<i>E</i>/∂<i>o<sub>j</sub></i> · "
                "∂<i>o<sub>j</sub></i>/∂net<sub><i>j</i></sub> · "
                "∂net<sub><i>j</i></sub>/∂<i>w<sub>ij</sub></i></p>"
                f"{variant_html(doc.model.variant)}"
                "<p>Select a gradient entry to see it with the current numbers.</p></div>"
            )
            if self.highlighter is not None:
                self.highlighter.clear()
            return
        m, i, j = self.entry
        model = doc.model
        try:
            d = derive(model, m, i, j)
        except (NumericalOverflowError, ValueError) as exc:
            self.text.setHtml(f"<p style='color:{ink('bad')}'>No derivation: {html.escape(str(exc))}</p>")
            if self.highlighter is not None:
                self.highlighter.clear()
            return
        self.derivation = d
        self.hint.setVisible(False)
        self.copy_latex_button.setEnabled(True)
        self.text.setHtml(derivation_html(d, columns=self._render_columns()))
        if self.highlighter is not None:
            if self.highlighting:
                self.highlighter.show_cells(d.cells, (m, i, j))
            else:
                self.highlighter.clear()
