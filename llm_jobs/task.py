"""A task is data: prompts, an output model, sampling parameters and the input's key columns.

Rendering turns one input row into an engine request. User-supplied text (reviews, titles,
descriptions) is length-capped and placed in delimited blocks that the text itself cannot close,
so it stays data. Item ids a task asks for are typed `CandidateId` in its output model (or are the keys of a
`candidate_map`): in the request's JSON schema they become an enum of (or the properties named
by) that row's candidates, so constrained decoding can only produce ids that exist, and
validation checks the same set.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
)

from llm_jobs.engines.base import Completion, EngineRequest, Sampling
from schemas.llm_outputs import INSTRUCTION

_CANDIDATE_MARK = "x-recaug-candidate-id"
#: The least temperature a retry samples at.
RETRY_TEMPERATURE = 0.7


class NotACandidate(ValueError):
    """The model answered with an id that is not among the row's candidates: a hallucinated id."""


#: How an output failed (`failure_kind`): not JSON, an id outside the candidates, or anything else.
UNPARSEABLE, HALLUCINATED_ID, INVALID = "unparseable", "hallucinated_id", "invalid"


def failure_kind(error: ValueError) -> str:
    if isinstance(error, ValidationError):
        details = error.errors()
        if any(d["type"] == "json_invalid" for d in details):
            return UNPARSEABLE
        if any(isinstance((d.get("ctx") or {}).get("error"), NotACandidate) for d in details):
            return HALLUCINATED_ID
    return INVALID


def _check_candidate(value: str, info: ValidationInfo) -> str:
    candidates = (info.context or {}).get("candidates")
    if candidates is not None and value not in candidates:
        raise NotACandidate(f"id {value!r} is not one of the candidates given")
    return value


#: A field holding an id the model must choose from the row's candidates.
CandidateId = Annotated[
    str,
    AfterValidator(_check_candidate),
    WithJsonSchema({"type": "string", _CANDIDATE_MARK: True}),
]

_CANDIDATE_KEYS_MARK = "x-recaug-candidate-keys"


def _check_candidate_keys(value: dict, info: ValidationInfo) -> dict:
    candidates = (info.context or {}).get("candidates")
    unknown = sorted(set(value) - candidates) if candidates is not None else []
    if unknown:
        raise NotACandidate(f"keys {unknown} are not among the candidates given")
    return value


def candidate_map(value_type: Any) -> Any:
    """A field mapping each of the row's candidate ids to a `value_type`: in the request's JSON
    schema an object with one required property per candidate, so constrained decoding answers
    for every candidate exactly once (a list of (id, value) pairs lets a model stop early or repeat)."""
    value_schema = TypeAdapter(value_type).json_schema()
    return Annotated[
        dict[str, value_type],
        AfterValidator(_check_candidate_keys),
        WithJsonSchema({"type": "object", _CANDIDATE_KEYS_MARK: value_schema}),
    ]


_BLOCK_OPEN = "<<<{label}>>>"
_BLOCK_CLOSE = "<<<END {label}>>>"
# Between two adjacent `<` (or two `>`): a space there leaves no `<<` or `>>` in the text at all, so
# no `<<<` / `>>>` remains or can be rebuilt, whatever the runs were (a one-pass replacement of
# `<<<` turned `<<<<<` into `<< <<<`).
_MARKER_PAIR = re.compile(r"(?<=<)(?=<)|(?<=>)(?=>)")


def defuse_markers(text: str) -> str:
    """`text` with a space between every two adjacent angle brackets of the same kind."""
    return _MARKER_PAIR.sub(" ", text)


# A sentence ends at . ! ? or a line break; an instruction sentence is left out of every prompt.
_SENTENCE = re.compile(r"[^.!?\n]*(?:[.!?]+|\n|$)")
_INSTRUCTION = re.compile(INSTRUCTION)
INSTRUCTION_REMOVED = "[instruction removed]"


def without_instructions(text: str) -> str:
    """`text` with each sentence that instructs a model ("ignore previous instructions", "put X in
    every field") replaced by INSTRUCTION_REMOVED. The model never reads the injected sentence, so
    it can neither follow it nor, as the ReaSeq verifier, count it as evidence for the claim it
    asked for; the catalog fields and the other reviews remain the evidence."""
    if not _INSTRUCTION.search(text):
        return text
    return "".join(_without_instruction(m.group(0)) for m in _SENTENCE.finditer(text))


def _without_instruction(sentence: str) -> str:
    if not _INSTRUCTION.search(sentence):
        return sentence
    lead = " " if sentence[:1].isspace() else ""
    tail = "\n" if sentence.endswith("\n") else ""
    return f"{lead}{INSTRUCTION_REMOVED}{tail}"


def _guarded(text: str) -> str:
    return defuse_markers(without_instructions(text))


def untrusted_block(label: str, text: str | None, max_chars: int) -> str:
    """Delimit user text as data: its own angle-bracket runs are defused so it cannot end the block,
    and its instruction sentences are left out (`without_instructions`)."""
    body = _guarded((text or "").strip())[:max_chars]
    return f"{_BLOCK_OPEN.format(label=label)}\n{body}\n{_BLOCK_CLOSE.format(label=label)}"


