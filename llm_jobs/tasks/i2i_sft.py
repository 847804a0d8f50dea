"""Supervised fine-tuning examples for LLM-I2I's generator and discriminator, in the chat format
most SFT trainers read: {"messages": [system, user, assistant], "weight": w, "user_idx": u} (the
user, so a trainer can split examples by user).

The prompts are the production tasks' own renderings, so a model tuned on them is asked the same
way it was taught. The generator's target pick carries a fixed reason: the logs say what was bought
next, not why.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pyarrow as pa

from llm_jobs.task import Task
from llm_jobs.tasks.i2i import discriminator_task, generator_task

TARGET_REASON = "The customer bought it next."


def _record(task: Task, row: dict, answer: dict, weight: float) -> dict:
    messages = list(task.render(row).messages)
    messages.append({"role": "assistant", "content": json.dumps(answer, ensure_ascii=False)})
    return {"messages": messages, "weight": weight, "user_idx": row["user_idx"]}


def generator_sft_records(rows: pa.Table, task: Task) -> Iterator[dict]:
    """Rows: user_idx, history, candidates, target_idx, weight (transforms.i2i_synthesis.sft_examples)."""
    for row in rows.to_pylist():
        answer = {"picks": [{"item": str(row["target_idx"]), "reason": TARGET_REASON}]}
        yield _record(task, row, answer, row["weight"])


def discriminator_sft_records(rows: pa.Table, task: Task) -> Iterator[dict]:
    """Rows: user_idx, item_idx, answer ("yes" / "no"), history, item."""
    for row in rows.to_pylist():
        yield _record(task, row, {"answer": row["answer"]}, 1.0)


def sft_exports(generator_rows: pa.Table, discriminator_rows: pa.Table, max_picks: int) -> dict[str, list[str]]:
    """The JSONL lines of each export ("generator", "discriminator"); the discriminator's records use
    the log-probability prompt (a plain yes / no answer)."""
    records = {
        "generator": generator_sft_records(generator_rows, generator_task(max_picks)),
        "discriminator": discriminator_sft_records(discriminator_rows, discriminator_task(logprobs=True)),
    }
    return {name: [json.dumps(record, ensure_ascii=False) for record in rows] for name, rows in records.items()}
