"""The counters an LLM job's workers keep (Beam metrics), summed on the driver after the pipeline."""

from __future__ import annotations

from collections import Counter

from apache_beam.metrics import Metrics
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.runners.runner import PipelineResult

METRICS_NAMESPACE = "recaug.llm"


def count(name: str, n: int = 1) -> None:
    """Add `n` to the job counter `name` (inside a pipeline; ignored outside one)."""
    Metrics.counter(METRICS_NAMESPACE, name).inc(n)


def job_counters(result: PipelineResult) -> Counter[str]:
    """Every counter of the namespace, summed over the steps that kept it."""
    totals: Counter[str] = Counter()
    for counter in result.metrics().query(MetricsFilter().with_namespace(METRICS_NAMESPACE))["counters"]:
        totals[counter.key.metric.name] += counter.committed
    return totals
