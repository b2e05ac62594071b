"""The variant's words and formulas, once: plain text, rich text and LaTeX from the same strings.

The chain-rule panel, its Copy as LaTeX, and the reports all write the model's formulas. Each
member of the family (:mod:`engine.variant`) changes them in three places, and this module is
where that happens:

* the activation: σ and σ′ come from :data:`engine.variant.ACTIVATIONS` (written there once,
  side by side), with the argument put in: ``at(sigma_prime, "a_1")`` → "1 − tanh(a_1)²";
* the target: ∂L/∂w_j is ``2w_j`` without one and ``2(w_j − t_j)`` with one;
* the convention: which index of a weight names the unit it feeds. Row vectors (a = xA) make
  ``A[i][j]`` the weight from input i to unit j; column vectors (a = Ax) from input j to unit i.

:func:`formula_html` typesets the plain-text formulas used everywhere (``a_1``, ``e^(−a)``,
``tanh``) as HTML for Qt's rich text and for the reports; :func:`latex` turns the same text into
LaTeX (:mod:`engine.explain_latex` writes one entry's chain rule with it). Qt-free and standard
library only.
"""

from __future__ import annotations

import html
import re

from backprop_lab.engine.variant import Variant

#: A lone variable ``a`` in an activation's formula (not the "a" inside "tanh" or "max").
_ARG = re.compile(r"(?<![A-Za-z_])a(?![A-Za-z_])")


def rhs(formula: str) -> str:
    """The right-hand side of "σ′(a) = 1 − tanh(a)²": "1 − tanh(a)²"."""
    return formula.split(" = ", 1)[1] if " = " in formula else formula


def at(formula: str, arg: str) -> str:
    """An activation's formula (its right-hand side) with ``arg`` in place of a."""
    return _ARG.sub(arg, rhs(formula))


def sigma_at(variant: Variant, arg: str) -> str:
    """σ(arg) written out for the variant's activation: "tanh(a_1)", "1 / (1 + e^(−a_1))"."""
    return at(variant.sigma.formula, arg)


def sigma_prime_at(variant: Variant, arg: str) -> str:
    """σ′(arg) written out: "σ(a_1)(1 − σ(a_1))", "1 − tanh(a_1)²", "1 if a_1 > 0, else 0"."""
    return at(variant.sigma.derivative_formula, arg)


def output_gradient_symbol(variant: Variant, index: str) -> str:
    """∂L/∂w_index as the formulas write it: "2w_k", or "2(w_k − t_k)" with a target."""
    if variant.target is None:
        return f"2w_{index}"
    return f"2(w_{index} − t_{index})"


def upstream_weight(variant: Variant, unit: str, index: str) -> str:
    """The weight of C in g_unit = Σ_index C·∂L/∂w_index: "C_1,k" (row) or "C_k,1" (column)."""
    return f"C_{unit},{index}" if variant.row else f"C_{index},{unit}"


def upstream_formula(variant: Variant, unit: str) -> str:
    """g_unit = ∂L/∂z_unit, the sum every branch shares: "Σ_k C_1,k · 2w_k"."""
    return f"Σ_k {upstream_weight(variant, unit, 'k')} · {output_gradient_symbol(variant, 'k')}"


def net_formula(variant: Variant, layer: str, unit: str, inp: str = "x") -> str:
    """A unit's net input: "Σ_i x_i A_i,1" (row: a_j = Σ_i x_i A_ij) or "Σ_s A_1,s x_s" (column)."""
    if variant.row:
        return f"Σ_i {inp}_i {layer}_i,{unit}"
    return f"Σ_s {layer}_{unit},s {inp}_s"


# --------------------------------------------------------------------------- typesetting

#: Function names and words, set upright; every other letter is a variable (xA is x times A).
_WORD = re.compile(r"(?:tanh|log|max|min|exp|if|else)(?![A-Za-z])")
_SUB = re.compile(r"_([0-9a-z,]+)")


def formula_html(text: str) -> str:
    """Plain-text formula → HTML: single letters italic, words (tanh, log, max, if) upright,
    ``a_1`` → a<sub>1</sub>, ``e^(−a)`` and ``e^a`` → a superscript, everything else escaped."""
    out: list[str] = []
    pos = 0
    n = len(text)
    while pos < n:
        c = text[pos]
        if c == "^":
            if text.startswith("^(", pos):
                end = _closing(text, pos + 1)
                out.append(f"<sup>{formula_html(text[pos + 2 : end])}</sup>")
                pos = end + 1
            else:
                m = re.compile(r"[^\s)]+").match(text, pos + 1)
                body = m.group(0) if m else ""
                out.append(f"<sup>{formula_html(body)}</sup>")
                pos += 1 + len(body)
            continue
        if c == "_":
            m = _SUB.match(text, pos)
            if m:
                sub = "".join(f"<i>{ch}</i>" if ch.isalpha() else ch for ch in m.group(1))
                out.append(f"<sub>{sub}</sub>")
                pos = m.end()
                continue
        word = _WORD.match(text, pos)
        if word:
            out.append(word.group(0))
            pos = word.end()
            continue
        out.append(f"<i>{c}</i>" if c.isascii() and c.isalpha() else html.escape(c))
        pos += 1
    return "".join(out)


def _closing(text: str, start: int) -> int:
    """Index of the ")" that closes the "(" at ``start`` (or the end of the text)."""
    depth = 0
    for pos in range(start, len(text)):
        if text[pos] == "(":
            depth += 1
        elif text[pos] == ")":
            depth -= 1
            if depth == 0:
                return pos
    return len(text)


_LATEX_CHARS = {
    "σ": r"\sigma",
    "′": "'",
    "−": "-",
    "·": r"\cdot ",
    "Σ": r"\sum",
    "²": "^2",
    "‖": r"\lVert ",
    "∂": r"\partial ",
}
_LATEX_WORDS = {"tanh": r"\tanh", "log": r"\log", "max": r"\max", "exp": r"\exp"}


def latex(text: str) -> str:
    """Plain-text formula → LaTeX math: "σ′(a_1)" → "\\sigma'(a_{1})", "2(w_k − t_k)" →
    "2(w_{k} - t_{k})", "C_1,k" → "C_{1,k}", "1 − tanh(a_1)²" → "1 - \\tanh(a_{1})^2"."""
    out: list[str] = []
    pos = 0
    while pos < len(text):
        m = _SUB.match(text, pos)
        if m:
            out.append("_{" + m.group(1) + "}")
            pos = m.end()
            continue
        if text.startswith("^(", pos):
            end = _closing(text, pos + 1)
            out.append("^{" + latex(text[pos + 2 : end]) + "}")
            pos = end + 1
            continue
        word = _WORD.match(text, pos)
        if word:
            w = word.group(0)
            out.append(_LATEX_WORDS.get(w, rf"\text{{ {w} }}" if w in ("if", "else") else w))
            pos = word.end()
            continue
        c = text[pos]
        out.append(_LATEX_CHARS.get(c, c))
        pos += 1
    return "".join(out).replace(r"\cdot  ", r"\cdot ")


def latex_number(v: float) -> str:
    """Every digit of a float (repr), with a LaTeX power of ten: 1.5e-07 → 1.5 \\times 10^{-7}."""
    text = repr(float(v))
    if "e" in text:
        mantissa, exp = text.split("e")
        return rf"{mantissa} \times 10^{{{int(exp)}}}"
    return text
