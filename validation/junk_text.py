"""Detectors of junk in LLM-written text, vectorized over an Arrow string array (one verdict per
text, False for a null): a template placeholder the model copied instead of filling in, and text
that loops. The thresholds and token rules are ours (the papers give none).

- A placeholder is a template token: an ALL-CAPS word or words of at least 4 characters in square
  or angle brackets (`[TITLE]`, `[PRODUCT NAME]`, `<BRAND_NAME>`), an identifier, number or nothing
  in braces (`{brand}`, `{{title}}`, `{0}`, `{}`), or a blank of 3+ underscores (`___`). Lower-case
  and title-case brackets (`[digital edition]`, `[Print + Kindle]`) and short format tags (`[DVD]`,
  `[CD]`, `<BR>`) are ordinary text.
- A repetition is a word or a phrase of up to MAX_NGRAM words said MIN_REPEATS times in a row
  ("Baked Baked Baked", "great gift great gift great gift"), or a text of at least
  MIN_TOKENS_FOR_RATIO words of which fewer than MIN_DISTINCT_RATIO are distinct. Words are split at
  whitespace, lower-cased and stripped of surrounding punctuation, so "Baked, baked; BAKED!" loops.
- An instruction echo is text that carries an instruction aimed at a model (INSTRUCTION: "ignore
  previous instructions", "put X in every field", "system prompt", "you are now"), which an output
  only holds when it copied one from injected input, or text that shares a run of ECHO_SPAN_WORDS
  words (split as above) with its entity's input text: a copy, not a summary.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from schemas.llm_outputs import INSTRUCTION

# RE2 syntax (what Arrow's regex kernels use).
PLACEHOLDER = r"\[[A-Z][A-Z0-9_ ]{2,}[A-Z0-9_]\]|<[A-Z][A-Z0-9_ ]{2,}[A-Z0-9_]>|\{\{?\s*\w*\s*\}\}?|_{3,}"
MIN_REPEATS = 3
MAX_NGRAM = 3
MIN_TOKENS_FOR_RATIO = 10
MIN_DISTINCT_RATIO = 0.3
PUNCTUATION = ".,;:!?\"'`()[]{}<>*&/\\|~+=-_–—…“”‘’«»"
ECHO_SPAN_WORDS = 8


def has_placeholder(texts: pa.Array) -> np.ndarray:
    """Whether each text holds a template placeholder."""
    return pc.fill_null(pc.match_substring_regex(texts, PLACEHOLDER), False).to_numpy(zero_copy_only=False)


def has_instruction(texts: pa.Array) -> np.ndarray:
    """Whether each text holds an instruction aimed at a model."""
    return pc.fill_null(pc.match_substring_regex(texts, INSTRUCTION), False).to_numpy(zero_copy_only=False)


def copies_input(texts: pa.Array, inputs: Sequence[pa.Array]) -> np.ndarray:
    """Whether each text shares ECHO_SPAN_WORDS consecutive words with one of its inputs (each of
    `inputs` holds one input text per text, null for none)."""
    sources = [source.to_pylist() for source in inputs]
    flagged = np.zeros(len(texts), bool)
    for row, text in enumerate(texts.to_pylist()):
        spans = _spans(text) if text else set()
        flagged[row] = bool(spans) and any(s[row] and not spans.isdisjoint(_spans(s[row])) for s in sources)
    return flagged


def _spans(text: str) -> set[tuple[str, ...]]:
    words = [w for w in (word.strip(PUNCTUATION) for word in text.lower().split()) if w]
    return {tuple(words[i : i + ECHO_SPAN_WORDS]) for i in range(len(words) - ECHO_SPAN_WORDS + 1)}


def is_repetitive(texts: pa.Array) -> np.ndarray:
    """Whether each text repeats a word or short phrase in a row, or has too few distinct words."""
    words, text_of = _words(texts)
    return _repeats_in_a_row(words, text_of, len(texts)) | _few_distinct(words, text_of, len(texts))


def _words(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Every text's words in order as integer codes (equal words, equal codes), and the index of the
    text each word belongs to (non-decreasing)."""
    split = pc.utf8_split_whitespace(pc.utf8_lower(texts))  # several times faster than splitting on a regex
    words, text_of = pc.utf8_trim(pc.list_flatten(split), PUNCTUATION), pc.list_parent_indices(split)
    present = pc.greater(pc.utf8_length(words), 0)  # a word of punctuation only
    codes = pc.dictionary_encode(words.filter(present)).indices
    return codes.to_numpy(zero_copy_only=False), text_of.filter(present).to_numpy()


def _repeats_in_a_row(words: np.ndarray, text_of: np.ndarray, n_texts: int) -> np.ndarray:
    """An n-gram said r times in a row starting at word k means word k + j equals word k + j + n for
    every j below (r - 1) * n, all in one text: a run of that many "equals the word n later"."""
    flagged = np.zeros(n_texts, bool)
    for n in range(1, MAX_NGRAM + 1):
        run = (MIN_REPEATS - 1) * n
        if words.size < n + run:
            break
        same = (words[:-n] == words[n:]) & (text_of[:-n] == text_of[n:])
        in_run = np.concatenate([[0], np.cumsum(same)])
        starts = np.flatnonzero(in_run[run:] - in_run[:-run] == run)
        flagged[text_of[starts]] = True
    return flagged


def _few_distinct(words: np.ndarray, text_of: np.ndarray, n_texts: int) -> np.ndarray:
    """Texts long enough to judge whose share of distinct words is below MIN_DISTINCT_RATIO."""
    total = np.bincount(text_of, minlength=n_texts)
    vocabulary = int(words.max()) + 1 if words.size else 1
    pairs = np.sort(text_of.astype(np.int64) * vocabulary + words)
    first = np.diff(pairs, prepend=-1) != 0  # sort and diff: np.unique is many times slower here
    distinct = np.bincount(pairs[first] // vocabulary, minlength=n_texts)
    return (total >= MIN_TOKENS_FOR_RATIO) & (distinct < MIN_DISTINCT_RATIO * total)
