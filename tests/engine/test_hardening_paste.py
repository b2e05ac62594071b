"""Hostile clipboard text (issue #7): ``parse_matrix_text`` returns a rectangular matrix of finite
floats or raises ValueError (one line), never evaluates anything, and stays within bounded time
memory up to its size limit.

tests/engine/test_matrix_text.py checks every accepted form and refusal; this file fuzzes it with
hypothesis (random text, and text built from the grammar's own pieces), proves that no code is
run (``eval``, ``exec``, ``compile``, ``__import__``, ``os.system`` and friends are booby-trapped
during every parse), and feeds it the worst inputs found: a cubic regular-expression backtrack and
million-cell lines. No test times a parse: a backtracking bomb of 200,000 characters would run for
hours, so the generous pytest-timeout below turns it into a failure, and the parse times themselves
are measured by tests/bench/bench_hostile_input.py.
"""

from __future__ import annotations

import builtins
import contextlib
import math
import os
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backprop_lab.engine import matrix_text
from backprop_lab.engine.matrix_text import MAX_TEXT_CHARS, parse_matrix_text
from backprop_lab.engine.model import MAX_K

FUZZ = settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
COUNTS: dict[str, int] = {}
#: A parse that hangs fails instead of stalling the suite; never a speed target.
pytestmark = [pytest.mark.reliability("paste"), pytest.mark.timeout(300)]


class _Ran(AssertionError):
    pass


_TRAPPED = {builtins: ("eval", "exec", "compile", "__import__"), os: ("system", "popen", "execv", "fork")}


@contextlib.contextmanager
def _booby_trapped():
    """While parsing, evaluating, compiling or importing code, or running a command, fails."""
    saved = {(mod, name): getattr(mod, name) for mod, names in _TRAPPED.items() for name in names}

    def trap(name):
        def refuse(*args, **kwargs):
            raise _Ran(f"{name} was called while parsing pasted text")

        return refuse

    for mod, name in saved:
        setattr(mod, name, trap(name))
    try:
        yield
    finally:
        for (mod, name), value in saved.items():
            setattr(mod, name, value)


def _outcome(text: str):
    try:
        with _booby_trapped():
            result = parse_matrix_text(text)
    except ValueError as exc:
        message = str(exc)
        assert message and "\n" not in message and len(message) < 300, message
        return exc
    assert isinstance(result, list) and 1 <= len(result) <= MAX_K
    width = len(result[0])
    assert 1 <= width <= MAX_K
    for row in result:
        assert isinstance(row, list) and len(row) == width
        assert all(type(v) is float and math.isfinite(v) for v in row)
    return result


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('touch /tmp/pwned')",
        "[[__import__('os').system('x')]]",
        "eval('1+1')",
        "[[1, 2], [3, exec('x=1')]]",
        "[[1, 2]] + [[3, 4]]",
        "[[1, 2]] if True else 0",
        "lambda: 0",
        "[x for x in range(3)]",
        "{'a': 1}",
        "0x1p3",
        "(1).__class__",
        "np.ones((3, 3))",
    ],
)
def test_code_in_the_clipboard_is_refused_and_never_run(text):
    outcome = _outcome(text)
    assert isinstance(outcome, ValueError), f"{text!r} was accepted as {outcome!r}"


@pytest.mark.parametrize(
    "text", ["array([[1, 2]], dtype=__import__('os').system('x'))", "tensor([[1, 2]], device=os.system('x'))"]
)
def test_keyword_arguments_after_the_list_are_ignored_not_run(text):
    # dtype=…, requires_grad=… are dropped as text; the booby traps prove nothing is evaluated.
    assert _outcome(text) == [[1.0, 2.0]]


@given(st.text(alphabet="ab \t\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029", max_size=30))
def test_lines_are_split_exactly_where_splitlines_splits(text):
    # The lazy line reader must number lines as str.splitlines would (error messages name them).
    expected = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    got = [(n, m.group(1)) for n, m in enumerate(matrix_text._LINE.finditer(text), 1) if m.group(1).strip()]
    assert got == expected


def test_a_list_with_numbers_outside_its_rows_is_refused_not_cut():
    # "[1, 2, [3]]" used to come back as [[3.0]]: the 1 and 2 were silently dropped.
    with pytest.raises(ValueError, match="a number outside a row"), _booby_trapped():
        parse_matrix_text("[1, 2, [3]]")


