"""The README's "Reliability" table, from the test suite's own numbers.

The hardening tests (``tests/*/test_hardening_*.py``) each record, in pytest's cache, what they
tried, how many cases and what happened (``config.cache.set("backprop-lab/reliability/<key>", …)``).
After a run of the suite, this prints them as a Markdown table::

    python -m pytest tests && python tests/reliability.py [--cache-dir .pytest_cache]

Not a test module (pytest collects ``test_*.py`` only). Standard library only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Rows in the order the table shows them (keys not listed follow, alphabetically).
ORDER = (
    "save-faults",
    "sigkill",
    "window-save-faults",
    "window-faults",
    "session-files",
    "paste",
    "window-paste",
    "report-escape",
    "pdf-escape",
    "long-run",
    "start-stop",
    "k64",
)


def load_rows(cache_dir: Path) -> list[dict[str, object]]:
    folder = cache_dir / "v" / "backprop-lab" / "reliability"
    if not folder.is_dir():
        return []
    found = {p.name: p for p in folder.iterdir() if p.is_file()}
    keys = [k for k in ORDER if k in found] + sorted(k for k in found if k not in ORDER)
    rows = []
    for key in keys:
        try:
            row = json.loads(found[key].read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def table(rows: list[dict[str, object]]) -> str:
    lines = ["| Fault or bad input | What was tried | Cases | Result |", "|---|---|---:|---|"]
    for row in rows:
        cases = row.get("cases", "")
        cases_text = f"{cases:,}" if isinstance(cases, int) else _cell(cases)
        lines.append(
            f"| {_cell(row.get('fault', ''))} | {_cell(row.get('tried', ''))} | {cases_text} | "
            f"{_cell(row.get('result', ''))} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cache-dir", type=Path, default=ROOT / ".pytest_cache", help="pytest's cache folder"
    )
    args = parser.parse_args(argv)
    rows = load_rows(args.cache_dir)
    if not rows:
        print(f"no reliability records in {args.cache_dir}: run the test suite first", file=sys.stderr)
        return 1
    print(table(rows))
    total = sum(r["cases"] for r in rows if isinstance(r.get("cases"), int))
    print(f"\n{len(rows)} kinds of fault or bad input, {total:,} cases in all.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
