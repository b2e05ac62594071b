"""backprop_lab.preflight: the window's display and xcb libraries are checked before Qt aborts."""

from __future__ import annotations

import pytest

from backprop_lab.preflight import NO_DISPLAY, XCB_LIBRARIES, can_load, window_problem


def _have_all(soname: str) -> bool:
    return True


def _lacking(*missing: str):
    return lambda soname: soname not in missing


def test_no_display_at_all():
    assert window_problem({}, "linux", _have_all) == NO_DISPLAY
    assert NO_DISPLAY.count("\n") == 0 and "check, train, report" in NO_DISPLAY


@pytest.mark.parametrize(
    "env",
    [
        {"DISPLAY": ":0"},
        {"WAYLAND_DISPLAY": "wayland-0"},
        {"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"},
        {"QT_QPA_PLATFORM": "offscreen"},
        {"QT_QPA_PLATFORM": "minimal"},
        {"QT_QPA_PLATFORM": "vnc:size=800x600"},
        {"QT_QPA_PLATFORM": "xcb", "DISPLAY": ":1"},
    ],
)
def test_a_usable_platform_passes(env):
    assert window_problem(env, "linux", _have_all) is None


def test_headless_platforms_and_other_systems_need_nothing():
    nothing = _lacking(*(lib.soname for lib in XCB_LIBRARIES))
    assert window_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux", nothing) is None
    assert window_problem({}, "darwin", nothing) is None
    assert window_problem({}, "win32", nothing) is None


def test_missing_xcb_libraries_are_named_with_both_install_commands():
    finder = _lacking("libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1")
    problem = window_problem({"DISPLAY": ":0"}, "linux", finder)
    assert problem is not None and "\n" not in problem
    assert problem.startswith("backprop-lab: cannot open the window: ")
    assert "libxcb-cursor.so.0, libxcb-icccm.so.4, libxcb-keysyms.so.1" in problem
    assert "sudo apt-get install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 (Debian/Ubuntu)" in problem
    assert "sudo dnf install xcb-util-cursor xcb-util-wm xcb-util-keysyms (Fedora)" in problem


def test_packages_shared_by_several_libraries_are_named_once():
    problem = window_problem({"DISPLAY": ":0"}, "linux", _lacking("libxcb-shape.so.0", "libxcb-shm.so.0"))
    assert problem is not None and problem.count(" libxcb (Fedora)") == 1
    assert "libxcb-shape0 libxcb-shm0" in problem


def test_wayland_is_not_held_to_the_xcb_libraries():
    nothing = _lacking(*(lib.soname for lib in XCB_LIBRARIES))
    assert window_problem({"WAYLAND_DISPLAY": "wayland-0"}, "linux", nothing) is None
    assert window_problem({"QT_QPA_PLATFORM": "xcb", "DISPLAY": ":0"}, "linux", nothing) is not None
    assert "DISPLAY is not set" in window_problem({"QT_QPA_PLATFORM": "xcb", "WAYLAND_DISPLAY": "w"}, "linux")


def test_the_real_finder_loads_what_exists_and_refuses_what_does_not():
    assert can_load("libc.so.6")
    assert not can_load("libbackprop-lab-does-not-exist.so.9")
