"""How an LLM job runs: batching, retries, the reject threshold and the Beam runner."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class LLMJobConfig:
    min_batch_size: int = 1
    max_batch_size: int = 8
    # Attempts per row, the first included; each retry samples again (next seed, temperature >= 0.7).
    max_attempts: int = 3
    # The job fails (after writing its rejects and run record) when more rows than this are rejected.
    max_reject_rate: float = 0.2
    # Any Beam runner ("DataflowRunner", "FlinkRunner", "SparkRunner") with its options as flags.
    runner: str = "DirectRunner"
    pipeline_options: Mapping[str, str] = field(default_factory=dict)
    # One engine per machine shared by all worker processes (large models), instead of one per process.
    share_engine_across_processes: bool = False
    progress: bool = True
