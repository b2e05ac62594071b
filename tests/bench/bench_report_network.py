"""Benchmark of the report's network figure (#15): what drawing it adds to a report, at K = 3, 16, 32.

    QT_QPA_PLATFORM=offscreen python tests/bench/bench_report_network.py [--repeats N] [--k K]

For each K (the report example at K = 3, ``Session.random(K, 1)`` otherwise): the picture
(``report_picture``: evaluate + layout), network.svg, network.png (painted and encoded), and the
PDF with the figure against the same PDF without it, side by side in one run; the median of N
runs each. All of it runs on the export's worker thread in the window; none of it on the GUI
thread. Prints Markdown.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _median_ms(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> int:
    from benchlib import machine
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([sys.argv[0]])  # noqa: F841 (fonts need one)
    from backprop_lab.engine.report_data import gather_report_data
    from backprop_lab.engine.session import Session
    from backprop_lab.gui.network_paint import image_scale
    from backprop_lab.gui.report import png_bytes
    from backprop_lab.gui.report_network import NETWORK_PNG_SCALE, network_png, network_svg, report_picture
    from backprop_lab.gui.report_pdf import render_report_pdf

    repeats = int(sys.argv[sys.argv.index("--repeats") + 1]) if "--repeats" in sys.argv else 5
    ks = [int(sys.argv[sys.argv.index("--k") + 1])] if "--k" in sys.argv else [3, 16, 32]
    print(f"Machine: {machine(os.environ['QT_QPA_PLATFORM'])}\n")
    print(f"Median of {repeats} runs, ms\n")
    print(
        "| K | edges | picture | network.svg | network.png (px/unit) | PDF without | PDF with | PDF: added |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for k in ks:
        session = Session.report_example() if k == 3 else Session.random(k, 1)
        data = gather_report_data(session, torch=False)
        pic = report_picture(data.initial)
        model = data.initial
        t_pic = _median_ms(lambda m=model: report_picture(m), repeats)
        t_svg = _median_ms(lambda p=pic: network_svg(p, "bench"), repeats)
        t_png = _median_ms(lambda p=pic: png_bytes(network_png(p)), repeats)
        without, with_ = [], []
        for _ in range(repeats):  # interleaved, so that both see the same machine
            without.append(_median_ms(lambda d=data: render_report_pdf(d, None, None), 1))
            with_.append(_median_ms(lambda d=data, p=pic: render_report_pdf(d, None, p), 1))
        t0, t1 = statistics.median(without), statistics.median(with_)
        print(
            f"| {k} | {len(pic.edges):,} | {t_pic:.1f} | {t_svg:.1f} "
            f"| {t_png:.0f} ({image_scale(pic, NETWORK_PNG_SCALE):.2f}) "
            f"| {t0:.0f} | {t1:.0f} "
            f"| {t1 - t0:+.0f} |"
        )
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    raise SystemExit(main())
