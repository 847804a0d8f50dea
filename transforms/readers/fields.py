"""Typed field extraction from parsed records; every problem raises RecordError with the reason."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Literal

import orjson

from transforms.readers.errors import RecordError
from transforms.readers.lines import Line

TsUnit = Literal["s", "ms", "iso"]

# Plausible event times: 1970-01-01 up to 2100-01-01. A millisecond value read as seconds lands
# far outside, so a wrong ts_unit is caught instead of producing dates in the year 50,000.
_TS_MAX = 4_102_444_800
# No source format rates outside this, whatever its own scale.
RATING_LIMITS = (0.0, 10.0)
_INT32_MAX = 2**31 - 1

_JSON_TYPE_NAMES = {str: "str", int: "int", float: "float", bool: "bool", list: "list", dict: "object"}


def describe(value: Any) -> str:
    """`str 'five'`, `list ['a']`: the type and a short repr, for reasons."""
    name = _JSON_TYPE_NAMES.get(type(value), type(value).__name__)
    text = repr(value)
    return f"{name} {text if len(text) <= 60 else text[:57] + '...'}"


def wrong_type(name: str, expected: str, value: Any) -> RecordError:
    return RecordError(f"wrong type: field '{name}': expected {expected}, got {describe(value)}")


def json_object(line: Line) -> dict:
    """Parse one JSON-lines line into an object."""
    if not line.data.strip():
        raise RecordError("empty line")
    try:
        obj = orjson.loads(line.data)
    except orjson.JSONDecodeError as e:
        line.text()  # invalid UTF-8 is the more precise reason when it is the cause
        raise RecordError(f"invalid json: {e}") from None
    if not isinstance(obj, dict):
        raise RecordError(f"wrong type: line: expected a JSON object, got {describe(obj)}")
    return obj


def _present(obj: dict, name: str) -> Any:
    value = obj.get(name)
    if value is None:
        raise RecordError(f"missing field '{name}'")
    return value


def ident(obj: dict, name: str) -> str:
    """A non-empty string id (surrounding whitespace removed)."""
    value = _present(obj, name)
    if not isinstance(value, str):
        raise wrong_type(name, "a string id", value)
    value = value.strip()
    if not value:
        raise RecordError(f"missing field '{name}': empty string")
    return value


def optional_str(obj: dict, name: str | None) -> str | None:
    value = obj.get(name) if name else None
    if value is not None and not isinstance(value, str):
        raise wrong_type(name, "a string", value)
    return value


def str_list(obj: dict, name: str) -> list[str]:
    """A list of strings; a lone string counts as a one-element list, null as empty."""
    value = obj.get(name)
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) or v is None for v in value):
        raise wrong_type(name, "a list of strings", value)
    return [v for v in value if v is not None]


def boolean(obj: dict, name: str | None) -> bool | None:
    value = obj.get(name) if name else None
    if value is not None and not isinstance(value, bool):
        raise wrong_type(name, "true or false", value)
    return value


def count(obj: dict, name: str | None) -> int | None:
    """A non-negative count such as helpful votes; strings like "1,234" are accepted."""
    value = obj.get(name) if name else None
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        digits = value.strip().replace(",", "")
        if not digits.isdigit():
            raise wrong_type(name, "a count", value)
        value = int(digits)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _INT32_MAX:
        raise wrong_type(name, "a count", value)
    return value


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise wrong_type(name, "a number", value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise wrong_type(name, "a number", value)


@dataclass(frozen=True)
class RatingScale:
    """The ratings a source format can hold, bounds included, and the format's name for reasons."""

    low: float
    high: float
    source: str

    def __str__(self) -> str:
        return f"{self.low:g}-{self.high:g} for {self.source}"


ANY_FORMAT = RatingScale(*RATING_LIMITS, "any format")


def rating(obj: dict, name: str, scale: RatingScale) -> float:
    value = _number(name, _present(obj, name))
    if not math.isfinite(value):
        raise RecordError(f"invalid rating: field '{name}': {value} is not finite")
    if not scale.low <= value <= scale.high:
        raise RecordError(f"rating out of range: field '{name}': {value:g} is outside {scale}")
    return value


def timestamp(obj: dict, name: str, unit: TsUnit) -> int:
    """Epoch seconds, from epoch s or ms numbers/strings, ISO 8601 strings or datetime values."""
    value = _present(obj, name)
    if isinstance(value, datetime):
        seconds = _datetime_seconds(value)
    elif isinstance(value, date):
        seconds = _datetime_seconds(datetime(value.year, value.month, value.day))
    elif unit == "iso":
        if not isinstance(value, str):
            raise wrong_type(name, "an ISO 8601 date-time string", value)
        try:
            seconds = _datetime_seconds(datetime.fromisoformat(value.strip()))
        except ValueError:
            raise RecordError(
                f"invalid timestamp: field '{name}': expected an ISO 8601 date-time, got {describe(value)}"
            ) from None
    else:
        seconds = _epoch_seconds(name, value, unit)
    if not 0 <= seconds < _TS_MAX:
        raise RecordError(
            f"invalid timestamp: field '{name}': {describe(value)} is outside 1970..2100 (ts_unit '{unit}')"
        )
    return seconds


def _epoch_seconds(name: str, value: Any, unit: TsUnit) -> int:
    if isinstance(value, str):
        text = value.strip()
        try:
            value = int(text)
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                raise RecordError(
                    f"invalid timestamp: field '{name}': expected an integer, got {describe(value)}"
                ) from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise wrong_type(name, "an integer timestamp", value)
    if isinstance(value, float) and not math.isfinite(value):
        raise RecordError(f"invalid timestamp: field '{name}': {value} is not finite")
    return math.floor(value / 1000) if unit == "ms" else math.floor(value)


def _datetime_seconds(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)  # naive times are taken as UTC
    return math.floor(value.timestamp())
