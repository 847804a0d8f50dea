"""Factor profiles -> per-entity factor embeddings in Arrow: an (F x D) float32 array and F mask bits.

Layout: `factor_embeddings` is `fixed_size_list<fixed_size_list<float32, D>, F>`. Fixed-size lists
carry no offsets, so a column is one contiguous buffer of n*F*D floats: `as_numpy` returns an
(n, F, D) view of it without copying, and `torch.from_numpy` shares that memory. The nested type
is chosen over a flat `fixed_size_list<float32, F*D>` (same buffer) because it keeps F and D in
the schema itself, so no reader needs side metadata to reshape; Parquet stores it as a list of
lists and pyarrow restores the fixed sizes on read.

`factor_mask` is `fixed_size_list<bool, F>`: True where the factor has text. A factor without text
is never encoded: its vector is all zeros and its mask bit False. Rows are never null. (Arrow packs
booleans into bits, so reading the mask copies F bytes per row; the embeddings are not copied.)
The embeddings field's metadata names the factors in order and the encoder.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from llm_jobs.text_encoder import TextEncoder
from schemas.tables import factor_embeddings_type, factor_mask_type

__all__ = ["as_numpy", "encode_factor_profiles", "factor_embeddings_type", "factor_mask_type", "factor_text"]


def factor_text(phrases: Sequence[str]) -> str:
    """What is embedded for one factor: its phrases in order, comma-separated ("" for none)."""
    return ", ".join(phrases)


def encode_factor_profiles(profiles: pa.Table, factor_names: Sequence[str], encoder: TextEncoder) -> pa.Table:
    """`entity_idx`, `factor_embeddings` and `factor_mask` for each row of a profile table (its
    `entity_idx` and one `list<string>` column per factor, as `reform.read_profiles` gives)."""
    n, n_factors, dimension = profiles.num_rows, len(factor_names), encoder.dimension
    texts = [[factor_text(phrases) for phrases in profiles.column(name).to_pylist()] for name in factor_names]
    row_major = [texts[f][row] for row in range(n) for f in range(n_factors)]
    vectors = encoder.encode(row_major)  # (n * F, D)
    has_text = np.array([bool(text.strip()) for text in row_major], dtype=bool)
    embeddings = pa.FixedSizeListArray.from_arrays(
        pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1), pa.float32()), dimension), n_factors
    )
    mask = pa.FixedSizeListArray.from_arrays(pa.array(has_text, pa.bool_()), n_factors)
    metadata = {"factors": ",".join(factor_names), "encoder": encoder.model_id}
    schema = pa.schema(
        [
            pa.field("entity_idx", pa.int32(), nullable=False),
            pa.field("factor_embeddings", embeddings.type, nullable=False, metadata=metadata),
            pa.field("factor_mask", mask.type, nullable=False),
        ]
    )
    return pa.Table.from_arrays([profiles.column("entity_idx").cast(pa.int32()), embeddings, mask], schema=schema)


def as_numpy(embeddings: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """An (n, F, D) float32 view of a `factor_embeddings` column: read-only, and zero-copy for one
    chunk (a column read from Parquet may have several, which are concatenated)."""
    if isinstance(embeddings, pa.ChunkedArray):
        embeddings = embeddings.chunk(0) if embeddings.num_chunks == 1 else embeddings.combine_chunks()
    if embeddings.null_count:
        raise ValueError("factor embeddings hold null rows; this layout has a zero vector and a mask bit instead")
    n_factors, dimension = embeddings.type.list_size, embeddings.type.value_type.list_size
    # flatten() honours a sliced array's offset, unlike .values.
    floats = embeddings.flatten().flatten().to_numpy(zero_copy_only=True)
    return floats.reshape(len(embeddings), n_factors, dimension)
