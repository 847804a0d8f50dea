"""Reading published training sets the way a GPU trainer does: pyarrow in, numpy or torch out.

    sets = PublishedSets("./warehouse")
    train = sets.interactions("interactions_train")            # evaluation.data.Interactions
    items = sets.table("item_features", ["item_idx", "knowledge_embedding"])
    knowledge = embedding_tensor(items, "knowledge_embedding")  # (n_items, D) float32, no copy

Only the live snapshot is read: `published/SNAPSHOT` names a snapshot file, which names one
version per set, all from one run of one partition day, read once when the loader is made.
Nothing here imports the pipeline: a trainer can copy this file next to its own code.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import torch

from evaluation.data import Interactions
from schemas.registry import Published


class PublishedSets:
    """The published sets of a warehouse (a local directory or a pyarrow filesystem URL) as the
    live snapshot names them, or as the snapshot `snapshot_id` does."""

    def __init__(self, base_url: str, snapshot_id: str | None = None) -> None:
        if "://" in base_url:
            self.fs, root = pafs.FileSystem.from_uri(base_url)
        else:
            self.fs, root = pafs.LocalFileSystem(), base_url
        self.root = root.rstrip("/")
        pointer = f"{self.root}/published/SNAPSHOT"
        try:
            snapshot_id = snapshot_id or self._read(pointer).strip()
        except FileNotFoundError as exc:
            raise FileNotFoundError(f"nothing is published in {base_url} (no {pointer})") from exc
        snapshot = json.loads(self._read(f"{self.root}/published/_snapshots/{snapshot_id}.json"))
        #: The snapshot read: its id, partition day and {set: version}.
        self.snapshot_id, self.partition, self.versions = snapshot_id, snapshot["partition"], snapshot["sets"]

    def _read(self, path: str) -> str:
        with self.fs.open_input_stream(path) as f:
            return f.read().decode()

    def version(self, name: str) -> str:
        """The live version of set `name`; KeyError naming the set when the snapshot has none."""
        if name not in self.versions:
            raise KeyError(f"the live snapshot {self.snapshot_id} has no set {name!r}; it has {sorted(self.versions)}")
        return self.versions[name]

    def table(self, name: str, columns: list[str] | None = None) -> pa.Table:
        """The live version of set `name` as one Arrow table (only `columns`, when given)."""
        path = f"{self.root}/published/{name}/{self.version(name)}"
        return pq.read_table(path, columns=columns, filesystem=self.fs)

    def interactions(self, name: str, weight_column: str | None = None) -> Interactions:
        """An interactions set (user_idx, item_idx[, weight_column]) as `Interactions`; a null
        weight counts as 1."""
        columns = ["user_idx", "item_idx", *([weight_column] if weight_column else [])]
        table = self.table(name, columns)
        weights = pc.fill_null(table[weight_column], 1.0).to_numpy() if weight_column else None
        return Interactions(table["user_idx"].to_numpy(), table["item_idx"].to_numpy(), weights)

    def sizes(self) -> tuple[int, int]:
        """(n_users, n_items) of the live id_maps: the sizes of embedding tables."""
        kinds = self.table(Published.ID_MAPS.key, ["kind"])["kind"]
        return int(pc.sum(pc.equal(kinds, "user")).as_py() or 0), int(pc.sum(pc.equal(kinds, "item")).as_py() or 0)


def embedding_tensor(table: pa.Table, column: str) -> torch.Tensor:
    """A `fixed_size_list<float32>` column, possibly nested ((F x D) factor embeddings), as a float32
    tensor of shape (rows, ..., D), sharing the Arrow buffer when the column has no nulls."""
    array = table[column].combine_chunks()
    shape = [len(array)]
    while pa.types.is_fixed_size_list(array.type):
        shape.append(array.type.list_size)
        array = array.flatten()
    values = array.to_numpy(zero_copy_only=array.null_count == 0)
    if values.dtype != np.float32:
        raise TypeError(f"column {column!r} holds {values.dtype}, not float32")
    return torch.from_numpy(values).reshape(shape)


def mask_array(table: pa.Table, column: str) -> np.ndarray:
    """A `fixed_size_list<bool>` mask column as a (rows, F) bool array."""
    array = table[column].combine_chunks()
    return array.flatten().to_numpy(zero_copy_only=False).reshape(len(array), array.type.list_size)
