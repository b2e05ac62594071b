"""gui.matrix_cells.MeasuredHeader: the same sizes as Qt's own header, measured once, not per section."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import QHeaderView

from backprop_lab.gui.matrix_cells import MeasuredHeader


class CountingHeader(MeasuredHeader):
    """Counts the measures Qt asks this header for (each is a call into Python)."""

    calls = 0

    def sectionSizeFromContents(self, logicalIndex: int) -> QSize:
        CountingHeader.calls += 1
        return super().sectionSizeFromContents(logicalIndex)


def labelled(n: int, label=str) -> QStandardItemModel:
    model = QStandardItemModel(n, n)
    for i in range(n):
        model.setHeaderData(i, Qt.Orientation.Horizontal, label(i))
        model.setHeaderData(i, Qt.Orientation.Vertical, label(i))
    return model


@pytest.mark.parametrize("orientation", [Qt.Orientation.Horizontal, Qt.Orientation.Vertical])
@pytest.mark.parametrize("n", [10, 1024])
def test_the_size_hint_is_qts_own_and_a_long_header_is_measured_once(qtbot, orientation, n):
    model = labelled(n)
    ours, qts = CountingHeader(orientation), QHeaderView(orientation)
    for header in (ours, qts):
        header.setModel(model)
    CountingHeader.calls = 0
    assert ours.sizeHint() == qts.sizeHint()
    # Qt measures up to 200 sections; past 64 all-number labels, one measure (of the widest) says it.
    assert CountingHeader.calls <= (1 if n > 64 else n)


def test_labels_that_are_not_all_numbers_are_measured_as_qt_does(qtbot):
    model = labelled(100, lambda i: "σ(a)" if i == 99 else str(i))
    ours, qts = MeasuredHeader(Qt.Orientation.Vertical), QHeaderView(Qt.Orientation.Vertical)
    for header in (ours, qts):
        header.setModel(model)
    assert ours.sizeHint() == qts.sizeHint()
