"""Long notes render in linear time: the Qt flavour cuts them into paragraphs of bounded size
(Qt draws a PDF page by walking every line of each paragraph on it, so one long paragraph made
the PDF quadratic in the length of the notes), and nothing of the text is lost or unescaped."""

from __future__ import annotations

import html
import re

import pytest

from backprop_lab.engine.report_html import NOTES_BLOCK_CHARS, NOTES_BLOCK_LINES, notes_html

pytestmark = pytest.mark.reliability("long-notes")

PARAGRAPH = re.compile(r'<p class="notes"(?: style="[^"]*")?>(.*?)</p>', re.S)


def _paragraphs(page: str) -> list[list[str]]:
    """Each notes paragraph as its lines of plain text."""
    return [[html.unescape(line) for line in p.split("<br>")] for p in PARAGRAPH.findall(page)]


def _notes(n: int) -> str:
    words = "the gradient of L with respect to A, <b>B</b> & C\n" + "x" * 3000 + "\n\n"
    return (words * (n // len(words) + 1))[:n]


@pytest.mark.parametrize("n", [0, 1, 5_000, 100_000, 1_000_000])
def test_no_paragraph_outgrows_the_bound_however_long_the_notes(n):
    notes = _notes(n) or "-"
    paragraphs = _paragraphs(notes_html(notes, "qt"))
    assert paragraphs
    for lines in paragraphs:
        assert len(lines) <= NOTES_BLOCK_LINES
        assert sum(map(len, lines)) <= NOTES_BLOCK_CHARS
    # Nothing lost, nothing added, nothing left unescaped (only line breaks may differ).
    text = "".join("".join(lines) for lines in paragraphs).replace("\xa0", "")
    assert text == notes.replace("\n", "")
    assert "<b>" not in notes_html(notes, "qt")


def test_the_work_grows_linearly_with_the_notes():
    # The drawing work of a page is bounded by the largest paragraph on it, and the number of
    # paragraphs grows in proportion to the text: double the notes, double the paragraphs, and
    # the largest stays the same size.
    def shape(n: int) -> tuple[int, int]:
        paragraphs = _paragraphs(notes_html(_notes(n), "qt"))
        return len(paragraphs), max(sum(map(len, lines)) for lines in paragraphs)

    (count_1, largest_1), (count_2, largest_2) = shape(200_000), shape(400_000)
    assert 1.8 <= count_2 / count_1 <= 2.2
    assert largest_1 <= NOTES_BLOCK_CHARS and largest_2 <= NOTES_BLOCK_CHARS


def test_a_line_without_spaces_is_cut_at_the_bound_and_a_line_with_them_at_a_space():
    paragraphs = _paragraphs(notes_html("y" * 4500, "qt"))
    assert [sum(map(len, p)) for p in paragraphs] == [2000, 2000, 500]
    words = ("word " * 1000).strip()
    for lines in _paragraphs(notes_html(words, "qt"))[:-1]:
        assert lines[-1].endswith(" ")


def test_blank_lines_and_short_notes_keep_their_shape():
    assert notes_html("one\n\nthree", "qt") == '<p class="notes">one<br><br>three</p>'
    many = _paragraphs(notes_html("\n" * 100, "qt"))
    assert sum(len(p) for p in many) == 101 and all(len(p) <= NOTES_BLOCK_LINES for p in many)


def test_the_web_page_keeps_one_paragraph():
    page = notes_html(_notes(50_000), "web")
    assert page.count("<p") == 1 and "<b>" not in page and "&lt;b&gt;" in page
