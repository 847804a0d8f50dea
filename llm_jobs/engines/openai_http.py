"""Engine for any OpenAI-compatible chat endpoint: `vllm serve`, llama.cpp's server, hosted APIs.

Requests go out concurrently (bounded by a thread pool) and come back in request order. Transient
failures (429, 5xx, refused or dropped connections, timeouts) are retried with exponential backoff
and jitter, within a per-request deadline; 400/413/422 refuse that one request; any other 4xx fails
the engine at once. When retries or the deadline run out, the error names the URL and the last
failure so a dead server is obvious in a job's log; requests of the batch answered before that are
handed back with the error (`BatchFailed`), so the job keeps them. `check_health` sends one
one-token request and gives up after `health_timeout_s`, so a dead or stalled server is found in
seconds, before a job sends it anything.
The API key is read from an environment variable once and only ever sent as a Bearer header; server
error text is truncated and redacted (see `redaction`) and request headers are never printed.
Uses the standard library's urllib, so the engine adds no dependency.
"""

from __future__ import annotations

import json
import os
import random
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any, Literal
from urllib.parse import urlsplit

from llm_jobs.engines.base import BatchFailed, Completion, EngineError, EngineRequest, refused
from llm_jobs.engines.openai_format import completion_from_response
from llm_jobs.engines.redaction import redact

StructuredOutput = Literal["json_schema", "json_object"]


class _Transient(Exception):
    """A failure worth another try."""


