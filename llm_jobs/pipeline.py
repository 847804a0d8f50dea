"""The Beam pipeline of one round of requests: Create -> RunInference(handler).

Responses reach the driver through the cache the handler commits to, not through the pipeline's
output, so the same code runs on the DirectRunner and on remote runners whose workers write to an
object-store warehouse.
"""

from __future__ import annotations

from collections.abc import Sequence

import apache_beam as beam
from apache_beam.ml.inference.base import RunInference
from apache_beam.options.pipeline_options import PipelineOptions

from llm_jobs.config import LLMJobConfig
from llm_jobs.handler import KeyedRequest, LLMModelHandler


def send_requests(requests: Sequence[KeyedRequest], handler: LLMModelHandler, config: LLMJobConfig) -> None:
    options = PipelineOptions.from_dictionary({"runner": config.runner, **config.pipeline_options})
    with beam.Pipeline(options=options) as pipeline:
        _ = pipeline | "Requests" >> beam.Create(list(requests)) | "Generate" >> RunInference(handler)
