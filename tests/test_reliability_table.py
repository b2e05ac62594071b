"""tests/reliability.py: the plugin notes each marked test's group and outcome, and the table counts
what actually ran. The real hardening tests are not run here: a tiny suite in a temporary folder is."""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "reliability.py"


def _script():
    spec = importlib.util.spec_from_file_location("reliability_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_table_counts_passed_failed_and_skipped_cases_per_group():
    script = _script()
    ran = {
        "a::1": {"group": "paste", "outcome": "passed", "about": ["x"]},
        "a::2": {"group": "paste", "outcome": "failed", "about": ["x"]},
        "b::1": {"group": "save-faults", "outcome": "passed", "about": ["y"]},
        "b::2": {"group": "save-faults", "outcome": "skipped", "about": ["y"]},
        "c::1": {"group": "new-group", "outcome": "passed", "about": ["What the new module hardens."]},
    }
    rows = script.table(ran).splitlines()
    assert rows[0].startswith("| Group | What was tried | Cases | Passed | Failed |")
    # Known groups in GROUPS' order, then unknown ones; cells: group, tried, cases, passed, failed, means.
    cells = [[c.strip() for c in row.strip("|").split(" | ")] for row in rows[2:]]
    assert [c[0] for c in cells] == ["save-faults", "paste", "new-group"]
    assert cells[0][2:5] == ["2", "1 (1 skipped)", "0"]
    assert cells[1][2:5] == ["2", "1", "1"]
    assert cells[1][1] == script.GROUPS["paste"][0].replace("|", "\\|")
    assert cells[2][1] == "What the new module hardens." and cells[2][2:5] == ["1", "1", "0"]


def test_the_plugin_records_what_ran_in_a_real_pytest_run(tmp_path):
    (tmp_path / "test_demo.py").write_text(
        textwrap.dedent(
            '''
            """Demo hardening."""
            import pytest

            @pytest.mark.reliability("demo")
            @pytest.mark.parametrize("n", [1, 2, 3])
            def test_ok(n):
                assert n

            @pytest.mark.reliability("demo")
            def test_broken():
                assert False

            def test_unmarked():
                pass
            '''
        ),
        encoding="utf-8",
    )
    # The tiny suite registers the marker as pyproject.toml does (it runs under --strict-markers).
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\naddopts = --strict-markers\nmarkers =\n    reliability(group): a hardening test\n",
        encoding="utf-8",
    )
    ran, status = _script().run([], cwd=tmp_path)
    assert status == 1  # test_broken failed
    outcomes = sorted((nodeid.split("::")[1], e["group"], e["outcome"]) for nodeid, e in ran.items())
    assert outcomes == [
        ("test_broken", "demo", "failed"),
        ("test_ok[1]", "demo", "passed"),
        ("test_ok[2]", "demo", "passed"),
        ("test_ok[3]", "demo", "passed"),
    ]
    assert all(e["about"] == ["Demo hardening."] for e in ran.values())
