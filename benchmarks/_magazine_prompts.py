"""Realistic prompts for the LLM benchmarks: ReFORM user profiles from the real Amazon Magazine reviews.

The reviews are read with the project's readers from the shared data set (never copied into the
repository). Each user's reviews form one `review_bundles`-shaped row: one review per item (the
latest), the most recent first. That ordering is this module's choice: the pipeline's
`review_bundles` job samples by hash, but a benchmark needs only realistic text, not the pipeline's
sample. The rows go through the real ReFORM builder (`profile_rows`), which trims the reviews to a
token budget, and only prompts whose rendered form measures `low` to `high` tokens with the model's
own tokenizer and chat template are kept.
"""

from __future__ import annotations

import os
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from llama_cpp import Llama, llama_chat_format

from llm_jobs.engines.base import EngineRequest
from llm_jobs.engines.embedded_model import embedded_model_path
from llm_jobs.task import Task
from llm_jobs.tasks.reform import ReviewBudget, profile_rows
from schemas.registry import RAW_TABLES
from transforms.readers.ingest import ingest_to_dir
from transforms.readers.source import SourceSpec

# Where the tests find the shared data sets too (tests/conftest.py): $RECAUG_DATASETS or ../shared/datasets.
_REPO = Path(__file__).resolve().parent.parent
MAGAZINE_FILE = "amazon2018_magazine/Magazine_Subscriptions_5.json.gz"


def magazine_dir() -> Path:
    datasets = Path(os.environ.get("RECAUG_DATASETS", _REPO.parent / "shared" / "datasets"))
    if not (datasets / MAGAZINE_FILE).is_file():
        raise FileNotFoundError(f"the Magazine reviews are missing: {datasets / MAGAZINE_FILE} (set RECAUG_DATASETS)")
    return (datasets / MAGAZINE_FILE).parent


def _raw_reviews(source: Path) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="magazine-raw-") as base:
        ingest_to_dir(SourceSpec(path=str(source)), base)
        return pq.read_table(Path(base) / "reviews", schema=RAW_TABLES["reviews"]).to_pylist()


def user_bundles(reviews: list[dict]) -> pa.Table:
    """One `review_bundles` row per user (entity_idx by sorted user_id): the latest review per item, newest first."""
    latest: dict[tuple[str, str], dict] = {}
    for review in reviews:
        key = (review["user_id"], review["item_id"])
        if key not in latest or review["ts"] > latest[key]["ts"]:
            latest[key] = review
    by_user: dict[str, list[dict]] = {}
    for (user_id, _), review in latest.items():
        by_user.setdefault(user_id, []).append(review)
    return pa.Table.from_pylist(
        [
            {
                "entity_kind": "user",
                "entity_idx": idx,
                "reviews": [
                    {field: r[field] for field in ("rating", "summary", "review_text")}
                    for r in sorted(by_user[user_id], key=lambda r: r["ts"], reverse=True)
                ],
            }
            for idx, user_id in enumerate(sorted(by_user))
        ]
    )


class PromptTokens:
    """Counts a request's prompt tokens as the llama.cpp engine feeds them: the GGUF's chat template
    rendered the way llama-cpp-python renders it, then the model's tokenizer (vocabulary only, no weights)."""

    def __init__(self, model_path: str | None = None) -> None:
        self._llama = Llama(model_path or embedded_model_path(), vocab_only=True, verbose=False)
        self._template = llama_chat_format.Jinja2ChatFormatter(
            template=self._llama.metadata["tokenizer.chat_template"],
            eos_token=self._text(self._llama.token_eos()),
            bos_token=self._text(self._llama.token_bos()),
        )

    def _text(self, token: int) -> str:
        return self._llama.detokenize([token], special=True).decode()

    def count(self, request: EngineRequest) -> int:
        rendered = self._template(messages=list(request.messages))
        return len(self._llama.tokenize(rendered.prompt.encode(), add_bos=not rendered.added_special, special=True))

    def close(self) -> None:
        self._llama.close()


@dataclass(frozen=True)
class Prompts:
    rows: list[dict]
    requests: list[EngineRequest]
    tokens: list[int]  # prompt tokens of each request

    def token_spread(self) -> dict[str, int]:
        return {"min": min(self.tokens), "median": int(statistics.median(self.tokens)), "max": max(self.tokens)}


def magazine_user_prompts(task: Task, n: int, low: int = 300, high: int = 1000) -> Prompts:
    """The first `n` users (by entity_idx) whose rendered `task` prompt measures `low` to `high` tokens.

    `task` is a ReFORM user-profile task (`profile_task(..., "user")`); the reviews are trimmed to
    what `high` leaves after the prompt's fixed part (estimated by characters, as the pipeline does).
    """
    counter = PromptTokens()
    try:
        fixed = counter.count(task.render({"entity_idx": 0, "review": []}))
        if fixed >= high:
            raise ValueError(f"task {task.name}: its prompt without reviews already measures {fixed} tokens (> {high})")
        bundles = user_bundles(_raw_reviews(magazine_dir()))
        kept: list[tuple[dict, EngineRequest, int]] = []
        for row in profile_rows(bundles, task, ReviewBudget(max_review_tokens=high - fixed)):
            request = task.render(row)
            count = counter.count(request)
            if low <= count <= high:
                kept.append((row, request, count))
            if len(kept) == n:
                rows, requests, tokens = zip(*kept, strict=True)
                return Prompts(list(rows), list(requests), list(tokens))
    finally:
        counter.close()
    raise ValueError(
        f"only {len(kept)} Magazine users have a {task.name} prompt of {low} to {high} tokens; asked for {n}"
    )
