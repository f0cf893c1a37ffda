"""How wide rich may draw on stderr, shared by the command line and the API's progress bar."""

from __future__ import annotations

import os
import sys


def log_width() -> int | None:
    """The terminal's width (None: rich asks it, or $COLUMNS), else 120 for a log file, where rich's
    default 80 cut the progress bars' counts and times to "560…" and "0:0…"."""
    return None if sys.stderr.isatty() or os.environ.get("COLUMNS") else 120
