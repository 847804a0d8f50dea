"""Fold a task's committed cache batches into its sorted buckets, as Beam pipelines.

1. Chunks of committed batches: each worker reads its chunk's files once, writes each bucket's
   rows sorted (one new file per bucket), then deletes the chunk's batches. Work and memory are
   those of the chunk.
2. Buckets: a bucket holding more than `MERGE_AT` files has its smaller files merged into one,
   and the largest too once the others add up to more than it (so each response is rewritten a
   logarithmic number of times over the cache's life), keeping a lookup down to a few files.

The driver lists files and sums counters: it never holds a response. Crash-safe at any moment: a
new file is complete before anything it replaces is deleted, and a key found twice (a batch not
yet deleted, two files of a bucket) resolves to its newest response.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import apache_beam as beam
import pyarrow as pa
import pyarrow.compute as pc
from apache_beam.options.pipeline_options import PipelineOptions

from llm_jobs.cache import BUCKETS, CACHE_SCHEMA, ResponseCache, newest_per_key
from llm_jobs.config import LLMJobConfig
from llm_jobs.metrics import job_counters

#: Committed batches a worker folds at a time.
BATCHES_PER_CHUNK = 64
#: Files a bucket may hold before its smaller ones are merged.
MERGE_AT = 4


def _delete(cache: ResponseCache, path: str) -> None:
    try:
        cache.warehouse.fs.delete_file(path)
    except FileNotFoundError:  # quarantined, or deleted by a concurrent compaction
        pass


def _fold_chunk(batches: Sequence[str], cache: ResponseCache) -> None:
    tables = [t for t in map(cache.read, batches) if t is not None]
    if tables:
        rows = pa.concat_tables(tables)
        heads = pc.utf8_slice_codeunits(rows["key"], 0, 1)
        for bucket in BUCKETS:
            part = rows.filter(pc.equal(heads, bucket))
            if part.num_rows:
                cache.write_sorted(bucket, newest_per_key(part))
    for path in batches:
        _delete(cache, path)


def _merge_bucket(bucket: str, cache: ResponseCache) -> None:
    files = cache.compacted_files(bucket)
    if len(files) <= MERGE_AT:
        return
    sizes = {path: cache.warehouse.fs.get_file_info(path).size for path in files}
    largest = max(files, key=sizes.get)
    merged = [path for path in files if path != largest]
    if sum(sizes[path] for path in merged) >= sizes[largest]:
        merged.append(largest)
    tables = [t for t in map(cache.read, merged) if t is not None]
    cache.write_sorted(bucket, newest_per_key(pa.concat_tables(tables) if tables else CACHE_SCHEMA.empty_table()))
    for path in merged:
        _delete(cache, path)


def compact(cache: ResponseCache, config: LLMJobConfig) -> int:
    """Fold the committed batches into the buckets; returns how many unreadable files were
    quarantined on the way."""
    batches = cache.pending_batches()
    if not batches:
        return 0
    chunks = [batches[i : i + BATCHES_PER_CHUNK] for i in range(0, len(batches), BATCHES_PER_CHUNK)]
    options = PipelineOptions.from_dictionary({"runner": config.runner, **config.pipeline_options})
    quarantined = _run(options, "Chunks", chunks, _fold_chunk, cache)
    # Listing the buckets costs far less than starting a pipeline that would find nothing to merge.
    crowded = [bucket for bucket in BUCKETS if len(cache.compacted_files(bucket)) > MERGE_AT]
    if crowded:
        quarantined += _run(options, "Buckets", crowded, _merge_bucket, cache)
    return quarantined


def _run(options: PipelineOptions, label: str, elements: Sequence, fold: Callable, cache: ResponseCache) -> int:
    """`fold(element, cache)` for each element in the workers; returns the files quarantined."""
    pipeline = beam.Pipeline(options=options)
    _ = pipeline | label >> beam.Create(elements) | f"Fold{label}" >> beam.Map(fold, cache)
    result = pipeline.run()
    result.wait_until_finish()
    return job_counters(result)["cache_quarantined"]
