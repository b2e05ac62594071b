"""``pip install .`` in a fresh environment, then ``backprop-lab check`` prints the report's numbers.

The wheel is built from a copy of the project's packaged files (so the checkout gets no
build/ or egg-info) and installed with ``--no-deps`` into a new virtual environment that has
neither PySide6 nor numpy nor PyTorch: ``check`` needs none of them. The built-in example must
come from the installed ``backprop_lab.resources`` package, not from the checkout.

Building uses the running interpreter's setuptools when it can build a wheel by itself
(setuptools ≥ 70.1, or the ``wheel`` package); otherwise pip's isolated build fetches
setuptools from the package index, as ``pip install .`` does.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGED = ("pyproject.toml", "README.md", "LICENSE", "backprop_lab", "engine", "gui", "resources", "docs")


def _version(name: str) -> tuple[int, ...]:
    try:
        text = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return ()
    return tuple(int(part) for part in text.split(".")[:2] if part.isdigit())


def _can_build_without_isolation() -> bool:
    # setuptools ≥ 70.1 ships bdist_wheel itself; older ones need the wheel package.
    setuptools = _version("setuptools")
    return setuptools >= (70, 1) or (setuptools >= (68,) and importlib.util.find_spec("wheel") is not None)


def _run(cmd: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}}
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.mark.slow
def test_pip_install_then_check_prints_the_reports_numbers(tmp_path):
    if _version("pip") < (22, 3):
        pytest.skip("pip ≥ 22.3 is needed for 'pip --python' (the CI upgrades pip first)")
    source = tmp_path / "source"
    source.mkdir()
    for name in PACKAGED:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif path.exists():
            shutil.copy2(path, source / name)

    build = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "-q",
        "-w",
        str(tmp_path / "dist"),
        str(source),
    ]
    if _can_build_without_isolation():
        build.insert(4, "--no-build-isolation")
    built = _run(build, tmp_path)
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = (tmp_path / "dist").glob("backprop_lab-*.whl")

    venv = tmp_path / "venv"
    made = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    installed = _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "--no-index",
            "-q",
            str(wheel),
        ],
        tmp_path,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr

    check = _run([str(venv / "bin" / "backprop-lab"), "check"], tmp_path, timeout=60)
    assert check.returncode == 0, check.stderr
    assert check.stdout.startswith("Backprop Lab ")
    assert "the report printed Loss = 44.061213140343526" in check.stdout
    assert "The numbers the report printed: all 27 entries agree" in check.stdout
    assert check.stdout.rstrip().endswith("check passed")

    where = _run(
        [
            str(python),
            "-c",
            "import backprop_lab.engine.resources as r, importlib.util as u, sysconfig; "
            "print(r.report_example_path()); print(u.find_spec('PySide6')); "
            "print(sysconfig.get_paths()['purelib'])",
        ],
        tmp_path,
    )
    example, qt, purelib = where.stdout.split()
    assert Path(example).is_relative_to(venv) and "backprop_lab/resources" in example
    assert qt == "None"  # check ran in an environment without Qt at all
    # One import namespace: nothing of ours at the top of site-packages but backprop_lab/.
    top = {p.name for p in Path(purelib).iterdir() if not p.name.endswith(".dist-info")}
    assert "backprop_lab" in top
    assert not top & {"engine", "gui", "resources", "backprop_lab_resources"}, top
    shipped = {p.name for p in (Path(purelib) / "backprop_lab").rglob("*")}
    assert not any(name.endswith(".png") for name in shipped), shipped  # docs/images stay out of the wheel
    # Help ▸ User guide finds the guide beside the installed gui package (gui/help_controller.py).
    assert (Path(purelib) / "backprop_lab" / "docs" / "user-guide.md").is_file()
    assert not top & {"docs"}, top

    # grade's sandbox starts its child by file path: the installed grade_child.py, from an empty folder.
    submission = tmp_path / "alice.py"
    submission.write_text("def gradients(x, A, B, C):\n    return sum(x), A, B, C\n", encoding="utf-8")
    sandboxed = _run(
        [
            str(python),
            "-c",
            "import sys, backprop_lab.sandbox as s; "
            "o = s.run_submission(sys.argv[1], [([1.0, 2.0], 1, 2, 3)]); "
            "print(s.__file__, o.status, o.returned)",
            str(submission),
        ],
        tmp_path,
        timeout=120,
    )
    assert sandboxed.returncode == 0, sandboxed.stderr
    module, status, returned = sandboxed.stdout.split(maxsplit=2)
    assert Path(module).is_relative_to(venv) and (status, returned.strip()) == ("ok", "([3.0, 1, 2, 3],)")


def test_python_dash_m_backprop_lab_is_the_command(tmp_path):
    """``python -m backprop_lab`` runs the same entry point as the ``backprop-lab`` script."""
    result = _run([sys.executable, "-m", "backprop_lab", "check"], ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.rstrip().endswith("check passed")
