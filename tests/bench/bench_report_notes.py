"""Report rendering time against the length of the notes: the PDF with the notes in paragraphs of
bounded size (now) beside one paragraph holding them all (before), measured side by side.

Run by hand: ``python tests/bench/bench_report_notes.py [max_chars]`` (default 1,000,000, the
longest notes a session may hold). Prints the machine, then per length the seconds of
report.html and report.pdf each way and the ratio of each time to the previous length's (about 2
when linear, about 4 when quadratic).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import machine
from PySide6.QtWidgets import QApplication

import backprop_lab.engine.report_html as report_html
from backprop_lab.engine.report_data import gather_report_data
from backprop_lab.engine.report_html import _e, render_html
from backprop_lab.engine.session import Session
from backprop_lab.gui.report_pdf import render_report_pdf


def one_paragraph(notes: str, flavour: str) -> str:
    """How the notes were rendered before: one paragraph, lines joined by <br>."""
    return f'<p class="notes">{_e(notes).replace(chr(10), "<br>")}</p>'


def timed(fn, *args, **kwargs) -> float:
    start = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - start


def main() -> None:
    top = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    app = QApplication.instance() or QApplication([])
    print(machine(app.platformName()))
    lengths = [top // 8, top // 4, top // 2, top]
    line = "Notes on the run: the gradient of L with respect to A, B and C, checked. " + "\n"
    bounded = report_html.notes_html
    previous: dict[str, float] = {}
    print(
        f"{'notes (chars)':>14} {'html s':>8} {'pdf s now':>10} {'x prev':>7} "
        f"{'pdf s before':>13} {'x prev':>7}"
    )
    for n in lengths:
        session = Session.random(3, 0)
        session.notes = (line * (n // len(line) + 1))[:n]
        data = gather_report_data(session, verifications=[], torch=False)
        t_html = timed(render_html, data, flavour="web")
        report_html.notes_html = bounded
        t_now = timed(render_report_pdf, data, None)
        report_html.notes_html = one_paragraph
        t_before = timed(render_report_pdf, data, None)
        report_html.notes_html = bounded
        r_now = f"{t_now / previous['now']:.2f}" if previous else "-"
        r_before = f"{t_before / previous['before']:.2f}" if previous else "-"
        print(
            f"{n:>14,} {t_html:>8.3f} {t_now:>10.2f} {r_now:>7} {t_before:>13.2f} {r_before:>7}", flush=True
        )
        previous = {"now": t_now, "before": t_before}


if __name__ == "__main__":
    main()
