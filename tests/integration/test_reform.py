"""ReFORM profiles on the real embedded model: factor sets as YAML, review trimming, short phrase lists
per factor, caching, and factor embeddings through the real text encoder."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from llama_cpp import Llama
from llama_cpp.llama_chat_format import Jinja2ChatFormatter
from support.llm_job_support import PARTITION, sent

from llm_jobs.config import LLMJobConfig
from llm_jobs.factor_embeddings import as_numpy, encode_factor_profiles, factor_embeddings_type
from llm_jobs.factor_sets import (
    BUILTIN_DIR,
    FactorSetError,
    load_factor_set,
    load_factor_sets,
    resolve_factor_set,
)
from llm_jobs.job import run_llm_job
from llm_jobs.tasks.reform import (
    MAX_PHRASES,
    PHRASE_CHARS,
    TASK_NAMES,
    ReviewBudget,
    normalize_phrases,
    profile_rows,
    profile_schema,
    profile_task,
    read_profiles,
)
from llm_jobs.text_encoder import TextEncoder
from schemas.tables import REVIEW_BUNDLES
from storage.warehouse import Warehouse

CONFIG = LLMJobConfig(min_batch_size=1, max_batch_size=2, progress=False)
TS = datetime(2024, 2, 1, tzinfo=UTC)


def _review(user_idx: int, item_idx: int, rating: float, summary: str, text: str) -> dict:
    return {
        "user_idx": user_idx, "item_idx": item_idx, "rating": rating, "ts": TS, "summary": summary, "review_text": text
    }


_HEADPHONES = _review(0, 0, 5.0, "Great headphones", "Crisp sound, a comfortable fit for my daily commute. Worth it.")
_CASE = _review(0, 1, 2.0, "Flimsy", "The phone case cracked within a week. Cheap plastic, slow shipping.")
_CASE_2 = _review(1, 1, 4.0, "Cute case", "Pretty floral pattern, a nice gift for my sister.")


def _bundles() -> pa.Table:
    rows = [
        {"entity_kind": "user", "entity_idx": 0, "reviews": [_HEADPHONES, _CASE], "n_reviews_total": 2},
        {"entity_kind": "user", "entity_idx": 1, "reviews": [_CASE_2], "n_reviews_total": 1},
        {"entity_kind": "item", "entity_idx": 0, "reviews": [_HEADPHONES], "n_reviews_total": 1},
        {"entity_kind": "item", "entity_idx": 1, "reviews": [_CASE, _CASE_2], "n_reviews_total": 2},
    ]
    return pa.Table.from_pylist(rows, schema=REVIEW_BUNDLES)


@pytest.fixture(scope="module")
def ecommerce_run(tmp_path_factory, counting):
    """Both profile jobs of the default (ecommerce) factor set over 2 users and 2 items."""
    warehouse = Warehouse(str(tmp_path_factory.mktemp("reform")))
    factor_set = resolve_factor_set()
    runs = {}
    for kind in ("user", "item"):
        task = profile_task(factor_set, kind)
        rows = profile_rows(_bundles(), task)
        before = sent(counting)
        result = run_llm_job(task, rows, counting, warehouse, PARTITION, CONFIG)
        runs[kind] = {"task": task, "rows": rows, "result": result, "sent": sent(counting) - before}
    return warehouse, factor_set, runs


def _assert_short_phrase_lists(profile: dict, names: tuple[str, ...]) -> None:
    assert set(profile) == set(names)
    for name in names:
        phrases = profile[name]
        assert isinstance(phrases, list) and len(phrases) <= MAX_PHRASES, (name, phrases)
        assert all(isinstance(p, str) and 1 <= len(p) <= PHRASE_CHARS for p in phrases), (name, phrases)


def test_profiles_are_short_phrase_lists_per_factor(ecommerce_run):
    warehouse, factor_set, runs = ecommerce_run
    for kind, run in runs.items():
        result = run["result"]
        assert (result.task, result.rows, result.accepted, result.rejected) == (TASK_NAMES[kind], 2, 2, 0)
        assert run["sent"] == 2
        for output in pq.read_table(result.output_path).column("output").to_pylist():
            _assert_short_phrase_lists(json.loads(output), factor_set.names)

        profiles = read_profiles(warehouse, run["task"], PARTITION)

        assert profiles.schema == profile_schema(factor_set.names)
        assert profiles.column("entity_idx").to_pylist() == [0, 1]
        for profile in profiles.to_pylist():
            del profile["entity_idx"]
            _assert_short_phrase_lists(profile, factor_set.names)
            for phrases in profile.values():
                assert phrases == normalize_phrases(phrases)


def test_cached_rerun_sends_no_requests(ecommerce_run, counting):
    warehouse, _, runs = ecommerce_run
    for run in runs.values():
        first = read_profiles(warehouse, run["task"], PARTITION)
        before = sent(counting)

        again = run_llm_job(run["task"], run["rows"], counting, warehouse, PARTITION, CONFIG)

        assert sent(counting) == before
        assert (again.requests_sent, again.cache_hits) == (0, 2)
        assert read_profiles(warehouse, run["task"], PARTITION) == first


def test_factor_embeddings_of_real_profiles(ecommerce_run):
    warehouse, factor_set, runs = ecommerce_run
    encoder = TextEncoder()
    for run in runs.values():
        profiles = read_profiles(warehouse, run["task"], PARTITION)

        table = encode_factor_profiles(profiles, factor_set.names, encoder)

        n_factors = len(factor_set.names)
        assert table.schema.field("factor_embeddings").type == factor_embeddings_type(n_factors, 384)
        embeddings = as_numpy(table.column("factor_embeddings"))
        assert embeddings.shape == (2, n_factors, 384) and np.isfinite(embeddings).all()
        mask = np.array(table.column("factor_mask").to_pylist())
        has_phrases = [[bool(row[name]) for name in factor_set.names] for row in profiles.to_pylist()]
        assert mask.tolist() == has_phrases
        assert not embeddings[~mask].any()
        assert (np.linalg.norm(embeddings[mask], axis=1) > 0.99).all()


_PODCASTS = """\
domain: podcasts
items: podcast episodes
factors:
  - name: host_style
    user: How this listener likes hosts to talk, e.g. {calm} or {energetic}.
    item: How the hosts of this episode talk.
  - name: topics
    user: The subjects this listener wants to hear about.
    item: The subjects this episode covers.
