"""engine.formatting: one formatter, named precisions; the exponent is never lost."""

from __future__ import annotations

import math
import random

import pytest

from backprop_lab.engine.formatting import PRECISIONS, format_count, format_number


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.0, "0.0000"),
        (0.25129816, "0.2513"),
        (-44.0612131, "-44.0612"),
        (1.5e-7, "1.5000e-07"),
        (3e9, "3.0000e+09"),
        (6.6378e-3, "6.6378e-03"),
        (6.6378e-13, "6.6378e-13"),
        (999999.0, "999999.0000"),
        (1e6, "1.0000e+06"),
    ],
)
def test_cell_keeps_four_decimals_and_the_exponent(value, text):
    assert format_number(value, "cell") == text


def _exponent(text: str) -> int:
    return int(text.split("e")[1]) if "e" in text else 0


@pytest.mark.parametrize("max_chars", [4, 5, 6, 7, 8, 9])
def test_a_narrow_cell_drops_digits_never_the_exponent(max_chars):
    rng = random.Random(12)
    for _ in range(2000):
        v = rng.choice([-1, 1]) * 10 ** rng.uniform(-300, 300)
        text = format_number(v, "cell", max_chars=max_chars)
        if "e" in format_number(v, "cell"):
            assert "e" in text, (v, text)
            # the shown number is within a factor of 10 of the value: 6.6e-3 never looks like 6.6e-13
            assert abs(math.log10(abs(float(text))) - math.log10(abs(v))) < 1, (v, text)
        assert len(text) <= max(max_chars, len(f"{v:.0e}".replace("e-0", "e-").replace("e+0", "e+"))), text


def test_narrow_cells_examples():
    assert format_number(6.6378e-3, "cell", max_chars=7) == "6.64e-3"
    assert format_number(6.6378e-13, "cell", max_chars=6) == "7e-13"
    assert format_number(1.5e-7, "cell", max_chars=4) == "1e-7"  # 1.5e-7 is 1.4999…e-7 in binary
    assert format_number(-44.0612131, "cell", max_chars=6) == "-44.06"
    assert format_number(123456.7, "cell", max_chars=6) == "123457"
    assert format_number(0.0, "cell", max_chars=3) == "0.0"


def test_full_reads_back_bit_for_bit():
    rng = random.Random(3)
    values = [0.1, 1 / 3, -2.5e-308, 5e-324, 1.7976931348623157e308, 44.061213140343526]
    values += [rng.uniform(-1e6, 1e6) * 10 ** rng.randint(-200, 200) for _ in range(5000)]
    for v in values:
        text = format_number(v, "full")
        assert float(text) == v and text == repr(v)
        assert format_number(v, "report") == text


def test_precise_error_and_short():
    assert format_number(0.25129816403627125, "precise") == "0.251298164036271"
    assert format_number(1.234e-16, "error") == "1.2e-16"
    assert format_number(1.234e-9, "error", digits=3) == "1.23e-09"
    assert format_number(0.0, "error") == "0"
    assert format_number(12345.678, "short") == "1.235e+04"
    assert format_number(0.5, "short", digits=6) == "0.5"


def test_none_and_non_finite():
    for precision in PRECISIONS:
        assert format_number(None, precision) == "—"
        assert format_number(math.inf, precision) == "inf"
    assert format_number(None, "full", none="") == ""


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="unknown precision"):
        format_number(1.0, "hover")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="digits applies"):
        format_number(1.0, "cell", digits=3)
    with pytest.raises(ValueError, match="max_chars applies"):
        format_number(1.0, "full", max_chars=3)


def test_counts_group_thousands_and_agree_in_number():
    assert format_number(30000, "count") == "30,000"
    assert format_number(2768.0, "count") == "2,768"
    assert [format_count(n, "epoch") for n in (0, 1, 2, 1000)] == [
        "0 epochs",
        "1 epoch",
        "2 epochs",
        "1,000 epochs",
    ]
    assert (
        format_count(1, "entry", "entries") == "1 entry"
        and format_count(3072, "entry", "entries") == "3,072 entries"
    )
    with pytest.raises(ValueError, match="whole number"):
        format_number(2.5, "count")
