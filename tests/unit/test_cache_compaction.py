"""The response cache as a keyed dataset: committed batches folded into sorted buckets, merged when
a bucket holds too many files, and looked up by key with the newest response winning."""

import hashlib
from datetime import timedelta

from llm_jobs.cache import BUCKETS, CachedResponse, ResponseCache, now_utc
from llm_jobs.cache_compaction import MERGE_AT, compact
from llm_jobs.config import LLMJobConfig
from llm_jobs.engines.base import Completion, refused
from storage.warehouse import Warehouse

CONFIG = LLMJobConfig(progress=False)


def _key(i: int) -> str:
    return hashlib.sha256(str(i).encode()).hexdigest()


def _entry(i: int, completion: Completion, age_s: float = 0) -> CachedResponse:
    return CachedResponse(_key(i), "m", "t", "1", completion, now_utc() - timedelta(seconds=age_s))


def _answer(i: int) -> Completion:
    return Completion(f'{{"n": {i}}}', 10, 3, "stop")


def test_nights_of_batches_fold_into_few_sorted_files_per_bucket_and_every_key_is_found(tmp_path):
    cache = ResponseCache(Warehouse(str(tmp_path)), "t")
    nights = MERGE_AT + 3
    for night in range(nights):
        for batch in range(3):
            first = (night * 3 + batch) * 40
            cache.commit((_entry(i, _answer(i)) for i in range(first, first + 40)), run_id=f"night{night}")
        compact(cache, CONFIG)
        assert cache.pending_batches() == []

    assert all(len(cache.compacted_files(bucket)) <= MERGE_AT for bucket in BUCKETS)
    total = nights * 3 * 40
    found = ResponseCache(cache.warehouse, "t").lookup({_key(i) for i in range(total + 50)})
    assert {entry.completion.text for entry in found.values()} == {f'{{"n": {i}}}' for i in range(total)}
    assert cache.entries().num_rows == total


def test_a_key_stored_twice_answers_with_its_newest_response_across_files(tmp_path):
    cache = ResponseCache(Warehouse(str(tmp_path)), "t")
    cache.commit([_entry(1, refused("HTTP 413: too large", "http_413"), age_s=60)], run_id="a")
    compact(cache, CONFIG)
    cache.commit([_entry(1, _answer(1))], run_id="b")
    compact(cache, CONFIG)

    assert len(cache.compacted_files(_key(1)[0])) == 2
    (entry,) = ResponseCache(cache.warehouse, "t").lookup({_key(1)}).values()
    assert entry.completion.error is None and entry.completion.text == '{"n": 1}'
    assert cache.entries().to_pylist()[0]["error"] is None
