"""Cached synthetic inputs for the feature-job benchmarks: raw Parquet of a synthetic marketplace.

Two paths to the same rows: "ingest" writes the marketplace's JSON files and ingests them with
the readers (what a real source goes through); "direct" writes the raw Parquet straight from the
generator's draws (`synthetic.raw`), minutes instead of most of an hour at 100M.
Cached under benchmarks/work/inputs/<key>/ by the MarketplaceSpec and the path, so repeated runs
reuse them. Neither generation nor ingest is part of any timed comparison.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import time
from pathlib import Path

from synthetic.marketplace import MarketplaceSpec, write_marketplace
from synthetic.raw import write_raw_marketplace
from transforms.readers.ingest import ingest_to_dir
from transforms.readers.source import SourceSpec

WORK = Path(__file__).parent / "work"


def spec_for(n_interactions: int, seed: int = 7) -> MarketplaceSpec:
    # 1M: 100k users, 20k items; 10M: 1M users, 200k items.
    return MarketplaceSpec(
        n_users=max(1, n_interactions // 10), n_items=max(10, n_interactions // 50), n_interactions=n_interactions, seed=seed
    )


def prepare(spec: MarketplaceSpec, log=print, direct: bool = False) -> tuple[Path, dict]:
    """The raw Parquet directory for `spec` (raw/<table>/part-*.parquet) and what was done."""
    key = hashlib.sha256(spec.model_dump_json().encode()).hexdigest()[:12]
    base = WORK / "inputs" / f"n{spec.n_interactions}-{key}{'-direct' if direct else ''}"
    done = base / "_DONE.json"
    if done.exists():
        return base / "raw", json.loads(done.read_text())
    shutil.rmtree(base, ignore_errors=True)
    started = time.perf_counter()
    if direct:
        log(f"writing {spec.n_interactions:,} interactions as raw Parquet into {base / 'raw'}")
        info = {
            "spec": json.loads(spec.model_dump_json()),
            "path": "direct: synthetic.raw.write_raw_marketplace (no JSON, no ingest)",
            "generated": write_raw_marketplace(spec, base / "raw"),
            "generate_seconds": round(time.perf_counter() - started, 1),
        }
        done.write_text(json.dumps(info, indent=2))
        log(f"  written in {info['generate_seconds']:.0f}s")
        return base / "raw", info
    log(f"generating {spec.n_interactions:,} interactions into {base / 'source'}")
    written = write_marketplace(spec, base / "source")
    generated = time.perf_counter()
    log(f"  generated in {generated - started:.0f}s; ingesting to raw Parquet")
    report = ingest_to_dir(SourceSpec(path=str(base / "source")), str(base / "raw"))
    info = {
        "spec": json.loads(spec.model_dump_json()),
        "path": "ingest: synthetic.marketplace JSON -> transforms.readers.ingest",
        "generated": {k: written[k] for k in ("users", "items", "items_reviewed", "interactions")},
        "ingest": report.as_metadata(),
        "generate_seconds": round(generated - started, 1),
        "ingest_seconds": round(time.perf_counter() - generated, 1),
    }
    done.write_text(json.dumps(info, indent=2))
    log(f"  ingested in {info['ingest_seconds']:.0f}s")
    return base / "raw", info


if __name__ == "__main__":
    direct = "--direct" in sys.argv
    for n in (a for a in sys.argv[1:] if a != "--direct"):
        print(prepare(spec_for(int(n)), log=lambda m: print(m, flush=True), direct=direct)[0], flush=True)
