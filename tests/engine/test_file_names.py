"""Suggested file names: the session's name with what no file system accepts taken out."""

from __future__ import annotations

import pytest

from backprop_lab.engine.session import MAX_FILE_STEM_CHARS, session_file_stem


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        ("Random K = 16, seed 0", "Random K = 16, seed 0"),
        ("Report example", "Report example"),
        ('Lab 3: a/b "test"?', "Lab 3 ab test"),
        ("C:\\temp\\x<y>|z*", "Ctempxyz"),
        ("tab\there\nnew  line", "tab here new line"),
        ("  ..hidden..  ", "hidden"),
        ("Übung 3 — σ′(a)", "Übung 3 — σ′(a)"),
        ("\ud800lone surrogate", "lone surrogate"),
        ("bell\x07", "bell"),
        ("", "session"),
        ("///", "session"),
        ("CON", "session"),
        ("nul.txt", "session"),
        ("CONSOLE", "CONSOLE"),
    ],
)
def test_unsafe_characters_are_removed_and_the_rest_kept(name, stem):
    assert session_file_stem(name) == stem


def test_a_long_name_is_cut_without_a_trailing_dot_or_space():
    stem = session_file_stem("a" * 99 + ". b" * 50)
    assert len(stem) <= MAX_FILE_STEM_CHARS and stem == "a" * 99
    assert session_file_stem("", default="report") == "report"