"""


def test_a_new_domain_in_yaml_runs_without_code_changes(tmp_path, counting):
    (tmp_path / "domains").mkdir()
    (tmp_path / "domains" / "podcasts.yaml").write_text(_PODCASTS)
    factor_set = resolve_factor_set("podcasts", [tmp_path / "domains"])
    task = profile_task(factor_set, "user")
    review = _review(4, 9, 5.0, "Relaxing", "A calm host who explains astronomy slowly. Perfect before sleep.")
    bundles = pa.Table.from_pylist(
        [{"entity_kind": "user", "entity_idx": 4, "reviews": [review], "n_reviews_total": 1}], schema=REVIEW_BUNDLES
    )
    warehouse = Warehouse(str(tmp_path / "warehouse"))

    result = run_llm_job(task, profile_rows(bundles, task), counting, warehouse, PARTITION, CONFIG)
    profiles = read_profiles(warehouse, task, PARTITION)

    assert (result.accepted, result.rejected) == (1, 0)
    assert profiles.schema.names == ["entity_idx", "host_style", "topics"]
    (profile,) = profiles.to_pylist()
    assert profile.pop("entity_idx") == 4
    _assert_short_phrase_lists(profile, ("host_style", "topics"))
    # The description's braces reach the prompt as written.
    assert "e.g. {calm} or {energetic}" in task.render(profile_rows(bundles, task)[0]).messages[1]["content"]

    edited_yaml = _PODCASTS.replace("The subjects this listener", "Subjects the listener")
    (tmp_path / "domains" / "podcasts.yaml").write_text(edited_yaml)
    edited = profile_task(resolve_factor_set("podcasts", [tmp_path / "domains"]), "user")
    assert edited.name == task.name and edited.version != task.version
    assert edited.version.startswith("1-podcasts-")


def test_builtin_factor_sets():
    factor_sets = load_factor_sets()

    assert set(factor_sets) == {"restaurant", "ecommerce", "media"}
    assert resolve_factor_set().domain == "ecommerce"
    assert factor_sets["restaurant"].names == (
        "cuisine_type", "flavor", "atmosphere", "price_tolerance", "companion", "time", "wait_time"
    )
    for factor_set in factor_sets.values():
        for factor in factor_set.factors:
            assert factor.user != factor.item
    versions = {profile_task(fs, "item").version for fs in factor_sets.values()}
    assert len(versions) == 3


_GOOD_FACTOR = "  - name: topics\n    user: Subjects the listener likes.\n    item: Subjects the episode covers.\n"


@pytest.mark.parametrize(
    ("text", "fault"),
    [
        (f"domain: podcasts\nitems: episodes\nfactors:\n{_GOOD_FACTOR}{_GOOD_FACTOR}", "duplicate factor names: topics"),
        (
            "domain: podcasts\nitems: episodes\nfactors:\n  - name: topics\n    user: Subjects the listener likes.\n",
            "factors[0].item: Field required",
        ),
        (
            "domain: podcasts\nitems: episodes\nfactors:\n  - name: topics\n    user: '  '\n    item: Subjects.\n",
            "factors[0].user: String should have at least 1 character",
        ),
        (
            f"domain: podcasts\nitems: episodes\nfactors:\n{_GOOD_FACTOR.replace('topics', 'Host Style')}",
            "factors[0].name: 'Host Style' is not a usable name",
        ),
        (f"domain: podcasts\nitems: episodes\nfactors:\n{_GOOD_FACTOR.replace('topics', 'entity_idx')}", "reserved"),
        (f"domain: Pod-casts\nitems: episodes\nfactors:\n{_GOOD_FACTOR}", "domain: 'Pod-casts' is not a usable name"),
        ("domain: podcasts\nitems: episodes\nfactors: []\n", "factors: Tuple should have at least 1 item"),
        ("domain: podcasts\nitems: [unclosed\n", "not valid YAML"),
    ],
)
def test_invalid_factor_set_errors_name_the_file_and_the_fault(tmp_path, text, fault):
    path = tmp_path / "podcasts.yaml"
    path.write_text(text)

    with pytest.raises(FactorSetError) as raised:
        load_factor_sets([tmp_path])

    assert str(path) in str(raised.value) and fault in str(raised.value)


def test_a_domain_defined_twice_names_both_files(tmp_path):
    path = tmp_path / "my_ecommerce.yaml"
    path.write_text((BUILTIN_DIR / "ecommerce.yaml").read_text())

    with pytest.raises(FactorSetError, match="already defined in") as raised:
        load_factor_sets([path])

    assert str(path) in str(raised.value) and str(BUILTIN_DIR / "ecommerce.yaml") in str(raised.value)


def test_unknown_domains_and_missing_sources_are_named(tmp_path):
    with pytest.raises(FactorSetError, match="domain 'podcasts'; known domains: ecommerce, media, restaurant"):
        resolve_factor_set("podcasts")
    with pytest.raises(FactorSetError, match="missing.yaml is neither a YAML file nor a folder"):
        load_factor_sets([tmp_path / "missing.yaml"])
    with pytest.raises(FactorSetError, match="missing.yaml: cannot read it"):
        load_factor_set(tmp_path / "missing.yaml")


def test_reviews_are_trimmed_in_order_to_fit_the_engine_context(embedded_gguf):
    task = profile_task(resolve_factor_set("restaurant"), "user")
    text = "The noodles were rich and spicy. " * 40
    reviews = [_review(0, i, 4.0, f"Visit {i}", text) for i in range(100)]
    bundles = pa.Table.from_pylist(
        [{"entity_kind": "user", "entity_idx": 0, "reviews": reviews, "n_reviews_total": 250}], schema=REVIEW_BUNDLES
    )

    (row,) = profile_rows(bundles, task)

    kept = row["review"]
    assert 1 < len(kept) < 100
    assert [text.split("\n")[1] for text in kept] == [f"Visit {i}" for i in range(len(kept))]
    assert profile_rows(bundles, task) == [row]
    # Counted with the model's own tokenizer and chat template, the prompt leaves room for the output.
    tokenizer = Llama(model_path=embedded_gguf, vocab_only=True, verbose=False)
    template = Jinja2ChatFormatter(tokenizer.metadata["tokenizer.chat_template"], eos_token="", bos_token="")
    prompt = template(messages=list(task.render(row).messages)).prompt
    prompt_tokens = len(tokenizer.tokenize(prompt.encode(), add_bos=True, special=True))
    assert prompt_tokens + task.sampling.max_tokens <= ReviewBudget().context_tokens
    assert prompt_tokens > ReviewBudget().context_tokens // 2  # the budget is used, not wasted

    with pytest.raises(ValueError, match="fewer than one review"):
        profile_rows(bundles, task, ReviewBudget(context_tokens=800))


def test_normalize_phrases():
    phrases = [" Spicy  food ", "", "spicy food", "SMOKY", "  ", "sweet", "sour", "bitter", "umami"]

    assert normalize_phrases(phrases) == ["Spicy food", "SMOKY", "sweet", "sour", "bitter"]


def test_outputs_of_another_factor_set_are_refused(ecommerce_run):
    warehouse, _, _ = ecommerce_run
    media_task = profile_task(resolve_factor_set("media"), "user")

    with pytest.raises(ValueError, match="run the job with this factor set first"):
        read_profiles(warehouse, media_task, PARTITION)
