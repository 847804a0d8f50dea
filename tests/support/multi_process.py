"""The DirectRunner in multi-processing mode: two worker processes that share nothing with the driver."""

from llm_jobs.config import LLMJobConfig

TWO_WORKER_PROCESSES = LLMJobConfig(
    min_batch_size=1,
    max_batch_size=1,
    progress=False,
    pipeline_options={"direct_running_mode": "multi_processing", "direct_num_workers": "2"},
)
