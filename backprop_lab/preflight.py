"""Before the window asks Qt for a platform: is there a display, and can Qt's xcb plugin load?

Qt aborts the process (a core dump and a dozen lines about plugins) when it has no display or
when a system library its xcb plugin links is missing. :func:`window_problem` finds both first
and returns one line saying what is wrong and how to fix it, so the command can exit with
status 2 instead. The functions take the environment and a library finder as arguments, so the
tests can fake a bare machine.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable, Mapping
from typing import NamedTuple

PROG = "backprop-lab"

#: Platforms that need no display server (Qt picks these only when asked by QT_QPA_PLATFORM).
HEADLESS_PLATFORMS = frozenset(
    {"offscreen", "minimal", "minimalegl", "vnc", "linuxfb", "eglfs", "vkkhrdisplay"}
)


class SystemLibrary(NamedTuple):
    soname: str
    debian: str  # the Debian/Ubuntu package that ships it
    fedora: str  # the Fedora package that ships it


#: What Qt 6's xcb platform plugin (libqxcb.so and libQt6XcbQpa) links beyond Qt itself and the
#: libraries any desktop has (libc, glib, fontconfig, GL). The first three are the ones a fresh
#: Ubuntu most often lacks.
XCB_LIBRARIES = (
    SystemLibrary("libxcb-cursor.so.0", "libxcb-cursor0", "xcb-util-cursor"),
    SystemLibrary("libxcb-icccm.so.4", "libxcb-icccm4", "xcb-util-wm"),
    SystemLibrary("libxcb-keysyms.so.1", "libxcb-keysyms1", "xcb-util-keysyms"),
    SystemLibrary("libxcb-image.so.0", "libxcb-image0", "xcb-util-image"),
    SystemLibrary("libxcb-render-util.so.0", "libxcb-render-util0", "xcb-util-renderutil"),
    SystemLibrary("libxcb-util.so.1", "libxcb-util1", "xcb-util"),
    SystemLibrary("libxkbcommon-x11.so.0", "libxkbcommon-x11-0", "libxkbcommon-x11"),
    SystemLibrary("libxkbcommon.so.0", "libxkbcommon0", "libxkbcommon"),
    SystemLibrary("libX11-xcb.so.1", "libx11-xcb1", "libX11-xcb"),
    SystemLibrary("libxcb.so.1", "libxcb1", "libxcb"),
    SystemLibrary("libxcb-randr.so.0", "libxcb-randr0", "libxcb"),
    SystemLibrary("libxcb-render.so.0", "libxcb-render0", "libxcb"),
    SystemLibrary("libxcb-shape.so.0", "libxcb-shape0", "libxcb"),
    SystemLibrary("libxcb-shm.so.0", "libxcb-shm0", "libxcb"),
    SystemLibrary("libxcb-sync.so.1", "libxcb-sync1", "libxcb"),
    SystemLibrary("libxcb-xfixes.so.0", "libxcb-xfixes0", "libxcb"),
    SystemLibrary("libxcb-xkb.so.1", "libxcb-xkb1", "libxcb"),
)

NO_DISPLAY = (
    f"{PROG}: no display: set DISPLAY or WAYLAND_DISPLAY to open the window, "
    "or use the commands that need none: check, train, report, compare"
)


def can_load(soname: str) -> bool:
    """Whether the dynamic linker finds and loads ``soname`` (as Qt's plugin loader would)."""
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def requested_platforms(env: Mapping[str, str]) -> list[str]:
    """The platform plugins QT_QPA_PLATFORM names ("xcb", "wayland;xcb", "offscreen:size=…")."""
    value = env.get("QT_QPA_PLATFORM", "")
    return [part.split(":", 1)[0].strip() for part in value.split(";") if part.strip()]


def missing_libraries(finder: Callable[[str], bool] = can_load) -> list[SystemLibrary]:
    return [lib for lib in XCB_LIBRARIES if not finder(lib.soname)]


def install_hint(missing: list[SystemLibrary]) -> str:
    debian = " ".join(dict.fromkeys(lib.debian for lib in missing))
    fedora = " ".join(dict.fromkeys(lib.fedora for lib in missing))
    return f"sudo apt-get install {debian} (Debian/Ubuntu) or sudo dnf install {fedora} (Fedora)"


def window_problem(
    env: Mapping[str, str], platform: str = sys.platform, finder: Callable[[str], bool] = can_load
) -> str | None:
    """One line saying why Qt could not open a window here, or None when it should be able to.

    Only Linux (and the BSDs, which share X11) are checked; an explicit headless platform in
    QT_QPA_PLATFORM needs nothing, and an explicit other choice is left to Qt.
    """
    if not platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return None
    asked = requested_platforms(env)
    if asked and asked[0] in HEADLESS_PLATFORMS:
        return None
    if asked and asked[0] not in ("xcb", "wayland"):
        return None  # a platform we know nothing about: Qt's own message is all there is
    has_x11 = bool(env.get("DISPLAY"))
    has_wayland = bool(env.get("WAYLAND_DISPLAY"))
    if not has_x11 and not has_wayland:
        return NO_DISPLAY
    uses_xcb = asked[0] == "xcb" if asked else not has_wayland
    if not uses_xcb:
        return None  # Wayland: its plugin needs only what PySide6 brings
    if not has_x11:
        return f"{PROG}: no display: QT_QPA_PLATFORM is xcb but DISPLAY is not set"
    missing = missing_libraries(finder)
    if not missing:
        return None
    names = ", ".join(lib.soname for lib in missing)
    return (
        f"{PROG}: cannot open the window: Qt's X11 (xcb) plugin needs {names}, which "
        f"{'is' if len(missing) == 1 else 'are'} not installed; install with: {install_hint(missing)}"
    )


def check_window(env: Mapping[str, str] | None = None) -> str | None:
    """:func:`window_problem` for this process."""
    return window_problem(os.environ if env is None else env)
