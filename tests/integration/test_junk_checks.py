"""Junk LLM outputs (template placeholders, loops, S-LLMR prompts scored all alike, an empty pairwise
set) warn in the validation report, and block with `block_on_junk`: real Parquet validated by the
real contract runner (Great Expectations included), on Arrow and, where a table can be large, Spark."""

import datetime as dt
import uuid
from pathlib import Path
from urllib.parse import unquote, urlparse

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

from llm_jobs.tasks.i2i import GENERATOR
from llm_jobs.tasks.reaseq_agents import ANALYST, SUMMARIZER, VERIFIER
from llm_jobs.tasks.reform import TASK_NAMES as REFORM_TASKS
from llm_jobs.tasks.slmr import SCORER
from schemas.contracts import PLACEHOLDER_RATE, REPETITION_RATE, ValidationThresholds
from schemas.registry import CONTRACTS, table_schema
from schemas.tables import ID_MAPS, LLM_PAIRWISE_SUPERVISION, SLMR_SCORES
from storage.publishing import publish
from storage.warehouse import Warehouse
from validation import validate_parquet, validate_table
from validation.data_docs import write_validation_docs
from validation.junk_checks import free_text_columns
from validation.junk_text import has_placeholder, is_repetitive

CLEAN_PHRASES = {
    "category_path": ["Books & Magazines", "Food & Cooking"],
    "key_attributes": ["12 issues a year", "seasonal recipes"],
    "use_cases": ["weeknight dinners"],
    "target_audience": ["home cooks"],
    "complementary_categories": ["cookware"],
    "substitute_categories": ["recipe websites"],
}
CLEAN_SUMMARIES = [
    "A monthly cooking magazine with seasonal recipes, kitchen techniques and wine pairings for home cooks.",
    "A 12-issue subscription [digital edition] of a travel journal, with [DVD] extras; very very good value.",
]
KNOWLEDGE_TEXTS = len(CLEAN_SUMMARIES) * (1 + sum(map(len, CLEAN_PHRASES.values())))
KNOWLEDGE_SCHEMA = table_schema("llm/reaseq_item_knowledge", ["flavor"], 4)
BLOCK = pytest.mark.parametrize("block", [False, True], ids=["warns", "blocks"])


def _id_maps(n: int = 4) -> pa.Table:
    rows = [(kind, f"{kind}{i}", i) for kind in ("user", "item") for i in range(n)]
    kind, raw_id, idx = zip(*rows)
    return pa.table({"kind": kind, "raw_id": raw_id, "idx": idx}, schema=ID_MAPS)


def _runs(*tasks: str, rows: int = 4) -> dict[str, dict]:
    """Clean run records of the jobs that produced a table."""
    clean = {"rows": rows, "answers": rows, "unparseable": 0, "hallucinated_ids": 0, "reject_rate": 0.0}
    return {task: {"run_id": "r1", "task": task, **clean} for task in tasks}


def _validate(tmp_path, table: str, data: pa.Table, schema: pa.Schema, block: bool = False, spark=None, runs=None):
    """`table`'s contract on `data` written as Parquet: on Spark when a session is given (every
    non-empty table is then above `spark_above_rows`), else in process on Arrow."""
    thresholds = ValidationThresholds(block_on_junk=block, spark_above_rows=0 if spark else 10**9)
    path, id_maps = _write(tmp_path, data), _write(tmp_path, _id_maps())
    session = (lambda: spark) if spark else lambda: pytest.fail("an Arrow validation started Spark")
    return validate_parquet(Warehouse(str(tmp_path)), table, path, id_maps, schema, thresholds, session, llm_runs=runs)


def _write(tmp_path, table: pa.Table) -> str:
    path = tmp_path / f"{uuid.uuid4().hex}.parquet"
    pq.write_table(table, path)
    return str(path)


def _junk(report, name: str, block: bool):
    """The one failed check, `name`, with the severity `block` gives it and the verdict it implies."""
    (failure,) = report.failures()
    assert (failure.name, failure.severity) == (name, "error" if block else "warning")
    assert report.passed is not block
    return failure


