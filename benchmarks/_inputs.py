"""Cached synthetic inputs for the feature-job benchmark: marketplace files -> raw Parquet.

Cached under benchmarks/work/inputs/<key>/ by the MarketplaceSpec, so repeated runs reuse them.
Neither generation nor ingest is part of any timed comparison.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import time
from pathlib import Path

from transforms.readers.ingest import ingest_to_dir
from transforms.readers.source import SourceSpec
from transforms.synthetic_marketplace import MarketplaceSpec, write_marketplace

WORK = Path(__file__).parent / "work"


def spec_for(n_interactions: int, seed: int = 7) -> MarketplaceSpec:
    # 1M: 100k users, 20k items; 10M: 1M users, 200k items.
    return MarketplaceSpec(
        n_users=max(1, n_interactions // 10), n_items=max(10, n_interactions // 50), n_interactions=n_interactions, seed=seed
    )


def prepare(spec: MarketplaceSpec, log=print) -> tuple[Path, dict]:
    """The raw Parquet directory for `spec` (raw/<table>/part-*.parquet) and what was done."""
    key = hashlib.sha256(spec.model_dump_json().encode()).hexdigest()[:12]
    base = WORK / "inputs" / f"n{spec.n_interactions}-{key}"
    done = base / "_DONE.json"
    if done.exists():
        return base / "raw", json.loads(done.read_text())
    shutil.rmtree(base, ignore_errors=True)
    started = time.perf_counter()
    log(f"generating {spec.n_interactions:,} interactions into {base / 'source'}")
    written = write_marketplace(spec, base / "source")
    generated = time.perf_counter()
    log(f"  generated in {generated - started:.0f}s; ingesting to raw Parquet")
    report = ingest_to_dir(SourceSpec(path=str(base / "source")), str(base / "raw"))
    info = {
        "spec": json.loads(spec.model_dump_json()),
        "generated": {k: written[k] for k in ("users", "items", "items_reviewed", "interactions")},
        "ingest": report.as_metadata(),
        "generate_seconds": round(generated - started, 1),
        "ingest_seconds": round(time.perf_counter() - generated, 1),
    }
    done.write_text(json.dumps(info, indent=2))
    log(f"  ingested in {info['ingest_seconds']:.0f}s")
    return base / "raw", info


if __name__ == "__main__":
    for n in sys.argv[1:]:
        print(prepare(spec_for(int(n)), log=lambda m: print(m, flush=True))[0], flush=True)
