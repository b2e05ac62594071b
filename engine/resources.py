"""Where the built-in examples live, installed or in a source checkout."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

_SOURCE_TREE = Path(__file__).resolve().parent.parent / "resources"


def resource_path(relative: str) -> Path:
    """Path of a file under the project's ``resources/`` folder."""
    in_checkout = _SOURCE_TREE / relative
    if in_checkout.exists():
        return in_checkout
    # Installed from a wheel: resources/ was packaged as backprop_lab.resources.
    return Path(str(resources.files("backprop_lab.resources").joinpath(relative)))


REPORT_EXAMPLE = "examples/report-example.json"


def report_example_path() -> Path:
    return resource_path(REPORT_EXAMPLE)


def load_report_example_data() -> dict[str, Any]:
    """The report example as plain JSON data (x, A, B, C and the expected numbers)."""
    with open(report_example_path(), encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data
