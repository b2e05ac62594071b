"""Engine tests need no display and never import Qt."""

from __future__ import annotations

import pytest

from backprop_lab.engine.resources import load_report_example_data


@pytest.fixture
def report_example() -> dict:
    """The report's worked example: model (x, A, B, C) and expected numbers."""
    return load_report_example_data()
