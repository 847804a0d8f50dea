"""A real llama-cpp-python OpenAI-compatible server on 127.0.0.1, for engine tests.

It is `python -m llama_cpp.server` run in a subprocess, with one change made before it loads the
model: weight repacking is off (see `llm_jobs.engines.llamacpp_repack`), because the server offers
no flag for it and repacked weights crash on VMs that advertise AMX without allowing it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

_LAUNCH = (
    "import runpy\n"
    "from llm_jobs.engines.llamacpp_repack import without_weight_repacking\n"
    "with without_weight_repacking():\n"
    "    runpy.run_module('llama_cpp.server', run_name='__main__', alter_sys=True)\n"
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LlamaServer:
    """Starts on construction, answers `/v1/models` before returning; `stop()` is idempotent."""

    def __init__(self, model_path: str, n_ctx: int = 2048, startup_timeout_s: float = 60) -> None:
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}/v1"
        self._log = tempfile.NamedTemporaryFile(prefix="llama-server-", suffix=".log", delete=False)
        command = [sys.executable, "-c", _LAUNCH, "--model", model_path, "--host", "127.0.0.1",
                   "--port", str(port), "--n_ctx", str(n_ctx)]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
        self._process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=REPO)
        try:
            self._wait_ready(startup_timeout_s)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"llama.cpp server exited with {self._process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"llama.cpp server not ready after {timeout_s:.0f}s:\n{self.log_tail()}")

    def log_tail(self, chars: int = 3000) -> str:
        return Path(self._log.name).read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._log.close()
        Path(self._log.name).unlink(missing_ok=True)

    def __enter__(self) -> LlamaServer:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()
