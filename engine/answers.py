"""What a student's program printed: the loss and some of ∂L/∂A, ∂L/∂B, ∂L/∂C, read from text.

``parse_answers(text, k)`` reads the forms people print, parsed and never evaluated:

* values: a number (``44.06``, ``1.2e-05``); a nested list ``[[…], […]]`` (commas or NumPy's blanks,
  across lines, Markdown code fences and blank lines); PyTorch's ``tensor(…)``, NumPy's ``array(…)``
  or ``np.float64(…)`` around either, with keywords (``dtype=…``, ``grad_fn=<…>``, ``device='cpu'``);
  rows of numbers separated by blanks, tabs, commas or semicolons, one row a line.
* names, before the value on its line or alone on the line above it (``=`` or ``:`` optional): the
  loss is ``Loss``, ``loss``, ``L``; ∂L/∂A is ``dL/dA``, ``∂L/∂A``, ``dA``, ``d_A``, ``dLdA``,
  ``dl_da``, ``grad_A``, ``grad A``, ``A.grad``, ``A_grad``, ``gradient of A``, ``∇A`` or the bare
  capital ``A`` (the report prints its gradients under the weights' names), B and C alike; a
  parenthesis after a name is ignored (``dA (PyTorch)``), and so is a ``# comment`` after a value.
  A Python dict or tuple printed on one line (``{'loss': …, 'A': […]}``) reads too.
* values without a name: a single number is the loss; matrices are ∂L/∂A, ∂L/∂B, ∂L/∂C in the
  order they come, and a block of rows that is two or three K×K matrices one under the other is
  split. Named and unnamed matrices are never mixed (which one would the unnamed be?): that is an
  error. With K = 1 a lone number is always the loss: name the gradients or print them as ``[[x]]``.
* everything else is skipped as prose (``Resulting gradients are,``, ``lr=0.01, N=1000``), except a
  matrix under a name that is neither the loss nor a gradient (``W1 = [[…]]``, ``x = tensor(…)``),
  which is an error rather than a silently dropped gradient.

Each number keeps the digits it was printed with (:attr:`PrintedNumber.unit`), which set how closely
it is judged (:mod:`engine.compare`). Anything unreadable raises :class:`AnswersError`: one line
naming the line number and what was expected there (a word where a number belongs, unbalanced
brackets, a ragged row, a matrix that is not K×K, a quantity given twice, NaN or infinity, nothing
found at all). No other exception escapes, whatever the text (tests/engine/test_answers.py fuzzes it).
"""

from __future__ import annotations

import math
import re
from collections import deque
from dataclasses import dataclass, field

from backprop_lab.engine.answer_tokens import (
    ABBREVIATED,
    GRADIENT_NAMES,
    NOTHING_FOUND,
    SKIP_LINE,
    Tok,
    describe,
    found,
    is_wrapper,
    mixing,
    name_of,
    single_break,
    tokens,
    unit,
)
from backprop_lab.engine.formatting import format_count
from backprop_lab.engine.matrix_text import MAX_TEXT_CHARS, MINUSES, parse_number
from backprop_lab.engine.model import MAX_K
from backprop_lab.engine.shapes import Matrix

#: Longest text read: three of the longest matrices a paste accepts (three 1024×1024 gradients at
#: full precision are about 63 million characters), and room for the words around them.
MAX_ANSWERS_CHARS = 3 * MAX_TEXT_CHARS + 1_000_000

__all__ = [
    "GRADIENT_NAMES",
    "MAX_ANSWERS_CHARS",
    "Answers",
    "AnswersError",
    "PrintedMatrix",
    "PrintedNumber",
    "parse_answers",
]