class _Refused(Exception):
    """The server called this one request invalid; other requests may still be fine."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


# Statuses that speak of the request, not of the server or the credentials.
_REQUEST_ERRORS = {400, 413, 422}
# Answers to the health check's tiny request that still show a live server at the right URL.
_ALIVE = _REQUEST_ERRORS | {429}


def response_format(schema: dict, structured_output: StructuredOutput) -> dict:
    """How the endpoint is told the output schema.

    "json_schema" is OpenAI's and `vllm serve`'s form; "json_object" with a `schema` member is the
    only one llama-cpp-python's server honours (it answers "json_schema" with a 500 carrying a
    pydantic validation error, so that misconfiguration surfaces after the retries).
    """
    if structured_output == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": "output", "schema": schema, "strict": True}}
    return {"type": "json_object", "schema": schema}


def _server_message(error: urllib.error.HTTPError, secret: str | None) -> str:
    body = error.read().decode("utf-8", errors="replace")
    try:
        detail = json.loads(body)
        if isinstance(detail, dict) and isinstance(detail.get("error"), dict):
            detail = detail["error"].get("message", detail)
        body = json.dumps(detail) if not isinstance(detail, str) else detail
    except ValueError:
        pass
    return f"HTTP {error.code}: {redact(body, [secret])}"


class OpenAIEngine:
    def __init__(
        self,
        base_url: str,
        model: str,
        api_key_env: str | None = "OPENAI_API_KEY",
        concurrency: int = 8,
        timeout_s: float = 60,
        max_retries: int = 4,
        backoff_s: float = 0.5,
        structured_output: StructuredOutput = "json_schema",
        # One request's time over all its attempts and backoffs; a stalled server costs this, not
        # (max_retries + 1) * timeout_s.
        deadline_s: float = 120,
        health_timeout_s: float = 10,
    ) -> None:
        if structured_output not in ("json_schema", "json_object"):
            raise ValueError(f"structured_output must be 'json_schema' or 'json_object', not {structured_output!r}")
        if concurrency < 1 or max_retries < 0:
            raise ValueError("concurrency must be >= 1 and max_retries >= 0")
        if min(timeout_s, deadline_s, health_timeout_s) <= 0:
            raise ValueError("timeout_s, deadline_s and health_timeout_s must be > 0")
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
        host = parts.hostname + (f":{parts.port}" if parts.port else "")  # never the URL's userinfo
        self.url = f"{parts.scheme}://{host}{parts.path.rstrip('/')}/chat/completions"
        self.model = model
        self.model_id = f"openai:{model}@{host}"
        self.supports_logprobs = True
        # A batch's requests go out `concurrency` at a time; several rounds a batch keep the
        # connections busy between commits.
        self.preferred_batch_size = 8 * concurrency
        self._api_key_env = api_key_env
        self._api_key = os.environ.get(api_key_env) if api_key_env else None
        self._timeout_s = timeout_s
        self._deadline_s = deadline_s
        self._health_timeout_s = health_timeout_s
        self._max_retries = max_retries
        self._backoff_s = backoff_s
        self._structured_output = structured_output
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="openai-engine")

    def __repr__(self) -> str:
        return f"OpenAIEngine(url={self.url!r}, model={self.model!r}, api_key_env={self._api_key_env!r})"

    def _body(self, request: EngineRequest) -> dict[str, Any]:
        sampling = request.sampling
        body: dict[str, Any] = {
            "model": self.model,
            "messages": list(request.messages),
            "max_tokens": sampling.max_tokens,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "seed": sampling.seed,
            "response_format": response_format(request.json_schema, self._structured_output),
        }
        if sampling.top_logprobs > 0:
            body.update(logprobs=True, top_logprobs=sampling.top_logprobs)
        return body

    def _post(self, payload: bytes, timeout_s: float) -> dict[str, Any]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        http_request = urllib.request.Request(self.url, data=payload, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(http_request, timeout=timeout_s) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            message = _server_message(exc, self._api_key)
            if exc.code == 429 or exc.code >= 500:
                raise _Transient(message) from exc
            if exc.code in _REQUEST_ERRORS:
                raise _Refused(f"{self.url} refused the request ({exc.code}): {message}", f"http_{exc.code}") from exc
            raise EngineError(f"{self.url} rejected the request: {message}") from exc
        except (urllib.error.URLError, OSError) as exc:  # refused, reset, DNS, timeouts
            raise _Transient(f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}") from exc
        except ValueError as exc:  # a 200 whose body is not JSON
            raise _Transient(f"response is not JSON: {exc}") from exc

    def _one(self, request: EngineRequest) -> Completion:
        payload = json.dumps(self._body(request)).encode("utf-8")
        deadline = time.monotonic() + self._deadline_s
        attempts = 0
        while True:
            attempts += 1
            try:
                timeout_s = max(min(self._timeout_s, deadline - time.monotonic()), 0.01)
                return completion_from_response(self._post(payload, timeout_s))
            except _Refused as exc:
                return refused(str(exc), exc.reason)
            except _Transient as exc:
                last_error = exc
            backoff = self._backoff_s * 2 ** (attempts - 1) * (1 + random.random())
            if attempts > self._max_retries:
                raise EngineError(f"{self.url} failed after {attempts} attempts; last error: {last_error}")
            if time.monotonic() + backoff >= deadline:
                raise EngineError(
                    f"{self.url} gave no answer within the request deadline of {self._deadline_s:g} s "
                    f"({attempts} attempts); last error: {last_error}"
                )
            time.sleep(backoff)

    def check_health(self) -> None:
        payload = json.dumps(
            {"model": self.model, "messages": [{"role": "user", "content": "Say OK."}], "max_tokens": 1}
        ).encode("utf-8")
        try:
            self._post(payload, self._health_timeout_s)
        except _Refused:
            pass  # the server is up and answering; the request shape is the jobs' concern
        except _Transient as exc:
            code = getattr(exc.__cause__, "code", None)
            if code not in _ALIVE:
                raise EngineError(
                    f"engine health check: a one-token request to {self.url} failed ({exc}; timeout "
                    f"{self._health_timeout_s:g} s); is the server up and is base_url right?"
                ) from exc
        except EngineError as exc:
            raise EngineError(f"engine health check: {exc}") from exc

    def generate(self, requests: Sequence[EngineRequest]) -> list[Completion]:
        futures = [self._pool.submit(self._one, request) for request in requests]
        wait(futures, return_when=FIRST_EXCEPTION)
        failed = next((f for f in futures if f.done() and not f.cancelled() and f.exception() is not None), None)
        if failed is None:
            return [future.result() for future in futures]
        for future in futures:  # requests not yet started are not sent
            future.cancel()
        error = failed.exception()
        if not isinstance(error, EngineError):
            raise error
        answered = {
            i: f.result() for i, f in enumerate(futures) if f.done() and not f.cancelled() and not f.exception()
        }
        raise BatchFailed(str(error), answered) from error

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