def _knowledge(summaries: list[str], phrases: dict[str, list[str]] = CLEAN_PHRASES) -> pa.Table:
    n = len(summaries)
    columns = {
        "item_idx": list(range(n)),
        **{field: [values] * n for field, values in phrases.items()},
        "price_tier": ["mid"] * n,
        "summary": summaries,
        "claims_total": [9] * n,
        "claims_dropped": [0] * n,
        "claims_dropped_by_checks": [0] * n,
        "knowledge_embedding": [[0.1, 0.2, 0.3, 0.4]] * n,
    }
    return pa.table(columns, schema=KNOWLEDGE_SCHEMA)


def _validate_knowledge(tmp_path, table: pa.Table, block: bool = False):
    runs = _runs(ANALYST, VERIFIER, SUMMARIZER, rows=table.num_rows)
    return _validate(tmp_path, "llm/reaseq_item_knowledge", table, KNOWLEDGE_SCHEMA, block, runs=runs)


def test_clean_knowledge_passes_with_its_texts_counted(tmp_path):
    report = _validate_knowledge(tmp_path, _knowledge(CLEAN_SUMMARIES))

    assert not report.failures(), report.failures()
    checks = {r.name: r for r in report.results}
    assert checks[PLACEHOLDER_RATE].observed["texts"] == checks[REPETITION_RATE].observed["texts"] == KNOWLEDGE_TEXTS


@BLOCK
def test_placeholder_template_summaries_are_junk(tmp_path, block):
    summaries = ["The [TITLE] is a unique magazine for [TARGETING] readers.", "{brand} delivers <PRODUCT> monthly."]
    phrases = {**CLEAN_PHRASES, "key_attributes": ["___ issues a year", "seasonal recipes"]}

    failure = _junk(_validate_knowledge(tmp_path, _knowledge(summaries, phrases), block), PLACEHOLDER_RATE, block)

    assert failure.unexpected_count == 4  # two summaries, and the blank phrase of both items
    assert failure.observed["rate"] == pytest.approx(4 / KNOWLEDGE_TEXTS)
    assert failure.observed["flagged_per_column"] == {"key_attributes": 2, "summary": 2}
    assert {"item_idx": 0, "column": "summary", "text": summaries[0]} in failure.sample_rows


@BLOCK
def test_a_looped_summary_is_junk(tmp_path, block):
    summaries = [CLEAN_SUMMARIES[0], "Baked Baked Baked goods for every baker, baked fresh."]

    failure = _junk(_validate_knowledge(tmp_path, _knowledge(summaries), block), REPETITION_RATE, block)

    assert failure.unexpected_count == 1
    assert failure.observed["rate"] == pytest.approx(1 / KNOWLEDGE_TEXTS)  # just above the default 5%
    assert failure.sample_rows == [{"item_idx": 1, "column": "summary", "text": summaries[1]}]


@pytest.mark.parametrize(
    "text",
    [
        "The [TITLE] is a unique... [TARGETING]",
        "Made by [BRAND NAME] for <PRODUCT_LINE> fans",
        "{brand} quality",
        "{{title}}",
        "issue {0}",
        "fill in ___ here",
    ],
)
def test_template_tokens_are_placeholders(text):
    assert has_placeholder(pa.array([text])).tolist() == [True]


@pytest.mark.parametrize(
    "text",
    [
        "A 12-issue subscription [digital edition]",
        "Vogue [Print + Kindle]",
        "The film on [DVD] or [CD]",
        "a <br> tag, x < y > z",
        "snake_case and a__b",
        "Baked goods, baked fresh",
        "very very good",
    ],
)
def test_ordinary_text_is_neither_placeholder_nor_loop(text):
    texts = pa.array([text])
    assert (has_placeholder(texts).tolist(), is_repetitive(texts).tolist()) == ([False], [False])


@pytest.mark.parametrize(
    "text",
    [
        "Baked Baked Baked",
        "baked, BAKED; baked!",
        "great gift great gift great gift",
        "for the home for the home for the home",
        "cat dog cat dog dog cat cat dog cat dog dog",  # 11 words, 2 distinct
    ],
)
def test_loops_are_repetitions(text):
    assert is_repetitive(pa.array([text, None, ""])).tolist() == [True, False, False]


