"""A task is data: prompts, an output model, sampling parameters and the input's key columns.

Rendering turns one input row into an engine request. User-supplied text (reviews, titles,
descriptions) is length-capped and placed in delimited blocks that the text itself cannot close,
so it stays data. Item ids a task asks for are typed `CandidateId` in its output model: in the
request's JSON schema they become an enum of that row's candidates, so constrained decoding can
only produce ids that exist, and validation checks the same set.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ValidationInfo, WithJsonSchema

from llm_jobs.engines.base import EngineRequest, Sampling

_CANDIDATE_MARK = "x-recaug-candidate-id"


def _check_candidate(value: str, info: ValidationInfo) -> str:
    candidates = (info.context or {}).get("candidates")
    if candidates is not None and value not in candidates:
        raise ValueError(f"id {value!r} is not one of the candidates given")
    return value


#: A field holding an id the model must choose from the row's candidates.
CandidateId = Annotated[
    str,
    AfterValidator(_check_candidate),
    WithJsonSchema({"type": "string", _CANDIDATE_MARK: True}),
]

_BLOCK_OPEN = "<<<{label}>>>"
_BLOCK_CLOSE = "<<<END {label}>>>"
_MARKER = re.compile(r"<<<|>>>")


def untrusted_block(label: str, text: str | None, max_chars: int) -> str:
    """Delimit user text as data; its own angle-bracket runs are defused so it cannot end the block."""
    body = _MARKER.sub("<< <", (text or "").strip())[:max_chars]
    return f"{_BLOCK_OPEN.format(label=label)}\n{body}\n{_BLOCK_CLOSE.format(label=label)}"


def _inline_refs(node: Any, defs: Mapping[str, Any]) -> Any:
    """Resolve pydantic's `$defs`/`$ref` so every engine's grammar compiler sees a flat schema."""
    if isinstance(node, dict):
        if "$ref" in node:
            return _inline_refs(defs[node["$ref"].rsplit("/", 1)[1]], defs)
        return {k: _inline_refs(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline_refs(v, defs) for v in node]
    return node


def _fill_candidates(node: Any, candidates: Sequence[str]) -> Any:
    if isinstance(node, dict):
        if node.get(_CANDIDATE_MARK):
            return {"type": "string", "enum": list(candidates)}
        return {k: _fill_candidates(v, candidates) for k, v in node.items()}
    if isinstance(node, list):
        return [_fill_candidates(v, candidates) for v in node]
    return node


@dataclass(frozen=True)
class Task:
    name: str
    version: str
    system_prompt: str
    # `str.format` template over the input row's columns.
    user_template: str
    output_model: type[BaseModel]
    key_columns: tuple[str, ...]
    sampling: Sampling = Sampling()
    # Columns holding user-supplied text -> the most characters kept of each value.
    untrusted_columns: Mapping[str, int] = field(default_factory=dict)
    # Column holding the row's candidate ids, when the output model has CandidateId fields.
    candidates_column: str | None = None

    def candidates(self, row: Mapping[str, Any]) -> list[str] | None:
        return None if self.candidates_column is None else [str(c) for c in row[self.candidates_column]]

    def json_schema(self, candidates: Sequence[str] | None) -> dict:
        schema = self.output_model.model_json_schema()
        flat = _inline_refs(copy.deepcopy(schema), schema.get("$defs", {}))
        if candidates is None:
            return flat
        if not candidates:
            raise ValueError(f"task {self.name}: a row has an empty candidate set")
        return _fill_candidates(flat, candidates)

    def _render_value(self, column: str, value: Any) -> Any:
        cap = self.untrusted_columns.get(column)
        if cap is None:
            return value
        if isinstance(value, (list, tuple)):
            return "\n".join(untrusted_block(f"{column.upper()} {i + 1}", v, cap) for i, v in enumerate(value))
        return untrusted_block(column.upper(), value, cap)

    def render(self, row: Mapping[str, Any], seed_offset: int = 0) -> EngineRequest:
        """The request for one input row; `seed_offset` > 0 asks again with another seed."""
        values = {column: self._render_value(column, value) for column, value in row.items()}
        user = self.user_template.format(**values)
        sampling = self.sampling
        if seed_offset:
            sampling = Sampling(**{**sampling.__dict__, "seed": sampling.seed + seed_offset})
        return EngineRequest(
            messages=(
                {"role": "system", "content": self.system_prompt},
                {"role": "user", "content": user},
            ),
            json_schema=self.json_schema(self.candidates(row)),
            sampling=sampling,
        )

    def parse(self, text: str, row: Mapping[str, Any]) -> BaseModel:
        """Validate an output; raises pydantic.ValidationError with what is wrong."""
        candidates = self.candidates(row)
        context = {"candidates": set(candidates)} if candidates is not None else None
        return self.output_model.model_validate_json(text, context=context)