class AnswersError(ValueError):
    """Unreadable answers; ``str()`` is ``"line N: expected …, found …"`` (``line`` 0: the whole text)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line


@dataclass(frozen=True)
class PrintedNumber:
    """One printed number: its value, one unit in its last printed digit (1e-4 for ``2.1648``,
    1e-7 for ``2.1648e-03``, 1.0 for ``12``; None for a number computed, not printed), and the
    1-based line it was on (0 when not read from text)."""

    value: float
    unit: float | None = None
    line: int = 0


@dataclass(frozen=True)
class PrintedMatrix:
    """A printed gradient: ``name`` is "A", "B" or "C" (∂L/∂A …); rows of :class:`PrintedNumber`."""

    name: str
    rows: tuple[tuple[PrintedNumber, ...], ...]
    line: int = 0

    @property
    def values(self) -> Matrix:
        return [[n.value for n in row] for row in self.rows]


@dataclass(frozen=True)
class Answers:
    """Everything a student gave: ``loss`` (or None) and the gradients they printed, by name."""

    loss: PrintedNumber | None
    grads: dict[str, PrintedMatrix]

    @classmethod
    def from_values(cls, loss: float | None, grads: dict[str, Matrix]) -> Answers:
        """Answers computed by a program (``grade``): full-precision numbers, no printed digits."""
        matrices = {
            name: PrintedMatrix(name, tuple(tuple(PrintedNumber(v) for v in row) for row in m))
            for name, m in grads.items()
        }
        return cls(None if loss is None else PrintedNumber(loss), matrices)


def parse_answers(text: str, k: int) -> Answers:
    """The answers in ``text`` for a K×K model; AnswersError (one line) when unreadable, when a
    matrix is not K×K, when a gradient is given twice, or when nothing is found."""
    if not 1 <= k <= MAX_K:
        raise ValueError(f"K must be between 1 and {MAX_K}, not {k}")
    if len(text) > MAX_ANSWERS_CHARS:
        raise AnswersError(0, f"the text is too long to be answers ({len(text):,} characters)")
    answers = _Reader(text.translate(MINUSES), k).read()
    if answers.loss is None and not answers.grads:
        raise AnswersError(0, NOTHING_FOUND)
    return answers


# --------------------------------------------------------------------------- values


@dataclass
class _Block:
    """A value being read: its rows of numbers and the line each starts on."""

    line: int
    nested: bool = False  # written as a matrix ([[x]], several numbers), not as one number
    rows: list[tuple[PrintedNumber, ...]] = field(default_factory=list)
    row_lines: list[int] = field(default_factory=list)
    height: int = 0
    width: int = 0
    splits: bool = False  # rows one a line: may be several unnamed matrices one under another

    @property
    def scalar(self) -> bool:
        return self.height == 1 and self.width == 1 and not self.nested


_ENDS = ("nl", "end", "fence")
_SEPARATORS = (",", ";", "nl", "fence")


class _Reader:
    """One pass over the tokens: each item (a name and a value) is taken as soon as it is read,
    so the first problem in the text is the one reported."""

    def __init__(self, text: str, k: int) -> None:
        self.text, self.k = text, k
        self._tokens = tokens(text)
        self._buf: deque[Tok] = deque()
        self.loss: PrintedNumber | None = None
        self.grads: dict[str, PrintedMatrix] = {}
        self._first: dict[str, int] = {}  # quantity -> the line it was first given on
        self._named_matrix = 0  # line of the first named gradient (0: none yet)
        self._unnamed_matrix = 0  # line of the first unnamed matrix (0: none yet)

    # -- the token stream

    def peek(self, n: int = 0) -> Tok:
        while len(self._buf) <= n:
            self._buf.append(next(self._tokens))
        return self._buf[n]

    def next(self) -> Tok:
        tok = self.peek()
        self._buf.popleft()
        return tok

    def _skip_line(self) -> None:
        """Drop the rest of the line; its end is the next token."""
        while self._buf:
            if self._buf[0].kind in ("nl", "end"):
                return
            self._buf.popleft()
        self._buf.append(self._tokens.send(SKIP_LINE))

    def _value_start(self, i: int) -> bool:
        tok = self.peek(i)
        if tok.kind in ("[", "num"):
            return True
        return tok.kind == "word" and self.peek(i + 1).kind == "(" and is_wrapper(tok.text)

    def _next_value(self, i: int) -> int:
        """The index of the first token after ``i`` that is not a line end (at most 1,000 ahead)."""
        j = i
        while self.peek(j).kind in ("nl", "fence") and j < i + 1000:
            j += 1
        return j

    # -- items

    def read(self) -> Answers:
        while (tok := self.peek()).kind != "end":
            if tok.kind in ("nl", "fence"):
                self.next()
            else:
                self._line()
        return Answers(self.loss, self.grads)

    def _line(self) -> None:
        """The items on one line: a dict or tuple printed on one line has several."""
        decoration: tuple[str, ...] = ("(", "{")
        while True:
            while self.peek().kind in decoration:
                self.next()
            mid_line = decoration != ("(", "{")
            if mid_line and self.peek().text.startswith("#"):  # a comment after a value
                self._skip_line()
            if self.peek().kind in _ENDS or not self._item(mid_line):
                return
            decoration = ("(", "{", ")", "}", ",", ";")

    def _item(self, mid_line: bool) -> bool:
        """One name and its value; False when the rest of the line was skipped as prose."""
        first = self.peek()
        if first.kind == "]":
            raise AnswersError(first.line, "unbalanced brackets: expected no ']' here, as no '[' is open")
        i = 0
        # A label is short: a line with no value within 64 tokens is prose, skipped as it streams.
        while i < 64 and self.peek(i).kind not in _ENDS and not self._value_start(i):
            i += 1
        if mid_line and (i == 64 or (i and name_of(self.text[first.start : self.peek(i).start]) is None)):
            raise AnswersError(first.line, f"expected the end of the line, found {found(first)}")
        if i == 64:
            self._skip_line()
            return False
        label = self.text[first.start : self.peek(i).start].strip() if i else ""
        name = name_of(label) if i else None
        if i and name is None:
            self._words_after_a_name(first, i)
            self._unknown(label, first, i)
            return False
        for _ in range(i):
            self.next()
        if not self._value_start(0):  # a name on a line of its own: its value is below it
            self.next()
            while self.peek().kind in ("nl", "fence"):
                self.next()
            if not self._value_start(0):
                raise AnswersError(
                    self.peek().line,
                    f"expected {describe(name)}'s value (a number or a matrix) after {label!r} on "
                    f"line {first.line}, found {found(self.peek())}",
                )
        self._take(name, self._value(name, mid_line), first.line if i else 0)
        return True

    def _words_after_a_name(self, first: Tok, i: int) -> None:
        # "Loss = abc", "dA: see below": a word where the named quantity's number belongs.
        e = next((j for j in range(i - 1) if self.peek(j).kind in ("=", ":")), None)
        if e is not None:
            name = name_of(self.text[first.start : self.peek(e + 1).start])
            if name is not None:
                tok = self.peek(e + 1)
                raise AnswersError(
                    tok.line, f"expected {describe(name)}'s value (a number or a matrix), found {found(tok)}"
                )

    def _unknown(self, label: str, first: Tok, i: int) -> None:
        # A matrix under an unknown single name ("W1 =", "'x':"), or any value on the lines below
        # one, is refused rather than dropped or taken for ∂L/∂A: it may be the gradient the
        # student meant. Anything else unknown ("lr=0.01, N=1000", sentences) is prose, skipped.
        single = label.endswith(("=", ":")) and not re.search(r"\s", label.rstrip("=: \t"))
        j = self._next_value(i) if single and self.peek(i).kind in _ENDS else i
        if single and self._value_start(j) and (j != i or self.peek(j).kind != "num"):
            raise AnswersError(
                first.line,
                f"{found(first)} names neither the loss nor a gradient: expected Loss, "
                "dL/dA, ∂L/∂B, grad_C, A.grad, A = … (or delete the line)",
            )
        self._skip_line()

    def _value(self, name: str | None, mid_line: bool) -> _Block:
        tok = self.peek()
        if tok.kind == "[":
            return self._nested(self.next(), name)
        if tok.kind == "word":
            return self._wrapped(name)
        if name == "loss" or mid_line:
            block = _Block(tok.line)
            self._add_row(block, [self._number(self.next())], tok.line, name)
            return block
        return self._rows(name)

    # -- numbers and rows

    def _number(self, tok: Tok) -> PrintedNumber:
        value = float(tok.text)  # the token is float()'s own syntax (answer_tokens._NUMBER)
        if math.isfinite(value):
            return PrintedNumber(value, unit(tok.text), tok.line)
        try:
            parse_number(tok.text)  # for its words: NaN, infinite or too large
            reason = "not finite"
        except ValueError as exc:
            reason = str(exc)
        raise AnswersError(tok.line, f"expected a finite number, found {found(tok)} ({reason})")

    def _cells(self, stops: tuple[str, ...], what: str, name: str | None) -> list[PrintedNumber]:
        """The numbers up to a token of ``stops`` (not consumed); separators are skipped, and line
        ends too unless they stop. A row far longer than K is refused as soon as it is: hostile
        text costs no more than a matrix a little too wide."""
        row: list[PrintedNumber] = []
        buf, stream, wide = self._buf, self._tokens, 2 * self.k + 8
        # The one hot loop (a 1024×1024 matrix is a million numbers): tokens are pulled straight
        # from the stream rather than through peek() and next().
        while True:
            tok = buf.popleft() if buf else next(stream)
            kind = tok.kind
            if kind == "num":
                row.append(self._number(tok))
                if len(row) > wide:
                    raise AnswersError(tok.line, self._too_big(name, f"more than {wide} numbers in a row"))
            elif kind in stops:
                buf.appendleft(tok)
                return row
            elif kind not in _SEPARATORS:
                raise AnswersError(
                    tok.line, ABBREVIATED if tok.text == "..." else f"expected {what}, found {found(tok)}"
                )

    def _too_big(self, name: str | None, what: str) -> str:
        expected = "expected one number" if name == "loss" else f"the model is {self.k}×{self.k}"
        return f"{describe(name)} has {what}; {expected}"

    def _add_row(self, block: _Block, row: list[PrintedNumber], line: int, name: str | None) -> None:
        if block.height == 0:
            block.width = len(row)
        elif len(row) != block.width:
            raise AnswersError(
                line,
                f"a ragged row: row {block.height + 1} of {describe(name)} has "
                f"{format_count(len(row), 'number')} but row 1 (line {block.row_lines[0]}) has {block.width}",
            )
        block.height += 1
        if block.height > 3 * self.k + 8:  # three K×K matrices one under another, and some
            raise AnswersError(line, self._too_big(name, f"more than {3 * self.k + 8} rows"))
        block.rows.append(tuple(row))
        block.row_lines.append(line)

    def _rows(self, name: str | None) -> _Block:
        """Rows of numbers, one a line, down to a line that is not one. A line of one number is a
        value of its own (the loss below a matrix's rows, or one number)."""
        block = _Block(self.peek().line, splits=name is None)
        while True:
            line = self.peek().line
            row = self._cells(_ENDS, "a number", name)
            self._add_row(block, row, line, name)
            if len(row) == 1 or not single_break(self.peek()) or self.peek(1).kind != "num":
                break
            if self.peek(2).kind in _ENDS:  # the next line is one number
                break
            self.next()
        block.nested = block.width != 1
        return block

    def _nested(self, opening: Tok, name: str | None) -> _Block:
        """``[[…], …]`` or a flat ``[…]`` (one row), from its opening bracket."""
        block = _Block(opening.line)
        depth, row_line, flat = 1, opening.line, True
        while depth:
            row = self._cells(("[", "]", "end"), "a number, ',' or ']'", name)
            tok = self.next()
            if tok.kind == "end":
                raise AnswersError(
                    opening.line,
                    "unbalanced brackets: this '[' is never closed (expected ']', found the end of the text)",
                )
            if tok.kind == "[" and (depth == 2 or row):
                raise AnswersError(
                    tok.line, "expected a number or ']', found '[': a gradient is a list of rows"
                )
            if row and depth == 1 and not flat:
                raise AnswersError(row[0].line, "expected '[' to start a row, found a number outside any row")
            if tok.kind == "[":
                depth, flat, row_line, block.nested = 2, False, tok.line, True
            elif depth == 2:
                self._add_row(block, row, row_line, name)
                depth = 1
            else:
                depth = 0
                if flat:
                    self._add_row(block, row, opening.line, name)
                    block.nested = len(row) != 1
        return block

    def _wrapped(self, name: str | None) -> _Block:
        """``tensor(…)``, ``array(…)``, ``np.float64(…)``: the value inside; keywords skipped."""
        word, paren = self.next(), self.next()
        what = f"'{word.text}('"
        tok = self._after_line_ends()
        if tok.kind == "[":
            block = self._nested(self.next(), name)
        elif tok.kind == "num":
            block = _Block(tok.line)
            self._add_row(block, [self._number(self.next())], tok.line, name)
        else:
            raise AnswersError(tok.line, f"expected a number or '[' after {what}, found {found(tok)}")
        while True:
            tok = self._after_line_ends()
            if tok.kind == "end":
                raise AnswersError(paren.line, f"unbalanced brackets: {what} is never closed (expected ')')")
            self.next()
            if tok.kind == ")":
                return block
            if tok.kind != ",":
                raise AnswersError(tok.line, f"expected ',' or ')' to close {what}, found {found(tok)}")
            tok = self._after_line_ends()
            if tok.kind == ")":
                continue
            if tok.kind != "word" or self.peek(1).kind != "=":
                raise AnswersError(
                    tok.line, f"expected a keyword such as dtype=… or ')' in {what}, found {found(tok)}"
                )
            self._skip_keyword()

    def _after_line_ends(self) -> Tok:
        while self.peek().kind in ("nl", "fence"):
            self.next()
        return self.peek()

    def _skip_keyword(self) -> None:
        """``name=value`` inside a wrapper (``grad_fn=<SumBackward0>``, ``device=device(type='cpu')``)."""
        self.next()  # the name
        self.next()  # "="
        depth = 0
        while depth or self.peek().kind not in (",", ")", "end"):
            tok = self.next()
            if tok.kind == "end":
                return  # the caller reports the unclosed wrapper
            depth += {"(": 1, ")": -1}.get(tok.kind, 0)

    # -- what each value is

    def _take(self, name: str | None, block: _Block, line: int) -> None:
        line = line or block.line
        if name is None and block.scalar:
            name = "loss"
        if name == "loss":
            if (block.height, block.width) != (1, 1):
                raise AnswersError(
                    line, f"expected the loss as one number, found {block.height}×{block.width} numbers"
                )
            self._once("loss", line)
            self.loss = block.rows[0][0]
        elif name is None:
            self._unnamed(block)
        else:
            if self._unnamed_matrix:
                raise AnswersError(line, mixing(self._unnamed_matrix))
            self._named_matrix = self._named_matrix or line
            self._matrix(name, block, line, f"∂L/∂{name}")

    def _unnamed(self, block: _Block) -> None:
        k = self.k
        if self._named_matrix:
            raise AnswersError(block.line, mixing(self._named_matrix))
        parts = [block]
        # Rows printed with no blank line between matrices: two or three K×K, one under another.
        if block.splits and block.width == k and block.height in (2 * k, 3 * k):
            parts = [
                _Block(block.row_lines[s], True, block.rows[s : s + k], block.row_lines[s : s + k], k, k)
                for s in range(0, block.height, k)
            ]
        for part in parts:
            self._unnamed_matrix = self._unnamed_matrix or part.line
            n = len(self.grads)
            if n == 3:
                raise AnswersError(part.line, "a fourth matrix: expected at most ∂L/∂A, ∂L/∂B and ∂L/∂C")
            self._matrix(
                GRADIENT_NAMES[n], part, part.line, f"∂L/∂{GRADIENT_NAMES[n]} (matrix {n + 1} without a name)"
            )

    def _matrix(self, name: str, block: _Block, line: int, what: str) -> None:
        k = self.k
        if (block.height, block.width) != (k, k):
            shape = "one number" if block.scalar else f"{block.height}×{block.width}"
            raise AnswersError(line, f"{what} is {shape}; the model is {k}×{k}")
        self._once(name, line)
        self.grads[name] = PrintedMatrix(name, tuple(block.rows), line)

    def _once(self, name: str, line: int) -> None:
        if name in self._first:
            raise AnswersError(line, f"{describe(name)} is given twice (first on line {self._first[name]})")
        self._first[name] = line
