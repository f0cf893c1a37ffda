"""The command line's comma-separated lists (--seeds, --lrs, --lambdas, --probe-seeds, --devices):
parsed into values, or refused in one sentence that names the flag."""

from __future__ import annotations

from l2advisor.errors import InputError


def list_items(text: str, option: str) -> list[str]:
    """The items of a comma-separated list, stripped; an empty item among others (`0,,1`, `0,1,`)
    is the user's slip, refused rather than skipped. Nothing but commas is no items at all."""
    items = [item.strip() for item in text.split(",")]
    if any(items) and not all(items):
        raise InputError(f"{option} has an empty item in {text!r} (two commas in a row, or one at an end): "
                         "give each value once, separated by single commas.")
    return [item for item in items if item]


def parse_floats(text: str | None, option: str) -> tuple[float, ...] | None:
    """`"0.1,0.05"` -> (0.1, 0.05); a bad item is one clear sentence."""
    if text is None or text.strip() == "":
        return None
    items = list_items(text, option)
    try:
        return tuple(float(item) for item in items)
    except ValueError:
        raise InputError(f"{option} takes comma-separated numbers, got {text!r}.") from None


def parse_ints(text: str, option: str) -> tuple[int, ...]:
    items = list_items(text, option)
    try:
        return tuple(int(item) for item in items)
    except ValueError:
        raise InputError(f"{option} takes comma-separated integers, got {text!r}.") from None


def parse_devices(text: str | None) -> list[str] | None:
    """`cuda:0,cuda:1` -> ["cuda:0", "cuda:1"]; None when not given. torch is imported only to read
    given devices (`--help` and the other flags never load it)."""
    if text is None or not text.strip():
        return None
    import torch

    devices = list_items(text, "--devices")  # `cuda:0,,cuda:1` is a slip, not two devices
    for device in devices:
        try:
            kind = torch.device(device).type
        except (RuntimeError, ValueError):
            kind = ""
        if kind not in ("cpu", "cuda"):
            raise InputError(f"--devices takes cpu, cuda or cuda:N, comma-separated; got {device!r}.")
    return devices
