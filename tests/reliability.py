"""The reliability table (docs/reliability.md), from a run of the hardening tests made here and now.

Every hardening test carries a marker naming its group, e.g.
``@pytest.mark.reliability("save-faults")`` (or ``pytestmark`` for a whole module). This script
runs the suite's tests that carry the marker in a subprocess, with itself loaded as a pytest
plugin that notes each test's group and outcome, and prints one Markdown row per group: what was
tried, how many cases (collected tests, one per parametrized case) passed and failed, and what a
pass means. Nothing is read from a cache or a previous run::

    python tests/reliability.py                 # the whole table (a few minutes)
    python tests/reliability.py -k paste        # extra arguments go to pytest

Exit status: 0 when every case passed, 1 when one failed or none ran.
Not a test module (pytest collects ``test_*.py`` only). Standard library only (pytest runs in the
subprocess).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve()
ROOT = HERE.parents[1]
MARKER = "reliability"
#: Where the plugin half writes what ran (set by the script half for the subprocess).
OUT_ENV = "BACKPROP_LAB_RELIABILITY_OUT"

#: group → (what was tried, what a pass means), in the table's order. A group found in the run but
#: missing here still gets a row, described by its test module's first docstring line: add it here.
GROUPS: dict[str, tuple[str, str]] = {
    "save-faults": (
        "Saving fails (engine and `backprop-lab train -o`): 7 stages (mkstemp, open, write, flush, "
        "close, fsync, rename) × 4 errnos (ENOSPC, EIO, EDQUOT, EROFS); a disk full after 0/100/half/"
        "all-but-1 bytes; Ctrl-C and SystemExit mid-save; a parent that is a file; folders, missing "
        "folders, NUL and over-long names; the command line at 5 stages",
        "the previous file is byte-for-byte intact and loads; no temporary file is left; one error line "
        "names the file and the reason; the command exits 2",
    ),
    "export-faults": (
        "`backprop-lab export` and the engine's export (CSV, JSON, .npz) failing at 7 stages (mkstemp, "
        "open, write, flush, close, fsync, rename); Ctrl-C, SystemExit and MemoryError half-way; an "
        "unknown extension; gradients that overflow; the output being the session itself (a symbolic "
        "link too); SIGINT mid-export",
        "the file that was there is byte-for-byte intact; no temporary file is left; one error line; the "
        "session never written; the command exits 2 (130 on SIGINT)",
    ),
    "sigkill": (
        "`backprop-lab train S -o S` killed with SIGKILL at seeded random moments on a 200,000-step "
        "session (a 13 MB file), every other kill once the temporary file exists (inside the save)",
        "the file is always the old one byte for byte or the complete new one; kills did land mid-save",
    ),
    "window-save-faults": (
        "File ▸ Save in the window failing at 5 stages × 3 errnos (ENOSPC, EIO, EROFS); a parent that "
        "is a file",
        "one message naming the file and the reason; the window stays modified; the old file is intact; "
        "no temporary left; the next Save works",
    ),
    "window-faults": (
        "the worker raising after 300 steps; a report export whose disk fills at the 3rd file; recovery "
        "copies that are a 1 GB sparse file, 200,000-deep JSON or NUL bytes",
        "each reported in one message; the steps taken and unsaved edits kept; the report folder as "
        "before; the bad copy moved aside; the window usable afterwards",
    ),
    "session-files": (
        "hostile session files on disk: a 1 GB sparse file; K or x of a million; `10**400`; 6 million "
        "history entries; 100,000-deep nesting; 100,000-digit integers; 1e400, NaN, NUL, UTF-16, lone "
        "surrogates; hypothesis: hostile values in every field, random bytes spliced into valid files",
        "a Session or one SessionError line naming the file and field; the file never changes; memory "
        "at most 40× the file; the 1 GB file refused with under 1 MB allocated",
    ),
    "paste": (
        "hostile clipboard text: code (`__import__('os').system(…)`, eval, lambdas) with eval/exec/"
        "compile/os.system booby-trapped; regular-expression backtracking bombs; 5-million-character "
        "lines; text over the 25 M limit; hypothesis: random text, text from the grammar's pieces, "
        "valid matrices in 4 forms",
        "a rectangular matrix of finite floats or one ValueError line; nothing is ever run; memory at "
        "most 3× the text",
    ),
    "window-paste": (
        "hypothesis: hostile texts pasted into the window's editor at random cells, code booby-trapped",
        "refused with one message and no undo step, or pasted as one undoable step",
    ),
    "report-escape": (
        "markup in every string field of a session reaching the HTML report (`<script>`, `onerror`, "
        "`javascript:`, `</title>`, `<img src=file:…>`, comments, CDATA, meta refresh, RTL override) in both "
        "flavours; hypothesis strings; a lone surrogate",
        "the tag structure is that of a harmless string; the text reads back unescaped; a lone "
        "surrogate shows as U+FFFD",
    ),
    "pdf-escape": (
        "hypothesis: name/notes pairs with `<script>`, `<img src=file:…>`, `<b>`, entities reaching the PDF; "
        "a lone surrogate",
        "laid out as literal text (no image or markup interpreted); the PDF renders",
    ),
    "long-run": (
        "a 5,000-step run in the offscreen window under `tracemalloc` (1,000,000 steps in "
        "`tests/bench/bench_long_runs.py`)",
        "under 1 KB kept per step (and under 2 KB at the peak); the plot holds every step",
    ),
    "start-stop": (
        "100 Start/Stop cycles in one window after 5 warm-up cycles",
        "threads, QThreads and QTimers unchanged; resident size grows less than 8 MB",
    ),
    "k64": (
        "cell edits through the editor at K = 64",
        "the gradients shown equal the engine's `loss_and_grads` bit for bit after each edit",
    ),
    "one-loader": (
        "the same hostile file given to every entry point (the loader, check, train, report): bad "
        "format, version 999, a negative learning rate, a zero batch size, 10 MB strings in 7 fields, "
        "lone surrogates, a 400-digit version; the size and container guards; standard input",
        "the same one-line message everywhere and exit 2; no value quoted beyond 80 characters",
    ),
    "unsaveable-text": (
        "a session in memory whose name, notes or divergence reason UTF-8 cannot hold, saved from the "
        "window and copied by the crash-recovery timer",
        "one line naming the field; the timer keeps running; no lock, meta or half copy left; the "
        "previous copy intact",
    ),
    "settings-round-trip": (
        "hypothesis: any valid training settings opened, edited and saved in the window; learning rates "
        "1e-9 and 0.0123456789, seeds 2^41 and 2^63 − 1; bad text in every settings box",
        "every setting saved exactly as loaded; an edit changes only its own setting; bad text is one "
        "line and the old value stays",
    ),
    "consistent-saves": (
        "Pause then Save, Step then Save, Pause then a recovery copy, pressed 0, 1, 5, 20 and 50 ms "
        "apart, 20 times each; a report exported right after Pause; a run started with unsaved edits",
        "the saved model's loss at x equals the history's last `loss_at_x`; a recovery copy is written "
        "before the run starts",
    ),
    "signals": (
        "SIGINT and SIGTERM to `check`, `train` (while loading, running, saving) and `report`; two "
        "signals 0–50 ms apart",
        "exit 130/143 with one line; the output loads and matches the last saved step, or the input is "
        "untouched; no temporary left",
    ),
    "report-all-or-nothing": (
        "a report into an existing folder failing part-way: a folder named plot.svg in the way, a "
        "rename failing at each of the 5 files, a full disk at the 1st, 3rd and 5th file, fsync and "
        "rename faults, keeping an old file aside failing, the CLI with a folder in the way",
        "the folder byte for byte as before (the old files' very inodes); no temporary left; the CLI "
        "exits 2 with one line",
    ),
    "stale-temporaries": (
        "temporaries left by killed saves and exports beside look-alikes that must stay (a running "
        "process's, another name's, another machine's, the old naming, a folder, the user's); a reused "
        "pid; a zombie creator; a symbolic link; a real SIGKILL mid-save",
        "the next save or export removes exactly the stale ones",
    ),
    "long-notes": (
        "notes up to the 1,000,000-character limit in the HTML and PDF report",
        "paragraphs stay bounded (doubling the notes doubles their count); no text lost; markup escaped",
    ),
    "off-gui-thread": (
        "report export of a 1M-step session, opening a K = 1024 file, starting a K = 32 run",
        "the files are written, the model opens, the run steps; the heavy work runs on a thread other "
        "than the GUI thread",
    ),
}


# --------------------------------------------------------------------------- the plugin half
# Loaded into the pytest subprocess through a two-line shim (``-p``); these are pytest hooks.

_ran: dict[str, dict[str, object]] = {}


def pytest_collection_finish(session) -> None:  # type: ignore[no-untyped-def]
    for item in session.items:  # after -k/-m deselection
        marker = item.get_closest_marker(MARKER)
        if marker is not None and marker.args:
            doc = (getattr(item.module, "__doc__", None) or "").strip().splitlines()
            _ran[item.nodeid] = {"group": str(marker.args[0]), "outcome": "not run", "about": doc[:1]}


def pytest_runtest_logreport(report) -> None:  # type: ignore[no-untyped-def]
    entry = _ran.get(report.nodeid)
    if entry is None:
        return
    if report.failed:
        entry["outcome"] = "failed"
    elif report.skipped and entry["outcome"] != "failed":
        entry["outcome"] = "skipped"
    elif report.when == "call" and report.passed and entry["outcome"] == "not run":
        entry["outcome"] = "passed"


def pytest_sessionfinish(session) -> None:  # type: ignore[no-untyped-def]
    out = os.environ.get(OUT_ENV)
    if out:
        Path(out).write_text(json.dumps(_ran), encoding="utf-8")


# --------------------------------------------------------------------------- the script half


def run(pytest_args: list[str], cwd: Path = ROOT) -> tuple[dict[str, dict[str, object]], int]:
    """Run the marked tests; (nodeid → group, outcome, module docstring line), pytest's exit status."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "ran.json"
        # A shim in the temporary folder loads this file as the plugin (tests/ itself on sys.path
        # would make its engine/ and gui/ folders importable as top-level packages).
        shim = Path(tmp) / "backprop_lab_reliability_plugin.py"
        shim.write_text(
            "import importlib.util\n"
            f"_spec = importlib.util.spec_from_file_location('_reliability', {str(HERE)!r})\n"
            "_mod = importlib.util.module_from_spec(_spec)\n"
            "_spec.loader.exec_module(_mod)\n"
            "pytest_collection_finish = _mod.pytest_collection_finish\n"
            "pytest_runtest_logreport = _mod.pytest_runtest_logreport\n"
            "pytest_sessionfinish = _mod.pytest_sessionfinish\n",
            encoding="utf-8",
        )
        env = {**os.environ, OUT_ENV: str(out)}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [tmp, env.get("PYTHONPATH")]))
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        command += ["-p", "backprop_lab_reliability_plugin"]
        command += ["-m", MARKER, *pytest_args]
        # pytest's own progress goes to stderr, so that standard output is the table alone.
        status = subprocess.run(command, cwd=cwd, env=env, stdout=sys.stderr, check=False).returncode
        ran = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
    return ran, status


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(ran: dict[str, dict[str, object]]) -> str:
    """One Markdown row per group, known groups first in GROUPS' order."""
    by_group: dict[str, list[dict[str, object]]] = {}
    for entry in ran.values():
        by_group.setdefault(str(entry["group"]), []).append(entry)
    order = [g for g in GROUPS if g in by_group] + sorted(g for g in by_group if g not in GROUPS)
    lines = [
        "| Group | What was tried | Cases | Passed | Failed | What a pass means |",
        "|---|---|---:|---:|---:|---|",
    ]
    for group in order:
        entries = by_group[group]
        about = entries[0]["about"]
        tried, means = GROUPS.get(group, (about[0] if isinstance(about, list) and about else "", ""))
        count = {k: sum(e["outcome"] == k for e in entries) for k in ("passed", "failed", "skipped")}
        failed = count["failed"] + sum(e["outcome"] == "not run" for e in entries)
        extra = f" ({count['skipped']} skipped)" if count["skipped"] else ""
        cells = [
            group,
            _cell(tried),
            str(len(entries)),
            f"{count['passed']}{extra}",
            str(failed),
            _cell(means),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] in (["-h"], ["--help"]):
        print(__doc__)
        return 0
    ran, status = run(args)
    if not ran:
        print(f"no test marked {MARKER}(…) ran (pytest exit status {status})", file=sys.stderr)
        return 1
    print()
    print(table(ran))
    passed = sum(e["outcome"] == "passed" for e in ran.values())
    groups = len({e["group"] for e in ran.values()})
    print(f"\n{groups} groups, {len(ran)} cases, {passed} passed.")
    return 0 if status == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
