"""The PDF's layout of long notes: no paragraph spans more than a page or so (Qt draws each page
by walking every line of the paragraphs on it), and every character of the notes is laid out."""

from __future__ import annotations

import pytest

from backprop_lab.engine.report_data import gather_report_data
from backprop_lab.engine.report_html import NOTES_BLOCK_LINES
from backprop_lab.engine.session import Session
from backprop_lab.gui.report_pdf import layout_report

pytestmark = pytest.mark.reliability("long-notes")


def test_long_notes_are_laid_out_in_paragraphs_of_bounded_height(qapp):
    s = Session.random(2, 0)
    line = "a note about the gradients, " * 4 + "\n"
    s.notes = line * 3000 + "z" * 20_000  # 350 KB: thousands of lines and one long word
    doc = layout_report(gather_report_data(s, verifications=[], torch=False), None)
    page_height = doc.pageSize().height()
    lines = []
    block = doc.begin()
    while block.isValid():
        lines.append(block.layout().lineCount())
        assert doc.documentLayout().blockBoundingRect(block).height() < 1.5 * page_height
        block = block.next()
    assert max(lines) <= 2 * NOTES_BLOCK_LINES
    text = doc.toPlainText().replace("\u2028", "").replace("\n", "")
    assert s.notes.replace("\n", "") in text
    assert doc.pageCount() > 50
