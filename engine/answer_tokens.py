"""The words of printed answers (:mod:`engine.answers`): tokens with their line numbers, the unit
in a number's last printed digit, and which names mean the loss and ∂L/∂A, ∂L/∂B, ∂L/∂C.

Standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import NamedTuple

__all__ = ["GRADIENT_NAMES", "Tok", "describe", "found", "is_wrapper", "name_of", "tokens", "unit"]

GRADIENT_NAMES = ("A", "B", "C")


# --------------------------------------------------------------------------- numbers


_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?(?:nan|inf|infinity)", re.I)
_PARTS = re.compile(r"[+-]?[0-9]*(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?")


def unit(text: str) -> float:
    """One unit in the last printed digit of ``text`` (a number without its sign):
    10^(exponent − digits after the point)."""
    m = _PARTS.fullmatch(text)
    assert m is not None  # only called on text parse_number accepted and _NUMBER matched
    power = int(m.group(2) or 0) - len(m.group(1) or "")
    # Clamped so a unit is never 0 or infinite (1e-324 is 0.0 in float64).
    return float(f"1e{max(-323, min(308, power))}")


# --------------------------------------------------------------------------- tokens

_EOL = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
# Lines end where str.splitlines ends them, so line numbers match what an editor shows.
_TOKEN = re.compile(
    f"(?P<nl>\\r\\n|[{_EOL}])"
    f"|(?P<str>'[^'{_EOL}]*'|\"[^\"{_EOL}]*\")"
    r"|(?P<punct>[\[\](){},;=:])"
    r"|(?P<word>[^\s\[\](){},;=:]+)"
)
_WRAPPERS = {"tensor", "array", "asarray", "matrix", "float64", "float32", "float16", "double", "parameter"}


class Tok(NamedTuple):
    kind: str  # "nl", "fence", "num", "word", "str", "end" or the punctuation character itself
    text: str
    line: int
    start: int


def tokens(text: str) -> Iterator[Tok]:
    """The text's tokens, lazily (hostile text costs time, not memory); a Markdown fence line is
    one "fence" token; after the end, "end" forever."""
    line, at_start, skipping = 1, True, False
    for m in _TOKEN.finditer(text):
        kind, s = m.lastgroup or "word", m.group()
        if kind == "nl":
            yield Tok("nl", s, line, m.start())
            line, at_start, skipping = line + 1, True, False
            continue
        if skipping:
            continue
        if kind == "word":
            if at_start and s.startswith(("```", "~~~")):
                yield Tok("fence", s, line, m.start())
                skipping = True
                continue
            if _NUMBER.fullmatch(s):
                kind = "num"
        elif kind == "punct":
            kind = s
        at_start = False
        yield Tok(kind, s, line, m.start())
    end = Tok("end", "", line, len(text))
    while True:
        yield end


def found(tok: Tok) -> str:
    if tok.kind == "end":
        return "the end of the text"
    if tok.kind in ("nl", "fence"):
        return "the end of the line"
    return repr(tok.text if len(tok.text) <= 30 else tok.text[:27] + "...")


# --------------------------------------------------------------------------- names

_LOSS = re.compile(r"(?:total|final|the)?(?:loss|l)(?:value)?")
_GRAD = re.compile(
    r"(?:d(?:(?:l|loss)[/_]?d)?_?"  # dA, d_A, dL/dA, dLdA, dl_da, dLoss/dA
    r"|(?:∇|nabla)_?"  # ∇A, nabla_A
    r"|grad(?:ient)?s?_?(?:(?:of|for|wrt|withrespectto)(?:(?:l|loss)(?:wrt|withrespectto))?)?"
    r")(?P<n>[abc])"
    r"|(?P<m>[abc])[._]?grad(?:ient)?"  # A.grad, A_grad, A grad
)
_LATEX = (
    ("\\partial", "d"),
    ("\\nabla", "∇"),
    ("\\frac", ""),
    ("}{", "/"),
    ("w.r.t.", "wrt"),
    ("W.R.T.", "wrt"),
    ("∂", "d"),
)
_DECORATION = str.maketrans("", "", " \t$`*'\"{}\\")
_PARENTHETICAL = re.compile(r"\s*\([^()]*\)\s*$")


def name_of(label: str) -> str | None:
    """ "loss", "A", "B", "C" or None for a label's text ("dL/dA =", "'loss':", "grad(B)")."""
    s = label.strip().rstrip("=:,").strip().lstrip("#>-({").strip()
    if not s or len(s) > 80:
        return None
    for candidate in (s, _PARENTHETICAL.sub("", s)):
        for old, new in _LATEX:
            candidate = candidate.replace(old, new)
        bare = candidate.translate(_DECORATION)
        if bare in GRADIENT_NAMES:  # capitals only: a lowercase "a" is the report's pre-activation
            return bare
        n = bare.lower().replace("(", "").replace(")", "")
        if _LOSS.fullmatch(n):
            return "loss"
        m = _GRAD.fullmatch(n)
        if m:
            return (m.group("n") or m.group("m")).upper()
    return None


def describe(name: str | None) -> str:
    return {"loss": "the loss", None: "the value"}.get(name, f"∂L/∂{name}")


def is_wrapper(word: str) -> bool:
    """Whether ``word`` followed by "(" wraps a value: ``tensor``, ``np.array``, ``np.float64``…"""
    return word.rsplit(".", 1)[-1].lower() in _WRAPPERS
