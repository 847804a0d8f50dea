"""Content address of a request: what, if it changed, could change the answer."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict

from llm_jobs.engines.base import EngineRequest


def request_key(model_id: str, task_name: str, task_version: str, request: EngineRequest) -> str:
    payload = {
        "model": model_id,
        "task": task_name,
        "version": task_version,
        "messages": list(request.messages),
        "schema": request.json_schema,
        "sampling": asdict(request.sampling),
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