def _profiles(phrases: list[list[str]]) -> tuple[pa.Table, pa.Schema]:
    """llm/reform_user_profiles with one factor, `flavor`."""
    schema = table_schema("llm/reform_user_profiles", ["flavor"], 2)
    has = [bool(p) for p in phrases]
    columns = {
        "user_idx": list(range(len(phrases))),
        "profile_flavor": phrases,
        "factor_embeddings": [[[1.0, 0.0] if h else [0.0, 0.0]] for h in has],
        "factor_mask": [[h] for h in has],
    }
    return pa.table(columns, schema=schema), schema


def test_a_placeholder_phrase_in_a_reform_profile_warns(tmp_path):
    profiles, schema = _profiles([["spicy food", "<FLAVOR>"], ["sweet desserts"], []])

    report = _validate(tmp_path, "llm/reform_user_profiles", profiles, schema, runs=_runs(REFORM_TASKS["user"]))

    failure = _junk(report, PLACEHOLDER_RATE, block=False)
    assert failure.observed["texts"] == 3
    assert failure.sample_rows == [{"user_idx": 0, "column": "profile_flavor", "text": "<FLAVOR>"}]


def _synthetic(reasons: list[str]) -> pa.Table:
    n = len(reasons)
    ts = [dt.datetime(2024, 1, 1, tzinfo=dt.UTC)] * n
    ids = list(range(n))
    columns = {"user_idx": ids, "item_idx": ids, "pick_rank": [1] * n, "reason": reasons, "ts": ts}
    return pa.table(columns, schema=table_schema("llm/i2i_synthetic"))


@pytest.mark.parametrize("on_spark", [False, True], ids=["arrow", "spark"])
def test_looped_generator_reasons_warn_on_both_engines(tmp_path, request, on_spark):
    """On Spark the texts are judged on a bounded sample: here the whole (small) table."""
    spark = request.getfixturevalue("spark") if on_spark else None
    reasons = ["Matches the cooking history", "Loves loves loves loves baking", "Same category as recent buys"]
    table = _synthetic(reasons)

    report = _validate(tmp_path, "llm/i2i_synthetic", table, table.schema, spark=spark, runs=_runs(GENERATOR, rows=3))

    assert report.engine == ("spark" if on_spark else "arrow")
    failure = _junk(report, REPETITION_RATE, block=False)
    assert failure.sample_rows == [{"user_idx": 1, "item_idx": 1, "column": "reason", "text": reasons[1]}]
    assert failure.observed["rate"] == pytest.approx(1 / 3)
    assert failure.observed.get("sampled_rows") == (3 if on_spark else None)


def _scores(prompts: dict[int, list[float | None]]) -> pa.Table:
    """llm/slmr_scores: per user, one popular prompt scoring items 0, 1, ... as given."""
    rows = [(user, item, raw) for user, raws in prompts.items() for item, raw in enumerate(raws)]
    user_idx, item_idx, raw = zip(*rows)
    columns = {
        "user_idx": user_idx,
        "candidate_set": ["popular"] * len(rows),
        "item_idx": item_idx,
        "raw_score": raw,
        "is_missing": [r is None for r in raw],
        "score": [0.5 if r is None else r for r in raw],
    }
    return pa.table(columns, schema=SLMR_SCORES)


@pytest.mark.parametrize(
    "on_spark, block", [(False, False), (False, True), (True, False)], ids=["warns", "blocks", "warns-on-spark"]
)
def test_slmr_prompts_scored_all_alike_are_junk(tmp_path, request, on_spark, block):
    spark = request.getfixturevalue("spark") if on_spark else None
    # User 0 scores all alike, user 1 gave no score at all, user 2 ranks, user 3 had one candidate.
    scores = _scores({0: [0.5, 0.5, 0.5], 1: [None, None], 2: [0.2, 0.9, 0.2], 3: [0.7]})

    report = _validate(tmp_path, "llm/slmr_scores", scores, SLMR_SCORES, block, spark, _runs(SCORER))

    failure = _junk(report, "tied_prompt_rate", block)
    assert (failure.observed["prompts"], failure.unexpected_count) == (3, 2)
    assert failure.observed["rate"] == pytest.approx(2 / 3)
    tied = {(r["user_idx"], r["candidates"], r["distinct_scores"], r["score"]) for r in failure.sample_rows}
    assert tied == {(0, 3, 1, 0.5), (1, 2, 0, None)}


