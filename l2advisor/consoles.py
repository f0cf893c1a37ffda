"""How wide rich may draw on stdout and stderr, shared by the command line and the API's progress bar."""

from __future__ import annotations

import os
import sys
from typing import TextIO


def log_width() -> int | None:
    """The terminal's width (None: rich asks it, or $COLUMNS), else 120 for a log file, where rich's
    default 80 cut the progress bars' counts and times to "560…" and "0:0…"."""
    return 120 if unbounded(sys.stderr) else None


def unbounded(stream: TextIO) -> bool:
    """Whether `stream` is a file or a pipe with no $COLUMNS: nothing there has a width, though
    rich would fit it to 80 columns (or to a terminal that another stream is on)."""
    return not stream.isatty() and not os.environ.get("COLUMNS")