@pytest.mark.parametrize(
    ("label", "text"),
    [
        # The wrapper pattern backtracked in cubic time: "(" and 4,000 spaces took 16 s.
        ("open paren then blanks", "(" + " " * 200_000 + "x"),
        ("blanks inside parens", "a(" + " " * 200_000 + "x)"),
        ("many closing parens", "(" + " )" * 100_000 + "x"),
        ("kwargs without a value", "a([1]" + ", b" * 100_000 + "=)"),
    ],
)
def test_no_catastrophic_backtracking(label, text):
    # Each is refused; before the fix the first took hours (cubic in 200,000), which the timeout catches.
    assert isinstance(_outcome(text), ValueError), label


HOSTILE_SIZE = 5_000_000


@pytest.mark.parametrize(
    ("label", "text", "fragment"),
    [
        ("one line of cells", "10 " * (HOSTILE_SIZE // 3), "too many columns"),
        ("a flat list", "[" + "10," * (HOSTILE_SIZE // 3) + "]", "too many columns"),
        ("one long row", "[[" + "10," * (HOSTILE_SIZE // 3) + "]]", "too many columns"),
        ("many rows", "1\n" * (HOSTILE_SIZE // 2), "too many rows"),
        ("many empty rows", "[" + "[]," * (HOSTILE_SIZE // 3) + "]", "too many rows"),
        ("deep brackets", "[" * HOSTILE_SIZE, "deeper than two levels"),
        ("only separators", ",;\t " * (HOSTILE_SIZE // 4), "no numbers"),
        ("a huge number", "1" * 100_000, "too long"),
        ("over the limit", "1 " * (MAX_TEXT_CHARS // 2 + 1), "too long"),
    ],
)
def test_huge_text_is_refused_in_bounded_memory(label, text, fragment):
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=fragment), _booby_trapped():
            parse_matrix_text(text)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    # Before: a 25-million-character line was split into ~8 million cells (~800 MB) first.
    assert peak < 3 * len(text) + 10_000_000, f"{label}: peak {peak:,} bytes for {len(text):,} characters"


# --------------------------------------------------------------------------- fuzzing

numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**30), 10**30).map(str),
    st.sampled_from(
        ["1e999", "-1e400", "1e-400", "nan", "inf", "-0", ".5", "5.", "1e", "--1", "\u22122", "0x10"]
    ),
)
pieces = st.one_of(
    numbers,
    st.sampled_from(
        [
            "[",
            "]",
            "(",
            ")",
            ",",
            ";",
            "\t",
            " ",
            "\n",
            "\r\n",
            "array",
            "tensor",
            "dtype=float",
            "=",
            "np.",
            "__import__",
            "'os'",
            ".system",
            "True",
            "None",
            "...",
            "#",
            "\\",
        ]
    ),
    st.text(max_size=3),
)
grammar_text = st.lists(pieces, max_size=40).map("".join)


@FUZZ
@given(st.text(max_size=300))
def _fuzz_random_text(text):
    COUNTS["random text"] = COUNTS.get("random text", 0) + 1
    _outcome(text)


@FUZZ
@given(grammar_text)
def _fuzz_grammar_text(text):
    COUNTS["grammar text"] = COUNTS.get("grammar text", 0) + 1
    _outcome(text)


def _cell(v: float) -> str:
    return repr(v)


@FUZZ
@given(
    st.integers(1, 6).flatmap(
        lambda k: st.lists(
            st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=k, max_size=k),
            min_size=1,
            max_size=6,
        )
    ),
    st.sampled_from(["\t", ",", ", ", ";", " ", "  "]),
    st.sampled_from(["\n", "\r\n"]),
    st.sampled_from(["lines", "python", "numpy", "array"]),
)
def _fuzz_accepted_forms_read_back_exactly(m, sep, newline, form):
    COUNTS["matrices"] = COUNTS.get("matrices", 0) + 1
    if form == "lines":
        text = newline.join(sep.join(map(_cell, row)) for row in m)
    elif form == "python":
        text = "[" + ", ".join("[" + ", ".join(map(_cell, row)) + "]" for row in m) + "]"
    elif form == "numpy":
        text = "[" + (newline + " ").join("[" + " ".join(map(_cell, row)) + "]" for row in m) + "]"
    else:
        text = (
            "array([" + ", ".join("[" + ", ".join(map(_cell, row)) + "]" for row in m) + "], dtype=float64)"
        )
    assert _outcome(text) == [[float(v) for v in row] for row in m]


def test_fuzzed_text_only_ever_gives_a_matrix_or_one_line():
    _fuzz_random_text()
    _fuzz_grammar_text()
    _fuzz_accepted_forms_read_back_exactly()
    assert min(COUNTS.values()) >= 300, COUNTS