def test_slmr_prompts_that_rank_pass(tmp_path):
    scores = _scores({0: [0.5, 0.5, 0.1], 1: [0.9, 0.3], 2: [0.4]})

    report = _validate(tmp_path, "llm/slmr_scores", scores, SLMR_SCORES, runs=_runs(SCORER))

    assert not report.failures(), report.failures()


def _pairwise(rows: int) -> pa.Table:
    row = {
        "user_idx": 0, "candidate_set": "popular", "item_i": 1, "item_j": 2, "s_i": 0.9, "s_j": 0.1, "gap": 0.8,
        "hist_len": 5, "is_cold": False, "pop_i": 10, "pop_j": 3, "tail_i": False, "tail_j": True,
    }  # fmt: skip
    return pa.Table.from_pylist([row] * rows, schema=LLM_PAIRWISE_SUPERVISION)


@pytest.mark.parametrize("table", ["llm/llm_pairwise_supervision", "llm_pairwise_supervision"])
@BLOCK
def test_an_empty_pairwise_set_is_junk(tmp_path, table, block):
    report = _validate(tmp_path, table, _pairwise(0), LLM_PAIRWISE_SUPERVISION, block)

    assert _junk(report, "not_empty", block).observed == {"rows": 0}


def test_an_empty_pairwise_set_on_spark_warns_and_a_filled_one_passes(tmp_path, spark):
    """An empty table never reaches Spark through `spark_above_rows`; a caller may still pass one."""
    on_spark = [spark.read.parquet(_write(tmp_path, table)) for table in (_pairwise(0), _id_maps())]
    empty = validate_table("llm_pairwise_supervision", *on_spark, None)
    filled = _validate(tmp_path, "llm_pairwise_supervision", _pairwise(1), LLM_PAIRWISE_SUPERVISION, spark=spark)

    assert (empty.engine, filled.engine) == ("spark", "spark")
    _junk(empty, "not_empty", block=False)
    assert not filled.failures(), filled.failures()


def test_every_llm_text_table_checks_its_free_text_columns():
    """Which columns the placeholder and repetition rates read, per table that declares them."""
    factors, dim = ["flavor"], 2
    knowledge = list(CLEAN_PHRASES)
    expected = {
        "llm/reaseq_item_knowledge": [*knowledge, "summary"],
        "llm/reaseq_user_interests": ["interests"],
        "llm/i2i_synthetic": ["reason"],
        "llm/reform_user_profiles": ["profile_flavor"],
        "llm/reform_item_profiles": ["profile_flavor"],
        "llm/user_features_augmented": ["profile_flavor"],
        "user_features": ["profile_flavor"],
        "llm/item_features_augmented": [*(f"knowledge_{f}" for f in knowledge), "knowledge_summary", "profile_flavor"],
        "item_features": [*(f"knowledge_{f}" for f in knowledge), "knowledge_summary", "profile_flavor"],
    }
    declaring = {table for table, terms in CONTRACTS.items() if {PLACEHOLDER_RATE, REPETITION_RATE} <= set(terms.rates)}

    assert declaring == set(expected)
    assert {table: free_text_columns(table_schema(table, factors, dim).names) for table in declaring} == expected


def test_a_junk_warning_renders_in_the_published_versions_data_docs(tmp_path):
    """Publication writes each version's Data Docs page; a junk warning must not stop GX rendering it."""
    source = tmp_path / "source"
    source.mkdir()
    pq.write_table(_pairwise(0), source / "p.parquet")
    wh = Warehouse(str(tmp_path / "wh"))

    def gate(path, previous_rows):
        return validate_table("llm_pairwise_supervision", pq.read_table(path), _id_maps(), previous_rows)

    dataset = pads.dataset(str(source))
    version = publish(wh, "llm_pairwise_supervision", LLM_PAIRWISE_SUPERVISION, dataset, "2024-01-01", {}, gate=gate)
    manifest = version.manifest

    assert manifest["status"] == "published"
    page = Path(unquote(urlparse(write_validation_docs(wh, manifest)).path)).read_text()
    assert "recaug check not_empty" in page
