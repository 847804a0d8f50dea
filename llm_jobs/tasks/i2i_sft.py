"""Supervised fine-tuning examples for LLM-I2I's generator and discriminator, in the chat format
most SFT trainers read: {"messages": [system, user, assistant], "weight": w, "user_idx": u} (the
user, so a trainer can split examples by user).

The prompts are the production tasks' own renderings, so a model tuned on them is asked the same
way it was taught. The generator's target pick carries a fixed reason: the logs say what was bought
next, not why.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable

import pyarrow as pa

from llm_jobs.task import Task
from llm_jobs.tasks.i2i import discriminator_task, generator_task

TARGET_REASON = "The customer bought it next."


def _record(task: Task, row: dict, answer: dict, weight: float) -> dict:
    messages = list(task.render(row).messages)
    messages.append({"role": "assistant", "content": json.dumps(answer, ensure_ascii=False)})
    return {"messages": messages, "weight": weight, "user_idx": row["user_idx"]}


def _generator_record(task: Task, row: dict) -> dict:
    """Row: user_idx, history, candidates, target_idx, weight (transforms.i2i_synthesis.sft_examples)."""
    answer = {"picks": [{"item": str(row["target_idx"]), "reason": TARGET_REASON}]}
    return _record(task, row, answer, row["weight"])


def _discriminator_record(task: Task, row: dict) -> dict:
    """Row: user_idx, item_idx, answer ("yes" / "no"), history, item."""
    return _record(task, row, {"answer": row["answer"]}, 1.0)


#: Each export's task (the discriminator's is the log-probability prompt: a plain yes / no answer)
#: and its record of one row.
_EXPORTS: dict[str, tuple[Callable[[int], Task], Callable[[Task, dict], dict]]] = {
    "generator": (generator_task, _generator_record),
    "discriminator": (lambda _max_picks: discriminator_task(logprobs=True), _discriminator_record),
}
EXPORTS = tuple(_EXPORTS)


@functools.cache
def _task(export: str, max_picks: int) -> Task:
    return _EXPORTS[export][0](max_picks)


def sft_lines(export: str, rows: pa.RecordBatch | pa.Table, max_picks: int) -> pa.Array:
    """The JSONL lines (without newlines) of `rows` in `export` ("generator" or "discriminator"),
    one per row, in order: run per batch by the workers that write the export."""
    task, record = _task(export, max_picks), _EXPORTS[export][1]
    return pa.array([json.dumps(record(task, row), ensure_ascii=False) for row in rows.to_pylist()], pa.string())
