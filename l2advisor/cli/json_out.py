"""What a command's `--json` prints on stdout: its data as JSON, NaN and infinity as null, and
a float that is a short decimal but for the binary arithmetic's last digits as that decimal.
lr * lam = 0.1 * 0.1 is 0.010000000000000002 in binary floats, and a reader comparing lr*lam with
0.01 should not have to round; at 15 significant digits it reads 0.01. A float whose 15 digits
are all needed (a measured exponent, a sampled lam: 0.0005547119471592127) is left as it is, so a
value copied from the output is the value the run directory holds."""

from __future__ import annotations

import contextlib
import json
import math
import sys
from collections.abc import Iterator
from typing import Any

from l2advisor.runs.store import json_safe

DIGITS = 15  # float arithmetic's error in one or two operations stays below the 15th digit
SHORT = 12  # a value whose 15-digit form needs at most this many digits was meant as that decimal


_DATA_STREAMS: list[Any] = []  # the stdout a --json command's data goes to, while it runs
_PRINTED: list[bool] = []  # whether that command printed its JSON already


@contextlib.contextmanager
def stdout_for_json_only(active: bool) -> Iterator[None]:
    """While a --json command runs (`active`), anything else written to stdout goes to stderr: a
    model file's `print("loading...")` came before the JSON and broke every parser. `print_json`
    writes to the stdout it replaced."""
    if not active:
        yield
        return
    _DATA_STREAMS.append(sys.stdout)
    _PRINTED.append(False)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        _DATA_STREAMS.pop()
        _PRINTED.pop()


def printed_json() -> bool:
    """Whether the --json command running now has printed its JSON (its data, then a failure: compare
    with a failed arm): an error object after it would make stdout two documents."""
    return bool(_PRINTED and _PRINTED[-1])


def print_json(data: Any) -> None:
    """`data` (dicts, lists, numbers, strings) on stdout as JSON."""
    print_json_text(json.dumps(json_safe(shown(data))))


def print_json_text(text: str) -> None:
    """JSON already written out (a file's text) on the data stdout, as `print_json` prints."""
    from l2advisor.cli.app import out

    with contextlib.redirect_stdout(_DATA_STREAMS[-1] if _DATA_STREAMS else sys.stdout):
        out.print_json(text)
    if _PRINTED:
        _PRINTED[-1] = True


def shown(value: Any) -> Any:
    """`value` with every float that is a short decimal at DIGITS digits written as that decimal."""
    if isinstance(value, float) and math.isfinite(value):
        decimal = f"{value:.{DIGITS}g}"
        return float(decimal) if _significant(decimal) <= SHORT else value
    if isinstance(value, dict):
        return {k: shown(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [shown(v) for v in value]
    return value


def _significant(decimal: str) -> int:
    """Significant digits of a number written as "%g" writes it: "0.0100" -> 1, "1.05e-07" -> 3."""
    mantissa = decimal.split("e")[0].lstrip("-").replace(".", "")
    return len(mantissa.strip("0")) or 1
