"""The words the synthetic marketplace is written with, loaded once from the YAML files beside this module.

categories.yaml: the product categories (order fixes each category's index, so it is part of the
seed); names.yaml: brands and reviewer first names; templates.yaml: review sentence templates.
Editing a file changes the generated data but needs no code.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

_FOLDER = files(__package__)
_RATINGS = [1, 2, 3, 4, 5]


class Aspect(BaseModel):
    """A concrete product aspect; `keyword` occurs in both clauses, `label` names it in summaries."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    keyword: str
    positive: str
    negative: str
    label: str

    @model_validator(mode="before")
    @classmethod
    def _label_defaults_to_keyword(cls, data: Any) -> Any:
        if isinstance(data, dict) and "label" not in data:
            return {**data, "label": data.get("keyword")}
        return data


class Category(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    path: tuple[str, ...] = Field(min_length=1)  # Amazon's category list, most general first
    main_cat: str
    nouns: tuple[str, ...] = Field(min_length=1)  # product nouns used in titles, e.g. "Skillet"
    adjectives: tuple[str, ...] = Field(min_length=1)
    variants: tuple[str, ...] = Field(min_length=1)
    # Attribute phrases; a description names two different ones.
    features: tuple[str, ...] = Field(min_length=2)
    price_range: tuple[float, float]
    # A review of rating 3 praises one aspect and criticises another.
    aspects: tuple[Aspect, ...] = Field(min_length=2)

    @model_validator(mode="after")
    def _price_range_is_increasing(self) -> Category:
        low, high = self.price_range
        if not 0 < low <= high:
            raise ValueError(f"price_range {list(self.price_range)} must be 0 < low <= high")
        return self


class Names(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    brands: tuple[str, ...] = Field(min_length=1)
    first_names: tuple[str, ...] = Field(min_length=1)


class Templates(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    positive: tuple[str, ...] = Field(min_length=1)
    negative: tuple[str, ...] = Field(min_length=1)
    openers: dict[int, tuple[str, ...]]
    closers: dict[int, tuple[str, ...]]
    summaries: dict[int, tuple[str, ...]]

    @model_validator(mode="after")
    def _consistent(self) -> Templates:
        # One draw picks the template of either kind (ReviewTexts.render).
        if len(self.positive) != len(self.negative):
            raise ValueError(f"positive has {len(self.positive)} templates and negative {len(self.negative)}")
        for name in ("openers", "closers", "summaries"):
            by_rating = getattr(self, name)
            if sorted(by_rating) != _RATINGS or not all(by_rating.values()):
                raise ValueError(f"{name} needs a non-empty list for each rating 1-5, got ratings {sorted(by_rating)}")
        return self


def _load(name: str, shape: Any) -> Any:
    resource = _FOLDER / name
    try:
        return TypeAdapter(shape).validate_python(yaml.safe_load(resource.read_text(encoding="utf-8")))
    except (yaml.YAMLError, ValidationError) as exc:
        raise ValueError(f"synthetic vocabulary {resource}: {exc}") from exc


CATEGORIES: tuple[Category, ...] = _load("categories.yaml", tuple[Category, ...])
_NAMES: Names = _load("names.yaml", Names)
BRANDS, FIRST_NAMES = _NAMES.brands, _NAMES.first_names
_TEMPLATES: Templates = _load("templates.yaml", Templates)
POSITIVE_TEMPLATES, NEGATIVE_TEMPLATES = _TEMPLATES.positive, _TEMPLATES.negative
OPENERS, CLOSERS, SUMMARIES = _TEMPLATES.openers, _TEMPLATES.closers, _TEMPLATES.summaries
