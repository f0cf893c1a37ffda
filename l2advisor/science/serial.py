"""Frozen dataclasses <-> JSON-safe values (NaN -> None, tuples -> lists), by annotation.

Used for fit.json and advice.json; no pickle anywhere in results.
"""

from __future__ import annotations

import math
from dataclasses import MISSING, asdict, fields

import numpy as np

NAN = float("nan")


def to_jsonable(obj: object) -> object:
    """Dataclasses, tuples, numpy scalars and NaN -> plain JSON values (NaN/inf -> None)."""
    if hasattr(obj, "__dataclass_fields__"):
        return {k: to_jsonable(v) for k, v in asdict(obj).items()}
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | np.ndarray):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, bool | np.bool_) or obj is None:
        return None if obj is None else bool(obj)
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        return float(obj) if math.isfinite(obj) else None
    return obj


def _num(x: object) -> float:
    return NAN if x is None else float(x)


def from_jsonable(cls: type, d: dict, nested: dict | None = None) -> object:
    """Rebuild dataclass `cls` from `to_jsonable` output, decoding by annotation string.

    `nested` maps the class names inside tuple fields to their classes. A key missing from `d`
    takes the field's default (files written before the field existed), else is a ValueError."""
    nested = nested or {}
    kw = {}
    for fld in fields(cls):
        if fld.name not in d and fld.default is not MISSING:
            continue
        if fld.name not in d:
            raise ValueError(f"{cls.__name__}: missing key {fld.name!r}")
        x, t = d[fld.name], str(fld.type)
        inner = t[len("tuple["):].split(",")[0].rstrip("]") if t.startswith("tuple[") else ""
        if t == "float":
            kw[fld.name] = _num(x)
        elif t in ("int", "str", "bool"):
            kw[fld.name] = {"int": int, "str": str, "bool": bool}[t](x)
        elif t == "bool | None":
            kw[fld.name] = None if x is None else bool(x)
        elif t.startswith("dict["):
            kw[fld.name] = {str(k): _num(v) for k, v in x.items()}
        elif inner == "float":
            kw[fld.name] = tuple(_num(v) for v in x)
        elif inner == "str":
            kw[fld.name] = tuple(str(v) for v in x)
        elif inner in nested:
            kw[fld.name] = tuple(from_jsonable(nested[inner], v, nested) for v in x)
        else:
            raise ValueError(f"{cls.__name__}.{fld.name}: cannot decode type {t}")
    return cls(**kw)
