"""The words of printed answers (:mod:`engine.answers`): tokens with their line numbers, the unit
in a number's last printed digit, and which names mean the loss and ∂L/∂A, ∂L/∂B, ∂L/∂C.

Standard library only.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Generator
from typing import NamedTuple

__all__ = [
    "ABBREVIATED",
    "GRADIENT_NAMES",
    "NOTHING_FOUND",
    "SKIP_LINE",
    "Tok",
    "describe",
    "found",
    "is_wrapper",
    "mixing",
    "name_of",
    "single_break",
    "tokens",
    "unit",
]

GRADIENT_NAMES = ("A", "B", "C")


# --------------------------------------------------------------------------- numbers


_NUMBER = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?(?i:nan|inf|infinity)"
# Every power of ten a float64 holds, as "1e<p>" reads it (10.0 ** p is not always the nearest).
_POWERS = {p: float(f"1e{p}") for p in range(-323, 309)}


def unit(text: str) -> float:
    """One unit in the last printed digit of ``text`` (a finite number as :data:`_NUMBER` reads
    it): 10^(exponent − digits after the point), clamped so it is never 0 or infinite."""
    mantissa, _, exponent = text.lower().partition("e")
    point = mantissa.find(".")
    power = int(exponent or 0) - (len(mantissa) - point - 1 if point >= 0 else 0)
    return _POWERS[max(-323, min(308, power))]


# --------------------------------------------------------------------------- tokens

_EOL = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
# Lines end where str.splitlines ends them, so line numbers match what an editor shows.
_BREAK = re.compile(f"\\r\\n|[{_EOL}]")
_BLANK = f"[^\\S{_EOL}]"  # white space within a line
_TOKEN = re.compile(
    # A run of line ends and blank lines is one token: a million empty lines cost one match.
    f"(?P<nl>(?:\\r\\n|[{_EOL}])(?:{_BLANK}*(?:\\r\\n|[{_EOL}]))*)"
    f"|(?P<str>'[^'{_EOL}]*'|\"[^\"{_EOL}]*\")"
    r"|(?P<punct>[\[\](){},;=:])"
    f"|(?P<num>(?:{_NUMBER})(?![^\\s\\[\\](){{}},;=:]))"
    r"|(?P<word>[^\s\[\](){},;=:]+)"
)
_WRAPPERS = {"tensor", "array", "asarray", "matrix", "float64", "float32", "float16", "double", "parameter"}

#: What to send() the token stream to drop the rest of the current line: the next token it gives
#: is the line's end. Prose is skipped at the speed of a regular expression, not token by token.
SKIP_LINE = "skip line"


class Tok(NamedTuple):
    kind: str  # "nl", "fence", "num", "word", "str", "end" or the punctuation character itself
    text: str  # for "nl", every line end and blank line of the run
    line: int
    start: int


def tokens(text: str) -> Generator[Tok, str | None, None]:
    """The text's tokens, lazily (hostile text costs time, not memory); a Markdown fence line is
    one "fence" token; after the end, "end" forever. ``send(SKIP_LINE)`` drops the rest of the
    line of the token given last."""
    line, at_start, it = 1, True, _TOKEN.finditer(text)
    while True:
        for m in it:
            kind, s = m.lastgroup or "word", m.group()
            if kind == "nl":
                command = yield Tok("nl", s, line, m.start())
                line, at_start = line + len(_BREAK.findall(s)), True
            else:
                if kind == "word" and at_start and s.startswith(("```", "~~~")):
                    kind, command = "fence", SKIP_LINE  # its language and the rest: not read
                    yield Tok("fence", s, line, m.start())
                elif kind == "punct":
                    kind = s
                at_start = False
                if kind != "fence":
                    command = yield Tok(kind, s, line, m.start())
            if command == SKIP_LINE and kind != "nl":
                eol = _BREAK.search(text, m.end())
                it = _TOKEN.finditer(text, eol.start() if eol else len(text))
                break
        else:
            end = Tok("end", "", line, len(text))
            while True:
                yield end


NOTHING_FOUND = (
    "no loss or gradient found: expected lines such as 'Loss = 44.06' and "
    "'dL/dA = [[2.16, 2.67, …], …]', or what PyTorch or NumPy prints"
)
#: A matrix NumPy or PyTorch shortened with "...": what to do about it.
ABBREVIATED = (
    "expected a number, found '...': the matrix was printed abbreviated; print it in full "
    "(numpy.set_printoptions(threshold=sys.maxsize) or torch.set_printoptions(profile='full'))"
)


def single_break(tok: Tok) -> bool:
    """Whether an "nl" token ends one line only, with no blank line after it."""
    return _BREAK.fullmatch(tok.text) is not None


def found(tok: Tok) -> str:
    """What was found instead, for "expected …, found …": the token quoted and cut short."""
    if tok.kind == "end":
        return "the end of the text"
    if tok.kind in ("nl", "fence"):
        return "the end of the line"
    text = tok.text[1:-1] if tok.kind == "str" else tok.text  # a quoted dict key: its words
    return repr(text if len(text) <= 30 else text[:27] + "...")


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
_DECORATION = str.maketrans("", "", " \t\xa0$`*'\"{}\\")
_PARENTHETICAL = re.compile(r"\s*\([^()]*\)\s*$")


def name_of(label: str) -> str | None:
    """What a label's text names: "loss", "A", "B", "C", or None (``dL/dA =``, ``'loss':``, ``grad(B)``)."""
    # Only short labels are looked at, and cached: the cache never keeps a long stretch of text.
    return None if len(label) > 160 else _name_of(label)


@functools.lru_cache(maxsize=256)  # a log repeats its lines: each is recognised once
def _name_of(label: str) -> str | None:
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
    """The quantity in an error message: "the loss", "∂L/∂A", or "the matrix" when unnamed."""
    return {"loss": "the loss", None: "the matrix"}.get(name, f"∂L/∂{name}")


def is_wrapper(word: str) -> bool:
    """Whether ``word`` followed by "(" wraps a value: ``tensor``, ``np.array``, ``np.float64``…"""
    return word.rsplit(".", 1)[-1].lower() in _WRAPPERS


def mixing(other: int) -> str:
    """Named and unnamed matrices in one text: which would the unnamed be?"""
    return (
        f"some matrices are named and some not (see line {other}): "
        "name every gradient (dL/dA, dL/dB, dL/dC) or none"
    )
