"""A FAKE OpenAI-compatible endpoint on 127.0.0.1 for faults a real server cannot be made to show.

`FaultyFakeServer` forwards every POST to a real upstream server (the llama.cpp server of
`llm_server`) until a test switches it to one fault:

- "refuse": answer `refuse_status` with a body that echoes the request's headers, as a
  misconfigured proxy does (the Authorization header included);
- "stall": accept the request and never answer;
- "forward": the real server's answer; with `stall_after=n`, only the first n requests get one.

Everything it received is in `received` as (headers, parsed body).
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal, Self

Mode = Literal["forward", "refuse", "stall"]


class FaultyFakeServer:
    def __init__(self, upstream: str | None = None, mode: Mode = "forward") -> None:
        self.upstream = upstream
        self.mode: Mode = mode
        self.refuse_status = 413
        self.stall_after: int | None = None
        self.received: list[tuple[dict[str, str], dict]] = []
        self._lock = threading.Lock()
        self._release = threading.Event()  # lets stalled handlers end when the server stops
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _answer(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, bytes] | None:
        """(status, body) for one request, or None to stall."""
        with self._lock:
            self.received.append((headers, json.loads(raw)))
            count = len(self.received)
        if self.mode == "stall" or (self.stall_after is not None and count > self.stall_after):
            return None
        if self.mode == "refuse":
            echo = {"error": {"message": f"request too large; your request's headers: {json.dumps(headers)}"}}
            return self.refuse_status, json.dumps(echo).encode()
        assert self.upstream is not None, "forward mode needs an upstream server"
        forwarded = urllib.request.Request(
            self.upstream.removesuffix("/v1") + path, data=raw, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(forwarded, timeout=120) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                answer = fake._answer(self.path, dict(self.headers), raw)
                if answer is None:
                    fake._release.wait()
                    return
                status, payload = answer
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args) -> None:
                pass

        return Handler

    def stop(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()
