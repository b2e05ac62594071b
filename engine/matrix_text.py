"""Matrices as text: parse what people paste, format what they copy.

Parsing accepts

* spreadsheet/plain text: one row per line, values separated by tabs, commas, semicolons or spaces;
* Python/NumPy/PyTorch nested lists: ``[[1, 2], [3, 4]]``, ``array([[1., 2.], [3., 4.]])``,
  NumPy's printed form ``[[1. 2.]\n [3. 4.]]``, ``tensor([[...]])``; a flat ``[1, 2, 3]`` is one row.

It never evaluates the text: a tiny tokenizer reads brackets, separators and numbers, nothing else.
Size is bounded (``MAX_TEXT_CHARS`` characters, at most ``MAX_K`` rows and columns), and every entry
must be a finite float64 (no NaN, no infinity, no 1e999). Errors are ``ValueError`` with one line
naming the problem and where it is.

Standard library only.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence

from backprop_lab.engine.formatting import format_count
from backprop_lab.engine.model import MAX_K

Matrix = list[list[float]]

#: Longest text accepted (a 1024×1024 matrix of 20-character numbers fits; a runaway clipboard does not).
MAX_TEXT_CHARS = 25_000_000

#: Unicode minus signs people paste from documents and web pages, as ``str.translate`` maps them to
#: "-" (one character for one: positions in the text stay where they were).
MINUSES = str.maketrans({"\u2212": "-", "\u2013": "-", "\u2012": "-", "\ufe63": "-", "\uff0d": "-"})
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
# One greedy group, stripped afterwards: "\(\s*(.*?)\s*\)" let the three parts share blanks, which
# backtracked in cubic time ("(" and 4,000 spaces took 16 s).
_WRAPPER = re.compile(r"^\s*(?:[A-Za-z_][\w.]*\s*)?\((.*)\)\s*$", re.S)
_KWARGS = re.compile(r",\s*[A-Za-z_]\w*\s*=.*$", re.S)
_CELL = re.compile(r"[^\t,; ]+")
# A line and its end, with exactly the boundaries str.splitlines uses.
_EOL = "\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029"
_LINE = re.compile(f"([^{_EOL}]*)(?:\r\n|[{_EOL}]|\\Z)")
_TOKEN = re.compile(r"[\[\]]|[^\[\] \t\r\n,;]+")


def parse_number(text: str) -> float:
    """One cell's text as a finite float, or ValueError saying why not.

    Accepts what Python's ``float`` accepts for finite numbers (surrounding blanks, exponents,
    a Unicode minus sign); refuses empty text, words, NaN, infinities and values that overflow.
    """
    s = str(text).strip().translate(MINUSES)
    if not s:
        raise ValueError("empty input: type a number")
    if len(s) > 400:
        raise ValueError("not a number: the text is too long")
    try:
        value = float(s)
    except ValueError:
        raise ValueError(f"not a number: {_short(s)!r}") from None
    if math.isnan(value):
        raise ValueError(f"not a finite number: {_short(s)!r} is NaN")
    if math.isinf(value):
        if "inf" in s.lower():
            raise ValueError(f"not a finite number: {_short(s)!r} is infinite")
        raise ValueError(f"too large: {_short(s)!r} overflows a float64 (largest is about 1.8e308)")
    return value


def parse_matrix_text(text: str) -> Matrix:
    """Rows of finite floats from pasted text (see the module docstring for the accepted forms).

    Always returns a rectangular list of rows (at least 1×1); a single number is 1×1.
    """
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError(f"the text is too long to be a matrix ({len(text):,} characters)")
    s = text.translate(MINUSES).strip()
    if not s:
        raise ValueError("nothing to paste: the text is empty")
    if any(c in s for c in "[]()"):
        rows = _parse_nested(s)
    else:
        rows = _parse_lines(s)
    return _check_shape(rows)


def parse_vector_text(text: str, k: int, name: str = "t") -> tuple[float, ...]:
    """Exactly ``k`` finite floats from one line of text: "0.5, -1, 2", "0.5 -1 2" or "[0.5, -1, 2]".

    For a K-vector a person types (the variant's target t). ValueError with one line naming the bad
    entry by its index (``t[2] is not a number: 'x'``) or the count against K.
    """
    s = str(text).translate(MINUSES).strip()
    if s.startswith("[") and s.endswith("]"):
        s = s[1:-1]
    if len(s) > 400 * (k + 1):
        raise ValueError(f"{name} is too long for {format_count(k, 'number')}")
    cells = [c for c in re.split(r"[\s,;]+", s) if c]
    if not cells:
        raise ValueError(f"{name} is empty: type K = {k} numbers, separated by commas or spaces")
    values = []
    for j, cell in enumerate(cells):
        try:
            values.append(parse_number(cell))
        except ValueError as exc:
            raise ValueError(f"{name}[{j}]: {exc}") from None
    if len(values) != k:
        raise ValueError(f"{name} has {format_count(len(values), 'number')}; expected K = {k}")
    return tuple(values)


# --------------------------------------------------------------------------- parsing


def _parse_lines(s: str) -> Matrix:
    rows: Matrix = []
    # Lines are read lazily too (the same boundaries as str.splitlines): a million blank or
    # one-number lines are refused at row MAX_K + 1 without building a list of them first.
    for n, match in enumerate(_LINE.finditer(s), start=1):
        line = match.group(1).strip()
        if not line:
            continue
        row = []
        # Cells are read one at a time so a runaway line is refused at column MAX_K + 1, before
        # millions of cells are split out of it.
        for m, cell in enumerate(_CELL.finditer(line), start=1):
            if m > MAX_K:
                raise ValueError(f"too many columns: at most {MAX_K} are supported")
            try:
                row.append(parse_number(cell.group()))
            except ValueError as exc:
                raise ValueError(f"line {n}, value {m}: {exc}") from None
        rows.append(row)
        if len(rows) > MAX_K:
            raise ValueError(f"too many rows: at most {MAX_K} are supported")
    return rows


def _strip_wrapper(s: str) -> str:
    # array([[...]], dtype=float64) / tensor([[...]], requires_grad=True) / np.array([...]) / ([...])
    m = _WRAPPER.match(s)
    if m is None:
        return s
    inner = _KWARGS.sub("", m.group(1)) if "=" in m.group(1) else m.group(1)
    return inner.strip()


def _parse_nested(s: str) -> Matrix:
    s = _strip_wrapper(s)
    if "(" in s or ")" in s:
        raise ValueError(
            "not a matrix: only one array(...) or tensor(...) around a nested list is understood"
        )
    depth = 0
    rows: Matrix = []
    current: list[float] | None = None
    flat: list[float] = []
    max_depth = 0
    closed = False
    # Tokens are read lazily and every limit is checked as it is reached, so hostile text costs
    # at most about one full matrix of memory however long it is.
    for tok in _tokenize(s):
        if closed:
            raise ValueError("unexpected text after the closing ']'")
        if tok == "[":
            depth += 1
            max_depth = max(max_depth, depth)
            if depth > 2:
                raise ValueError("not a matrix: lists nested deeper than two levels")
            if depth == 2:
                if flat:  # [1, 2, [3]]: the 1 and 2 are outside any row
                    raise ValueError(f"a number outside a row: {flat[0]!r}")
                current = []
        elif tok == "]":
            if depth == 0:
                raise ValueError("unbalanced brackets: a ']' has no matching '['")
            if depth == 2:
                assert current is not None
                rows.append(current)
                current = None
                if len(rows) > MAX_K:
                    raise ValueError(f"too many rows: at most {MAX_K} are supported")
            depth -= 1
            closed = depth == 0
        else:
            value = parse_number(tok)
            if depth == 2:
                assert current is not None
                current.append(value)
                if len(current) > MAX_K:
                    raise ValueError(f"too many columns: at most {MAX_K} are supported")
            elif depth == 1 and max_depth == 1:
                flat.append(value)
                if len(flat) > MAX_K:
                    raise ValueError(f"too many columns: at most {MAX_K} are supported")
            else:
                raise ValueError(f"a number outside a row: {_short(tok)!r}")
    if depth != 0:
        raise ValueError("unbalanced brackets: a '[' is never closed")
    if max_depth == 1:
        return [flat]
    return rows


def _tokenize(s: str) -> Iterator[str]:
    """Brackets and the runs of text between separators, in order (a regular expression: C speed)."""
    return (m.group() for m in _TOKEN.finditer(s))


def _check_shape(rows: Matrix) -> Matrix:
    if not rows or all(not r for r in rows):
        raise ValueError("nothing to paste: no numbers found")
    width = len(rows[0])
    if width > MAX_K:
        raise ValueError(f"too many columns: at most {MAX_K} are supported")
    for n, row in enumerate(rows, start=1):
        if len(row) != width:
            raise ValueError(
                f"ragged rows: row {n} has {format_count(len(row), 'value')} but row 1 has {width}"
            )
    return rows


def _short(s: str) -> str:
    return s if len(s) <= 30 else s[:27] + "..."


# --------------------------------------------------------------------------- formatting


def _fmt(v: float, digits: int | None) -> str:
    # repr is the shortest text that reads back to the same float64; digits rounds for people.
    return repr(float(v)) if digits is None else f"{float(v):.{digits}g}"


def _rows(m: Sequence[Sequence[float]] | Sequence[float]) -> list[list[float]]:
    if m and not isinstance(m[0], Sequence):
        return [[float(v) for v in m]]  # type: ignore[arg-type]
    return [[float(v) for v in row] for row in m]  # type: ignore[union-attr]


def format_tsv(m: Sequence[Sequence[float]] | Sequence[float], digits: int | None = None) -> str:
    """Tab-separated rows (what spreadsheets paste), full precision unless ``digits`` is given."""
    return "\n".join("\t".join(_fmt(v, digits) for v in row) for row in _rows(m)) + "\n"


def format_python(m: Sequence[Sequence[float]] | Sequence[float], digits: int | None = None) -> str:
    """A Python nested list ``[[a, b], [c, d]]`` (a 1-row matrix as a flat list)."""
    rows = _rows(m)
    if len(rows) == 1 and m and not isinstance(m[0], Sequence):
        return "[" + ", ".join(_fmt(v, digits) for v in rows[0]) + "]"
    return "[" + ", ".join("[" + ", ".join(_fmt(v, digits) for v in row) + "]" for row in rows) + "]"


def format_latex_bmatrix(m: Sequence[Sequence[float]] | Sequence[float], digits: int | None = 6) -> str:
    """A LaTeX ``bmatrix`` (amsmath), rounded to ``digits`` significant digits by default."""
    body = " \\\\\n".join("  " + " & ".join(_fmt(v, digits) for v in row) for row in _rows(m))
    return "\\begin{bmatrix}\n" + body + "\n\\end{bmatrix}\n"


def format_markdown(m: Sequence[Sequence[float]] | Sequence[float], digits: int | None = 6) -> str:
    """A Markdown table with 0-based row and column indices (as the editors show them)."""
    rows = _rows(m)
    k = len(rows[0])
    lines = ["|   | " + " | ".join(str(j) for j in range(k)) + " |", "|---|" + "---:|" * k]
    lines += [f"| {i} | " + " | ".join(_fmt(v, digits) for v in row) + " |" for i, row in enumerate(rows)]
    return "\n".join(lines) + "\n"
