"""Names and limits of what the LLM tasks write, shared by the tasks and the contracts that check them.

The tasks (`llm_jobs.tasks`) render prompts and parse answers under these names and limits; the
contracts and checks (`schemas.contracts`, `validation`) read the same constants, so they live
here, below both.
"""

# Task names: each task's raw outputs live under `llm/<task name>/`.
GENERATOR = "i2i_generator"
DISCRIMINATOR = "i2i_discriminator"
# Agent nouns, like the other tasks: the assets `llm/reform_user_profiles` and
# `llm/reform_item_profiles` hold the profiles with their embeddings.
REFORM_TASKS: dict[str, str] = {"user": "reform_user_profiler", "item": "reform_item_profiler"}
ANALYST = "reaseq_item_analyst"
VERIFIER = "reaseq_item_verifier"
SUMMARIZER = "reaseq_item_summarizer"
USER_INTERESTS = "reaseq_interest_generator"
SCORER = "slmr_scorer"
#: The same scorer asked about users' valid items among random ones, to measure it (its AUC).
SCORER_PROBE = "slmr_scorer_probe"

# ReFORM: phrases per factor and characters per phrase, enforced by the JSON schema during decoding.
REFORM_MAX_PHRASES = 5
REFORM_PHRASE_CHARS = 32

#: ReaSeq knowledge list fields, in order -> how one claim of the field reads to the verifier.
KNOWLEDGE_FIELDS: dict[str, str] = {
    "category_path": "category",
    "key_attributes": "key attribute",
    "use_cases": "use case",
    "target_audience": "target audience",
    "complementary_categories": "goes well with",
    "substitute_categories": "alternative to",
}

#: The row key of an S-LLMR prompt: one user and one candidate set.
SLMR_PROMPT = ["user_idx", "candidate_set"]

# An instruction aimed at a model (RE2 syntax, which Arrow's regex kernels use; Python's re reads it
# too): prompts leave such sentences of untrusted text out, and an LLM output that holds one echoes
# injected input (validation.junk_text).
_NEAR = r"[^.!?\n]{0,40}"  # the rest of the instruction, within one sentence
INSTRUCTION = (
    rf"(?i)\b(?:ignore|disregard|forget|override)\b{_NEAR}\b(?:instructions?|prompts?|rules|directions|guidelines)\b"
    rf"|\b(?:put|write|insert|add|fill|repeat|output|print|include)\b{_NEAR}"
    r"\b(?:in|into|to)\s+(?:every|each|all)\s+(?:fields?|columns?|answers?|outputs?|keys?)\b"
    r"|\b(?:system|developer)\s+(?:prompt|message)\b|\byou\s+are\s+now\b|\bnew\s+instructions?\s*:"
)
