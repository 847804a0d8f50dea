"""Factor sets: per domain, the aspects of taste that ReFORM profiles describe.

A factor set is a YAML file: a `domain` name, what the domain's `items` are (a plural noun used in
prompts), and `factors`, each with a `name` (it becomes a column name) and a `user` and an `item`
description (what to look for in one customer's reviews, and in one item's reviews). The built-in
domains (`restaurant`, `ecommerce`, `media`) are the YAML files beside this module; a user adds a
domain by passing their own YAML file, or a folder of them, as a source: no code changes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

BUILTIN_DIR = Path(__file__).resolve().parent
DEFAULT_DOMAIN = "ecommerce"
_YAML_SUFFIXES = (".yaml", ".yml")

EntityKind = Literal["user", "item"]

# Factor names become column names (and pydantic field names), so they are plain lower_snake_case.
_IDENTIFIER = re.compile(r"[a-z][a-z0-9_]{0,39}")
# Columns that sit beside the factor columns in a profile table.
_RESERVED_NAMES = frozenset({"entity_idx", "entity_kind"})


class FactorSetError(ValueError):
    """A factor set file is missing, unreadable or invalid; the message names the file and the fault."""


def _identifier(value: str) -> str:
    if not _IDENTIFIER.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a usable name: use lower_snake_case (a-z, 0-9, _), starting with a letter, "
            "at most 40 characters, since it becomes a column name"
        )
    return value


Identifier = Annotated[str, AfterValidator(_identifier)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]


class Factor(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Identifier
    user: Description
    item: Description

    def description(self, entity_kind: EntityKind) -> str:
        return self.user if entity_kind == "user" else self.item


class FactorSet(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    domain: Identifier
    items: Description
    factors: tuple[Factor, ...] = Field(min_length=1, max_length=16)

    @model_validator(mode="after")
    def _names_are_distinct_columns(self) -> FactorSet:
        names = [factor.name for factor in self.factors]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"duplicate factor names: {', '.join(duplicates)}")
        reserved = sorted(_RESERVED_NAMES.intersection(names))
        if reserved:
            raise ValueError(f"factor names {', '.join(reserved)} are reserved for the profile table's key columns")
        return self

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(factor.name for factor in self.factors)

    @cached_property
    def fingerprint(self) -> str:
        """Changes with any name or description, so a task version built from it re-prompts."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:12]


def _describe(error: dict) -> str:
    where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"]).lstrip(".")
    message = error["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def load_factor_set(path: str | Path) -> FactorSet:
    """One factor set from a YAML file; FactorSetError names the file and what is wrong."""
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FactorSetError(f"factor set {path}: cannot read it: {exc}") from exc
    except yaml.YAMLError as exc:
        raise FactorSetError(f"factor set {path}: not valid YAML: {exc}") from exc
    try:
        return FactorSet.model_validate(document)
    except ValidationError as exc:
        faults = "; ".join(_describe(error) for error in exc.errors())
        raise FactorSetError(f"factor set {path}: {faults}") from exc


def _yaml_files(source: Path) -> list[Path]:
    if source.is_dir():
        return sorted(p for p in source.iterdir() if p.suffix in _YAML_SUFFIXES and p.is_file())
    if source.is_file():
        return [source]
    raise FactorSetError(f"factor set source {source} is neither a YAML file nor a folder")


def load_factor_sets(sources: Iterable[str | Path] = ()) -> dict[str, FactorSet]:
    """The built-in factor sets and those in `sources` (YAML files or folders of them), by domain.

    A domain defined twice is an error naming both files.
    """
    found: dict[str, tuple[FactorSet, Path]] = {}
    for source in [BUILTIN_DIR, *map(Path, sources)]:
        for path in _yaml_files(source):
            factor_set = load_factor_set(path)
            if factor_set.domain in found:
                first = found[factor_set.domain][1]
                raise FactorSetError(f"factor set {path}: domain {factor_set.domain!r} is already defined in {first}")
            found[factor_set.domain] = (factor_set, path)
    return {domain: factor_set for domain, (factor_set, _) in found.items()}


def resolve_factor_set(domain: str = DEFAULT_DOMAIN, sources: Sequence[str | Path] = ()) -> FactorSet:
    """The factor set of `domain`, from the built-in ones and `sources`."""
    factor_sets = load_factor_sets(sources)
    if domain not in factor_sets:
        raise FactorSetError(f"no factor set for domain {domain!r}; known domains: {', '.join(sorted(factor_sets))}")
    return factor_sets[domain]
