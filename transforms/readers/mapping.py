"""Column mappings from outside Python: a YAML or JSON file, or KEY=COLUMN pairs."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pydantic
import yaml

from transforms.readers.errors import MappingError
from transforms.readers.source import ColumnMapping, SourceSpec

KEYS = tuple(ColumnMapping.model_fields)
REQUIRED_KEYS = tuple(name for name, f in ColumnMapping.model_fields.items() if f.is_required())
_EXAMPLE = "{user_id: uid, item_id: sku, ts: time, rating: stars, ts_unit: iso}"


def load_mapping_file(path: str) -> ColumnMapping:
    """The ColumnMapping held by a YAML or JSON file, such as `{user_id: uid, item_id: sku, ts: time}`."""
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)  # JSON is YAML
    except OSError as e:
        raise MappingError(f"{path}: cannot read the mapping file: {e.strerror or e}") from e
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise MappingError(f"{path}: the mapping file is not valid YAML or JSON: {e}") from e
    if not isinstance(data, dict):
        raise MappingError(f"{path}: the mapping file must hold KEY: COLUMN entries such as {_EXAMPLE}")
    return _validated(data, lambda key: f"{path}: bad column mapping")


def parse_mapping_pairs(pairs: Iterable[str]) -> ColumnMapping:
    """The ColumnMapping given as KEY=COLUMN pairs, such as ["user_id=uid", "item_id=sku", "ts=time"].

    Non-column keys take their value the same way: "ts_unit=iso", "rating_range=1-5".
    """
    data: dict[str, str] = {}
    pair_of: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = (part.strip() for part in pair.partition("="))
        if not sep or not key or not value:
            raise MappingError(f"mapping pair {pair!r}: expected KEY=COLUMN, such as user_id=uid")
        if key in data:
            raise MappingError(f"mapping pair {pair!r}: key {key!r} is already given by {pair_of[key]!r}")
        data[key], pair_of[key] = value, pair
    return _validated(data, lambda key: f"mapping pair {pair_of[key]!r}" if key in pair_of else "mapping pairs")


def spec_mapping(spec: SourceSpec) -> ColumnMapping | None:
    """The spec's column mapping: `mapping` or the one in `mapping_file`; None when it has neither."""
    if spec.mapping is not None and spec.mapping_file is not None:
        raise MappingError(f"{spec.path}: set a column mapping or a mapping_file ({spec.mapping_file}), not both")
    return load_mapping_file(spec.mapping_file) if spec.mapping_file is not None else spec.mapping


def _validated(data: dict, context: Callable[[str], str]) -> ColumnMapping:
    """`data` as a ColumnMapping; problems are reported as `<context(key)>: <problem>; ...`,
    unknown keys first (a misspelt key is the likely cause of a missing one)."""
    try:
        return ColumnMapping.model_validate(data)
    except pydantic.ValidationError as e:
        problems: dict[str, list[str]] = {}
        for error in sorted(e.errors(), key=lambda error: error["type"] != "extra_forbidden"):
            key = str(error["loc"][0])
            problems.setdefault(context(key), []).append(_problem(key, error))
        raise MappingError("; ".join(f"{where}: {'; '.join(found)}" for where, found in problems.items())) from None


def _problem(key: str, error: dict) -> str:
    if error["type"] == "extra_forbidden":
        return f"unknown key {key!r} (the keys are {', '.join(KEYS)})"
    if error["type"] == "missing":
        return f"key {key!r} is missing (required: {', '.join(REQUIRED_KEYS)})"
    return f"key {key!r}: {error['msg'].removeprefix('Value error, ')}"
