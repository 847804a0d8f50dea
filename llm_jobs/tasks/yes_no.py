"""P(yes) of a yes/no answer, from token log-probabilities or from a constrained confidence.

With log-probabilities, the answer's first token position is found in the generated text and
the probability mass of the alternatives there that begin "yes" and "no" is renormalised over the
two: P(yes) = p_yes / (p_yes + p_no). Engines report alternatives from the model's distribution
before the grammar masks it, so both answers are normally among the top alternatives; when one is
missing, the chosen token's own probability bounds it (P(yes) = p if it said yes, 1 - p if no).

Without log-probabilities the output carries a confidence 0..10 in its answer, so
P(yes) = confidence / 10 for "yes" and 1 - confidence / 10 for "no".
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from llm_jobs.engines.base import TokenLogprobs

ANSWERS = ("yes", "no")


def _answer_start(text: str, field: str) -> int:
    match = re.search(rf'"{re.escape(field)}"\s*:\s*"', text)
    if match is None:
        raise ValueError(f"no {field!r} string field in {text!r}")
    return match.end()


def _answer_of(piece: str) -> str | None:
    """Which answer a token's text at the answer position starts (or completes), if any."""
    piece = piece.strip().lower()
    if not piece:
        return None
    for answer in ANSWERS:
        if answer.startswith(piece) or piece.startswith(answer):
            return answer
    return None


def p_yes_from_logprobs(text: str, logprobs: Sequence[TokenLogprobs], field: str = "answer") -> float:
    """P(yes) for the string `field` of a JSON output whose tokens and alternatives are `logprobs`."""
    start = _answer_start(text, field)
    offset = 0
    for position in logprobs:
        end = offset + len(position.token)
        if offset <= start < end:
            cut = start - offset
            mass = dict.fromkeys(ANSWERS, 0.0)
            for alternative, logprob in position.top.items():
                answer = _answer_of(alternative[cut:])
                if answer is not None:
                    mass[answer] += math.exp(logprob)
            chosen = _answer_of(position.token[cut:])
            if mass["yes"] > 0 and mass["no"] > 0:
                return mass["yes"] / (mass["yes"] + mass["no"])
            p_chosen = math.exp(position.logprob)
            return p_chosen if chosen == "yes" else 1.0 - p_chosen
        offset = end
    raise ValueError(f"the tokens do not cover the {field!r} value of {text!r}")


def p_yes_from_confidence(answer: str, confidence: int) -> float:
    return confidence / 10 if answer == "yes" else 1.0 - confidence / 10
