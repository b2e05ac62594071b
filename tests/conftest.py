"""Suite-wide configuration: headless Qt, isolated preferences, no leftovers."""

from __future__ import annotations

import os

# Before anything imports Qt: run headless and keep preferences out of the user's home.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
