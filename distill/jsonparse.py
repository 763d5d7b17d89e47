"""Pull one JSON object out of whatever a model wrote.

Models wrap JSON in prose or code fences, cut it off at the token limit, or leave a
trailing comma. We take the first balanced ``{...}`` (string-aware), forgive trailing
commas, and otherwise return None: malformed output is a counted drop, never a crash.
"""

from __future__ import annotations

import json
import re
from typing import Any

_TRAILING_COMMA = re.compile(r",\s*([}\]])")


def _balanced_object(text: str, start: int) -> str | None:
    depth, in_str, escape = 0, False, False
    for i in range(start, len(text)):
        ch = text[i]
        if in_str:
            if escape:
                escape = False
            elif ch == "\\":
                escape = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[start : i + 1]
    return None


def extract_json_object(text: str | None) -> dict[str, Any] | None:
    """The first JSON object in ``text`` as a dict, or None if there is none."""
    if not text:
        return None
    pos = text.find("{")
    while pos != -1:
        candidate = _balanced_object(text, pos)
        if candidate is None:
            return None  # unbalanced: truncated output
        for attempt in (candidate, _TRAILING_COMMA.sub(r"\1", candidate)):
            try:
                value = json.loads(attempt, strict=False)  # models put raw newlines inside strings
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict):
                return value
        pos = text.find("{", pos + 1)
    return None