def untrusted_lines(label: str, items: Sequence[Any], max_chars: int) -> str:
    """One block holding one line per item (`[id] text`, or `[n] text` for plain items): a few
    tokens per item instead of a block each. Newlines are flattened, so no item can forge a line."""
    lines = []
    for position, item in enumerate(items):
        key = item["id"] if isinstance(item, Mapping) else position + 1
        text = " ".join((_item_text(item) or "").split())
        lines.append(f"[{key}] {_guarded(text)[:max_chars]}")
    body = "\n".join(lines)
    return f"{_BLOCK_OPEN.format(label=label)}\n{body}\n{_BLOCK_CLOSE.format(label=label)}"


def _item_label(column: str, position: int, item: Any) -> str:
    """`HISTORY 3` for plain list items; `CANDIDATE 17` for `{"id": 17, "text": ...}` items, so the
    model sees which id each untrusted text belongs to."""
    key = item["id"] if isinstance(item, Mapping) else position + 1
    return f"{column.upper()} {key}"


def _item_text(item: Any) -> str | None:
    return item["text"] if isinstance(item, Mapping) else item


def _inline_refs(node: Any, defs: Mapping[str, Any]) -> Any:
    """Resolve pydantic's `$defs`/`$ref` so every engine's grammar compiler sees a flat schema."""
    if isinstance(node, dict):
        if "$ref" in node:
            return _inline_refs(defs[node["$ref"].rsplit("/", 1)[1]], defs)
        return {k: _inline_refs(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline_refs(v, defs) for v in node]
    return node


@functools.cache
def _flat_schema(output_model: type[BaseModel]) -> dict:
    """Built once per model and process: pydantic's schema generation costs milliseconds."""
    schema = output_model.model_json_schema()
    return _inline_refs(schema, schema.get("$defs", {}))


def _fill_candidates(node: Any, candidates: Sequence[str]) -> Any:
    """A copy of `node` with the candidate marks filled in (containers are new, so `node` stays unchanged)."""
    if isinstance(node, dict):
        if node.get(_CANDIDATE_MARK):
            return {"type": "string", "enum": list(candidates)}
        if _CANDIDATE_KEYS_MARK in node:
            value = node[_CANDIDATE_KEYS_MARK]
            return {
                "type": "object",
                "properties": {c: value for c in candidates},
                "required": list(candidates),
                "additionalProperties": False,
            }
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
    # Columns holding user-supplied text -> the most characters kept of each value. A list value
    # becomes one block per element; elements may be `{"id": ..., "text": ...}` to label blocks by id.
    untrusted_columns: Mapping[str, int] = field(default_factory=dict)
    # Untrusted list columns rendered as one block of `[id] text` lines (short catalog entries)
    # instead of one block per element.
    line_lists: frozenset[str] = frozenset()
    # Output fields computed from the completion itself (P(yes) from log-probabilities, say), merged
    # into the accepted output; a ValueError marks the output invalid, like a failed validation.
    derive: Callable[[BaseModel, Completion], Mapping[str, Any]] | None = None
    # Column holding the row's candidate ids (or `{"id": ..., "text": ...}` items), when the output
    # model has CandidateId fields.
    candidates_column: str | None = None

    def candidates(self, row: Mapping[str, Any]) -> list[str] | None:
        if self.candidates_column is None:
            return None
        return [str(c["id"] if isinstance(c, Mapping) else c) for c in row[self.candidates_column]]

    def json_schema(self, candidates: Sequence[str] | None) -> dict:
        """The output's JSON schema for a row with `candidates`; shared between rows when it has
        none, so no one may change it."""
        flat = _flat_schema(self.output_model)
        if candidates is None:
            return flat
        if not candidates:
            raise ValueError(f"task {self.name}: a row has an empty candidate set")
        return _fill_candidates(flat, candidates)

    def _render_value(self, column: str, value: Any) -> Any:
        cap = self.untrusted_columns.get(column)
        if cap is None:
            return value
        if isinstance(value, (list, tuple)) and column in self.line_lists:
            return untrusted_lines(column.upper(), value, cap)
        if isinstance(value, (list, tuple)):
            return "\n".join(
                untrusted_block(_item_label(column, i, v), _item_text(v), cap) for i, v in enumerate(value)
            )
        return untrusted_block(column.upper(), value, cap)

    def render(self, row: Mapping[str, Any], seed_offset: int = 0) -> EngineRequest:
        """The request for one input row; `seed_offset` > 0 asks again with another seed, sampling."""
        values = {column: self._render_value(column, value) for column, value in row.items()}
        user = self.user_template.format(**values)
        sampling = self.sampling
        if seed_offset:
            # Greedy decoding would repeat the invalid answer whatever the seed.
            temperature = max(sampling.temperature, RETRY_TEMPERATURE)
            sampling = replace(sampling, seed=sampling.seed + seed_offset, temperature=temperature)
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

    def accept(self, completion: Completion, row: Mapping[str, Any]) -> str:
        """The validated output, with its derived fields, as JSON; raises ValueError when invalid."""
        parsed = self.parse(completion.text, row)
        values = parsed.model_dump(mode="json")
        if self.derive is not None:
            values |= self.derive(parsed, completion)
        return json.dumps(values, ensure_ascii=False)
