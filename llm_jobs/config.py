"""How an LLM job runs: batching, retries, the reject threshold and the Beam runner."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator


class LLMJobConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    min_batch_size: int = Field(1, ge=1)
    # Requests per engine call; None: the engine's own preference (8 for llama.cpp, hundreds for
    # vLLM and server fleets, see `handler.batching`).
    max_batch_size: int | None = Field(None, ge=1, description="at least min_batch_size")
    # Attempts per row, the first included; each retry samples again (next seed, temperature >= 0.7).
    max_attempts: int = Field(3, ge=1)
    # The job fails (after writing its rejects and run record) when more rows than this are rejected.
    max_reject_rate: float = Field(0.2, ge=0, le=1)
    # Any Beam runner ("DataflowRunner", "FlinkRunner", "SparkRunner") with its options as flags; on
    # the DirectRunner, {"direct_running_mode": "multi_processing", "direct_num_workers": "2"} runs
    # workers in processes of their own.
    runner: str = Field("DirectRunner", min_length=1)
    pipeline_options: dict[str, str] = Field(default_factory=dict)
    # One engine per machine shared by all worker processes (large models), instead of one per process.
    share_engine_across_processes: bool = False
    progress: bool = True
    # A cached refusal (the engine called the request invalid) is sent again once older than this,
    # or at once with retry_refused: the server may have been fixed since.
    refusal_max_age_s: float = Field(3600.0, ge=0)
    retry_refused: bool = False
    # Engine time a run may spend (see llm_jobs.handler); None: no limit.
    engine_budget_s: float | None = Field(6 * 3600.0, gt=0)

    @field_validator("max_batch_size")
    @classmethod
    def _not_below_min_batch_size(cls, value: int | None, info: ValidationInfo) -> int | None:
        low = info.data.get("min_batch_size")
        if value is not None and low is not None and value < low:
            raise ValueError(f"max_batch_size {value} is below min_batch_size {low}")
        return value
