"""The messages a page may send, checked before anything reaches a session.

A message is a JSON object with a ``type`` and that type's fields, nothing else. ``parse``
returns ``(type, fields)`` or raises ``ValidationError`` with one line for the page.
"""

from __future__ import annotations

import json
import math

from ..errors import ValidationError
from .config import MAX_LAYERS, MAX_UNITS
from .upload import MAX_BYTES

MAX_MESSAGE = 2 * MAX_BYTES  # characters: an upload is the largest message (JSON-escaped)

# type -> {field: check}; a check returns the clean value or raises ValidationError
FIELDS: dict[str, dict] = {
    "configure": {"config": lambda name, value: _object(name, value)},
    "play": {},
    "pause": {},
    "step": {},
    "epoch": {},
    "reset": {},
    "select": {"x1": lambda n, v: _finite(n, v), "x2": lambda n, v: _finite(n, v)},
    "explain": {
        "layer": lambda n, v: _whole(n, v, 1, MAX_LAYERS + 1),
        "unit": lambda n, v: _whole(n, v, 1, max(MAX_UNITS, 10)),
    },
    "step_through": {},
    "upload": {
        "name": lambda n, v: _text(n, v, 200),
        "text": lambda n, v: _text(n, v, MAX_BYTES),
    },
    "snippet": {},
}


def parse(raw: str | bytes) -> tuple[str, dict]:
    """Decode and check one message from the page."""
    if len(raw) > MAX_MESSAGE:
        raise ValidationError(f"message of {len(raw):,} characters is too large")
    try:
        message = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ValidationError("message is not valid JSON") from None
    if not isinstance(message, dict):
        raise ValidationError("message must be a JSON object")
    kind = message.get("type")
    if kind not in FIELDS:
        raise ValidationError(f"unknown message type {kind!r}")
    expected = FIELDS[kind]
    extra = sorted(set(message) - set(expected) - {"type"})
    if extra:
        raise ValidationError(f"message {kind!r} has an unknown field {extra[0]!r}")
    missing = sorted(set(expected) - set(message))
    if missing:
        raise ValidationError(f"message {kind!r} lacks the field {missing[0]!r}")
    return kind, {name: check(name, message[name]) for name, check in expected.items()}


def _object(name: str, value: object) -> dict:
    if not isinstance(value, dict):
        raise ValidationError(f"{name} must be an object")
    return value  # Config.from_dict checks each field


def _finite(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValidationError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _whole(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError(f"{name} must be a whole number from {low} to {high}, got {value!r}")
    return value


def _text(name: str, value: object, limit: int) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{name} must be text")
    if len(value) > limit:
        raise ValidationError(f"{name} is longer than {limit:,} characters")
    return value
