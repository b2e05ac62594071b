"""The chain-rule panel, its Copy as LaTeX and the loss along the gradient in the model's variant.

The session is replaced by one whose model carries a variant (the Variant selector is lane 4's; the
document holds whatever the session's model carries). Waits are on conditions, never sleeps.
"""

from __future__ import annotations

import pytest
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QTableView

from backprop_lab.engine.explain import feeding_cells
from backprop_lab.engine.explain_latex import derivation_latex
from backprop_lab.engine.model import MATRIX_NAMES, loss_and_grads
from backprop_lab.engine.session import Session
from backprop_lab.engine.variant import ACTIVATIONS, Variant

WAIT = 60_000


@pytest.fixture
def win(window):
    yield window
    assert window.verify.verification.shutdown(20_000)


def _load(window, v: Variant, k: int = 3, seed: int = 21) -> None:
    s = Session.random(k, seed)
    s.model = s.model.with_variant(v)
    s.initial = s.initial.with_variant(v)
    window.document.replace_session(s)


def _select(window, name: str, i: int, j: int) -> None:
    table = window.findChild(QTableView, f"grad{name}")
    table.setCurrentIndex(table.model().index(i, j))


@pytest.mark.parametrize(
    "v",
    [
        Variant("tanh", "column", (1.0, -1.0, 0.5)),
        Variant("relu", "row", (0.0, 2.0, -2.0)),
        Variant("softplus", "column"),
    ],
    ids=str,
)
def test_every_entry_in_the_variant_equals_the_table(win, v):
    _load(win, v)
    panel = win.verify.chain_rule
    doc = win.document
    m = doc.model
    _, grads = loss_and_grads(
        m.x, m.A, m.B, m.C, activation=v.activation, convention=v.convention, target=v.target
    )
    for name in MATRIX_NAMES:
        for i in range(3):
            for j in range(3):
                _select(win, name, i, j)
                d = panel.derivation
                assert d.variant == v and (d.matrix, d.i, d.j) == (name, i, j)
                assert d.product == doc.evaluation.grads[name][i][j] == grads[name][i][j]
                assert "✓ equals" in panel.plain_text()
                # The outlined cells follow the convention's index order.
                expected = {n: c for n, c in feeding_cells(name, i, j, 3, v.convention).items() if c}
                assert panel.highlighter.highlighted() == expected


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_the_panel_names_the_variant_and_its_sigma_prime(win, name):
    v = Variant(name, "column", (0.5, 0.5, 0.5))
    _load(win, v)
    panel = win.verify.chain_rule
    _select(win, "A", 2, 0)
    text = panel.plain_text()
    assert f"{name}, column vectors, target t" in text
    assert "L = ‖C(σ(Ax) + Bx) − t‖²" in text
    d = panel.derivation
    assert "g2 · σ′(a2) · x0" in text  # column vectors: unit i = 2, input j = 0
    sigma_prime = d.factors[1].formula.replace("_", "").replace("^(−a2)", "−a2")
    assert sigma_prime in text  # the activation's own σ′, with its argument
    assert repr(d.factors[1].value) in text
    assert "Ck,2 · 2(wk − tk)" in text  # the upstream sum over column 2 of C, with the target
    assert f"σ′(a) = {ACTIVATIONS[name].derivative_formula.split(' = ')[1]}".replace("^(−a)", "−a") in text


def test_copy_as_latex_copies_the_shown_entry(win):
    v = Variant("tanh", "row", (1.0, 2.0, 3.0))
    _load(win, v)
    panel = win.verify.chain_rule
    button = panel.copy_latex_button
    assert button.objectName() == "chainRuleCopyLatex"
    assert not button.isEnabled() and panel.copy_latex() is None  # nothing selected yet
    QGuiApplication.clipboard().setText("before")
    _select(win, "C", 1, 2)
    assert button.isEnabled()
    button.click()
    text = QGuiApplication.clipboard().text()
    assert text == derivation_latex(panel.derivation)
    assert r"\sigma'(a) = 1 - \tanh^2(a)" in text and "2(w_{2} - t_{2})" in text
    assert repr(panel.derivation.product) in text
    # A new session forgets the entry: nothing to copy, the clipboard is left alone.
    win.document.replace_session(Session.random(2, 1))
    assert panel.derivation is None and not button.isEnabled()
    assert QGuiApplication.clipboard().text() == text


def test_loss_along_the_gradient_follows_the_variant(qtbot, win):
    v = Variant("identity", "column", (0.0, 1.0, 0.0))
    _load(win, v)
    panel = win.verify.line_search
    doc = win.document
    win.verify.actions["show_line_search"].trigger()
    m = doc.model
    loss, _ = loss_and_grads(m.x, m.A, m.B, m.C, activation="identity", convention="column", target=v.target)
    qtbot.waitUntil(lambda: panel.line is not None and panel.line.variant == v, timeout=WAIT)
    assert panel.line.loss0 == pytest.approx(loss, rel=1e-14)
    assert "identity, column vectors, target t" in panel.verdict_label.text()
