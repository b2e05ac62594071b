"""Reports in the model's variant: its formulas and words, its loss and gradients (engine.report_data,
engine.report_html, engine.report_equations). No Qt here."""

from __future__ import annotations

import datetime as dt
import html
import math
import re

import pytest

from backprop_lab.engine.model import loss_and_grads
from backprop_lab.engine.report_data import gather_report_data
from backprop_lab.engine.report_html import render_html
from backprop_lab.engine.session import Session
from backprop_lab.engine.variant import ACTIVATIONS, DEFAULT_VARIANT, Variant

NOW = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)


def _session(v: Variant, k: int = 3, seed: int = 4) -> Session:
    s = Session.random(k, seed)
    s.model = s.model.with_variant(v)
    s.initial = s.initial.with_variant(v)
    return s


def _text(page: str) -> str:
    """The page as a reader sees it: tags gone, entities decoded, spaces collapsed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", page)))


def _report(s: Session, flavour: str = "web") -> tuple[object, str]:
    # The checks are lane 3's (they take the variant there); the words are what is tested here.
    data = gather_report_data(s, verifications=(), torch=False, now=NOW)
    return data, render_html(data, flavour=flavour)


@pytest.mark.parametrize("flavour", ["web", "qt"])
def test_a_column_convention_report_shows_the_reports_title_formula(flavour):
    v = Variant("tanh", "column", (1.0, -0.5, 2.0))
    data, page = _report(_session(v), flavour)
    text = _text(page)
    assert "L = ‖C(σ(Ax) + Bx) − t‖²" in text  # the report's title, with the target
    assert "(σ(xA) + xB)C" not in text
    assert "Column vectors throughout" in text and "from input j to unit i" in text
    assert "a = Ax" in text and "u = Bx" in text and "w = Cz" in text
    assert "L = Σj (wj − tj)²" in text
    assert "σ′(a) = 1 − tanh(a)²" in text
    assert "∂L/∂Aij = σ′(ai) gi xj" in text and "∂L/∂Bij = gi xj" in text
    assert "∂L/∂Cij = 2(wi − ti) zj" in text
    assert "tanh, column vectors, target t" in text  # the subtitle and the facts
    assert dict(data.facts)["variant"] == "tanh, column vectors, target t"
    assert "t = " in text and "2.0" in text  # the target among the initial values


def test_the_report_computes_in_the_variant():
    v = Variant("softplus", "column", (0.5, 0.5, 0.5))
    s = _session(v)
    data, page = _report(s)
    m = s.initial
    loss, grads = loss_and_grads(
        m.x, m.A, m.B, m.C, activation="softplus", convention="column", target=v.target
    )
    assert data.initial_loss == loss and data.initial_grads == grads
    default_loss, _ = loss_and_grads(m.x, m.A, m.B, m.C)
    assert not math.isclose(loss, default_loss)
    assert repr(loss) in page


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_the_report_names_the_activations_sigma_and_sigma_prime(name):
    act = ACTIVATIONS[name]
    _, page = _report(_session(Variant(name)))
    text = _text(page)
    assert act.formula.replace("^(−a)", "−a").replace("e^a", "ea") in text, act.formula
    assert act.derivative_formula.replace("^(−a)", "−a") in text, act.derivative_formula
    assert f"σ is {name}" in text
    assert "L = ‖(σ(xA) + xB)C‖²" in text and "Row vectors throughout" in text
    assert "∂L/∂Aij = xi σ′(aj) gj" in text


def test_the_built_in_example_stays_the_reports_own_member():
    s = Session.report_example()
    assert s.model.variant == s.initial.variant == DEFAULT_VARIANT
    _, page = _report(s)
    text = _text(page)
    assert "sigmoid, row vectors, no target" in text
    assert "L = ‖(σ(xA) + xB)C‖²" in text
    assert "σ′(a) = σ(a)(1 − σ(a))" in text and "gi = Σj Cij · 2wj" in text
    assert "∂L/∂Cij = 2wj zi" in text
    assert "t = " not in text  # no target row
    assert "44.0612131403435" in page  # the report's loss, computed as before


def test_a_target_on_the_row_convention():
    v = Variant("relu", "row", (0.0, 1.0, 2.0, 3.0))
    _, page = _report(_session(v, k=4))
    text = _text(page)
    assert "L = ‖(σ(xA) + xB)C − t‖²" in text
    assert "σ′(a) = 1 if a > 0, else 0" in text
    assert "gi = Σj Cij · 2(wj − tj)" in text and "∂L/∂Cij = 2(wj − tj) zi" in text
