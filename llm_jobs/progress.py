"""One progress bar per job run and worker process: the first round's rows, answered by the engine
or by the cache, with the engine's output tokens per second."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from tqdm import tqdm


@dataclass
class _Bar:
    bar: tqdm
    started: float = field(default_factory=time.perf_counter)
    completion_tokens: int = 0


_bars: dict[str, _Bar] = {}
_lock = threading.Lock()


def advance(run_id: str, task_name: str, total: int, rows: int, completion_tokens: int = 0) -> None:
    """`rows` more of the run's `total` first-round rows are answered."""
    with _lock:
        held = _bars.get(run_id)
        if held is None:
            held = _bars[run_id] = _Bar(tqdm(total=total, unit="req", desc=f"llm {task_name}"))
        held.completion_tokens += completion_tokens
        elapsed = max(time.perf_counter() - held.started, 1e-9)
        held.bar.set_postfix(tok_s=f"{held.completion_tokens / elapsed:.1f}", refresh=False)
        held.bar.update(rows)
        if held.bar.n >= total:
            held.bar.close()
            del _bars[run_id]
