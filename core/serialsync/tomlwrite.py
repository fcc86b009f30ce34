"""Writing TOML values: the few shapes serialsync's generated configuration files hold."""

from __future__ import annotations

import json
from datetime import timedelta
from enum import Enum
from typing import Any


def toml_value(value: Any) -> str:
    """``value`` written as TOML (strings, numbers, booleans, lists, tables, durations)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, timedelta):
        return repr(int(value.total_seconds()))
    if isinstance(value, Enum):
        return toml_value(value.value)
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value) if isinstance(value, set | frozenset) else value
        return "[" + ", ".join(toml_value(item) for item in items) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
    # A JSON string is a valid TOML basic string.
    return json.dumps(str(value), ensure_ascii=False)
