"""Every table recaug writes, once: its key, Arrow schema, expectation suite and contract.

A warehouse table's key is "<layer>/<name>" ("features/item_features"), the path of its
partitions under the warehouse and of its Dagster asset; a published set's key is its bare name
("item_features"). Code names a table by its `TableSpec` (`Features.ITEM_FEATURES`), never by the
key's text, so a table's name lives here only. The specs are grouped by layer: `Raw`, `Features`,
`Llm`, `Evaluation` and `Published`.

The tables carrying ReFORM profiles or ReaSeq embeddings have a schema factory instead of a
schema: their columns depend on the factor names and the text encoder's dimension, known per run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import great_expectations as gx
import pyarrow as pa

from schemas import expectations as suites
from schemas import tables
from schemas.contracts import (
    EMPTY_FACTOR_RATE,
    JUNK_TEXT,
    NOT_EMPTY,
    TIED_PROMPT_RATE,
    UNSUPPORTED_CLAIM_RATE,
    Contract,
)
from schemas.expectations import SuiteBuilder
from schemas.llm_outputs import (
    ANALYST,
    DISCRIMINATOR,
    GENERATOR,
    REFORM_TASKS,
    SCORER,
    SCORER_PROBE,
    SUMMARIZER,
    USER_INTERESTS,
    VERIFIER,
)

#: (factor names, text encoder dimension) -> the schema of a configured table.
SchemaFactory = Callable[[Sequence[str], int], pa.Schema]


@dataclass(frozen=True, eq=False)
class TableSpec:
    """One table: exactly one of `schema` (fixed) and `schema_factory` (configured) is set. There is
    one object per table, so specs compare and hash by identity (they key dicts of inputs)."""

    key: str
    expectations: SuiteBuilder
    contract: Contract
    schema: pa.Schema | None = None
    schema_factory: SchemaFactory | None = None

    def __post_init__(self) -> None:
        if (self.schema is None) == (self.schema_factory is None):
            raise ValueError(f"{self.key}: give exactly one of a schema and a schema factory")

    @property
    def layer(self) -> str:
        """"raw", "features", "llm" or "evaluation"; "" for a published set."""
        return self.key.rpartition("/")[0]

    @property
    def name(self) -> str:
        return self.key.rpartition("/")[2]

    @property
    def is_configured(self) -> bool:
        """Whether the schema depends on the factor names and the text encoder's dimension."""
        return self.schema_factory is not None

    def resolve_schema(self, factor_names: Sequence[str] | None = None, dimension: int | None = None) -> pa.Schema:
        """The schema; a configured table needs the factor names and the text encoder's dimension."""
        if self.schema is not None:
            return self.schema
        if not factor_names or not dimension:
            raise ValueError(f"{self.key}'s schema depends on the factor names and the text encoder's dimension")
        return self.schema_factory(factor_names, dimension)

    def build_suite(self, columns: Sequence[str]) -> gx.ExpectationSuite:
        """A fresh suite (fresh, because GX binds a suite to one context); `columns` are the names of
        the schema as resolved for the run, in order."""
        return gx.ExpectationSuite(name=f"recaug.{self.key.replace('/', '.')}", expectations=self.expectations(columns))


# --- contracts shared by several tables ------------------------------------------------------

_RAW_LINE = Contract(("source_file", "source_line"))
_INTERACTION = ("user_idx", "item_idx")
_INTERACTION_IDS = {"user_idx": "user", "item_idx": "item"}
_INTERACTIONS = Contract(_INTERACTION, _INTERACTION_IDS)
_USER = Contract(("user_idx",), {"user_idx": "user"})
_ITEM = Contract(("item_idx",), {"item_idx": "item"})
_AUGMENTED_USER = Contract(_USER.keys, _USER.ids, rates=JUNK_TEXT)  # ReFORM phrases
_AUGMENTED_ITEM = Contract(_ITEM.keys, _ITEM.ids, rates=JUNK_TEXT)  # ReaSeq knowledge, ReFORM phrases
_SEQUENCES = Contract(("user_idx",), {"user_idx": "user", "item_idx": "item"})
_AUGMENTED_SEQUENCES = Contract(("user_idx",), {**_SEQUENCES.ids, "beyond_log_item_idx": "item"})
_I2I_PAIRS = Contract(("method", "item_idx", "neighbor_idx"), {"item_idx": "item", "neighbor_idx": "item"})
_ID_MAPS = Contract(("kind", "raw_id"))
_PAIRWISE = Contract(
    ("user_idx", "candidate_set", "item_i", "item_j"),
    {"user_idx": "user", "item_i": "item", "item_j": "item"},
    rates=(NOT_EMPTY,),
)
_REPORT = Contract(("augmentation", "model", "segment", "metric"))


class Raw:
    """What the readers write: the source logs in canonical form, and what they could not use."""

    INTERACTIONS = TableSpec("raw/interactions", suites.raw_events, _RAW_LINE, tables.RAW_INTERACTIONS)
    REVIEWS = TableSpec("raw/reviews", suites.raw_events, _RAW_LINE, tables.RAW_REVIEWS)
    ITEMS = TableSpec("raw/items", suites.raw_items, _RAW_LINE, tables.RAW_ITEMS)
    QUARANTINE = TableSpec("raw/quarantine", suites.raw_quarantine, _RAW_LINE, tables.RAW_QUARANTINE)


class Features:
    """What the Spark feature jobs write."""

    CLEAN_INTERACTIONS = TableSpec(
        "features/clean_interactions",
        suites.clean_interactions,
        Contract(("user_id", "item_id")),
        tables.CLEAN_INTERACTIONS,
    )
    ID_MAPS = TableSpec("features/id_maps", suites.id_maps, _ID_MAPS, tables.ID_MAPS)
    SPLITS = TableSpec("features/splits", suites.splits, _INTERACTIONS, tables.SPLITS)
    USER_FEATURES = TableSpec("features/user_features", suites.user_features, _USER, tables.USER_FEATURES)
    ITEM_FEATURES = TableSpec("features/item_features", suites.item_features, _ITEM, tables.ITEM_FEATURES)
    USER_SEQUENCES = TableSpec("features/user_sequences", suites.user_sequences, _SEQUENCES, tables.USER_SEQUENCES)
    I2I_PAIRS = TableSpec("features/i2i_pairs", suites.i2i_pairs, _I2I_PAIRS, tables.I2I_PAIRS)
    REVIEW_BUNDLES = TableSpec(
        "features/review_bundles",
        suites.review_bundles,
        Contract(("entity_kind", "entity_idx")),
        tables.REVIEW_BUNDLES,
    )


def _reform_profiles(kind: str) -> TableSpec:
    """ReFORM's profiles of users or items, keyed by the entity's index."""
    key = f"{kind}_idx"
    return TableSpec(
        f"llm/reform_{kind}_profiles",
        suites.reform_profiles,
        Contract((key,), {key: kind}, llm_tasks=(REFORM_TASKS[kind],), rates=(EMPTY_FACTOR_RATE, *JUNK_TEXT)),
        schema_factory=lambda names, dim: tables.reform_profiles_schema(key, names, dim),
    )


class Llm:
    """What the LLM augmentations write, and the feature tables they augment."""

    I2I_SYNTHETIC = TableSpec(
        "llm/i2i_synthetic",
        suites.i2i_synthetic,
        Contract(_INTERACTION, _INTERACTION_IDS, llm_tasks=(GENERATOR,), rates=JUNK_TEXT),
        tables.I2I_SYNTHETIC,
    )
    I2I_JUDGEMENTS = TableSpec(
        "llm/i2i_judgements",
        suites.i2i_judgements,
        Contract((*_INTERACTION, "source"), _INTERACTION_IDS, llm_tasks=(DISCRIMINATOR,)),
        tables.I2I_JUDGEMENTS,
    )
    I2I_TRAIN_INTERACTIONS = TableSpec(
        "llm/i2i_train_interactions", suites.i2i_train_interactions, _INTERACTIONS, tables.I2I_TRAIN_INTERACTIONS
    )
    I2I_PAIRS = TableSpec("llm/i2i_pairs", suites.i2i_pairs, _I2I_PAIRS, tables.I2I_PAIRS)
    SLMR_CANDIDATES = TableSpec(
        "llm/slmr_candidates",
        suites.slmr_candidates,
        Contract(("user_idx", "candidate_set"), {"user_idx": "user"}),
        tables.SLMR_CANDIDATES,
    )
    SLMR_SCORES = TableSpec(
        "llm/slmr_scores",
        suites.slmr_scores,
        Contract(
            ("user_idx", "candidate_set", "item_idx"), _INTERACTION_IDS, llm_tasks=(SCORER,), rates=(TIED_PROMPT_RATE,)
        ),
        tables.SLMR_SCORES,
    )
    LLM_PAIRWISE_SUPERVISION = TableSpec(
        "llm/llm_pairwise_supervision", suites.llm_pairwise_supervision, _PAIRWISE, tables.LLM_PAIRWISE_SUPERVISION
    )
    REFORM_USER_PROFILES = _reform_profiles("user")
    REFORM_ITEM_PROFILES = _reform_profiles("item")
    REASEQ_ITEM_KNOWLEDGE = TableSpec(
        "llm/reaseq_item_knowledge",
        suites.item_knowledge,
        Contract(
            ("item_idx",),
            {"item_idx": "item"},
            llm_tasks=(ANALYST, VERIFIER, SUMMARIZER),
            rates=(UNSUPPORTED_CLAIM_RATE, *JUNK_TEXT),
        ),
        schema_factory=lambda names, dim: tables.item_knowledge_schema(dim),
    )
    REASEQ_USER_INTERESTS = TableSpec(
        "llm/reaseq_user_interests",
        suites.user_interests,
        Contract(
            ("user_idx",), {"user_idx": "user", "beyond_log_item_idx": "item"}, llm_tasks=(USER_INTERESTS,), rates=JUNK_TEXT
        ),
        tables.REASEQ_USER_INTERESTS,
    )
    USER_FEATURES_AUGMENTED = TableSpec(
        "llm/user_features_augmented",
        suites.user_features,
        _AUGMENTED_USER,
        schema_factory=tables.augmented_user_features,
    )
    ITEM_FEATURES_AUGMENTED = TableSpec(
        "llm/item_features_augmented",
        suites.item_features,
        _AUGMENTED_ITEM,
        schema_factory=tables.augmented_item_features,
    )
    USER_SEQUENCES_AUGMENTED = TableSpec(
        "llm/user_sequences_augmented", suites.user_sequences, _AUGMENTED_SEQUENCES, tables.AUGMENTED_USER_SEQUENCES
    )


class Evaluation:
    """What the evaluation of each augmentation writes."""

    SCORER_PROBE = TableSpec(
        "evaluation/scorer_probe",
        suites.scorer_probe,
        Contract(_INTERACTION, _INTERACTION_IDS, llm_tasks=(SCORER_PROBE,)),
        tables.SCORER_PROBE,
    )
    REPORT = TableSpec("evaluation/report", suites.evaluation_report, _REPORT, tables.EVALUATION_REPORT)


class Published:
    """The training sets consumers read, published from the warehouse tables under these names."""

    INTERACTIONS_TRAIN = TableSpec("interactions_train", suites.interactions, _INTERACTIONS, tables.INTERACTIONS_SPLIT)
    INTERACTIONS_VALID = TableSpec("interactions_valid", suites.interactions, _INTERACTIONS, tables.INTERACTIONS_SPLIT)
    INTERACTIONS_TEST = TableSpec("interactions_test", suites.interactions, _INTERACTIONS, tables.INTERACTIONS_SPLIT)
    USER_SEQUENCES = TableSpec(
        "user_sequences", suites.user_sequences, _AUGMENTED_SEQUENCES, tables.AUGMENTED_USER_SEQUENCES
    )
    USER_FEATURES = TableSpec(
        "user_features", suites.user_features, _AUGMENTED_USER, schema_factory=tables.augmented_user_features
    )
    ITEM_FEATURES = TableSpec(
        "item_features", suites.item_features, _AUGMENTED_ITEM, schema_factory=tables.augmented_item_features
    )
    I2I_PAIRS = TableSpec("i2i_pairs", suites.i2i_pairs, _I2I_PAIRS, tables.I2I_PAIRS)
    I2I_TRAIN_INTERACTIONS = TableSpec(
        "i2i_train_interactions", suites.i2i_train_interactions, _INTERACTIONS, tables.I2I_TRAIN_INTERACTIONS
    )
    LLM_PAIRWISE_SUPERVISION = TableSpec(
        "llm_pairwise_supervision", suites.llm_pairwise_supervision, _PAIRWISE, tables.LLM_PAIRWISE_SUPERVISION
    )
    ID_MAPS = TableSpec("id_maps", suites.id_maps, _ID_MAPS, tables.ID_MAPS)
    EVALUATION_REPORT = TableSpec("evaluation_report", suites.evaluation_report, _REPORT, tables.EVALUATION_REPORT)


def specs_of(layer: type) -> tuple[TableSpec, ...]:
    """The specs of one layer class (`Raw`, `Features` ...), in declaration order."""
    return tuple(value for value in vars(layer).values() if isinstance(value, TableSpec))


#: Every table, warehouse tables by layer, then the published sets.
TABLES: tuple[TableSpec, ...] = tuple(spec for layer in (Raw, Features, Llm, Evaluation, Published) for spec in specs_of(layer))
#: Every warehouse table (those with a layer and a Dagster asset).
WAREHOUSE_TABLES: tuple[TableSpec, ...] = tuple(spec for spec in TABLES if spec.layer)
_BY_KEY = {spec.key: spec for spec in TABLES}


def _fixed_schemas(layer: type) -> dict[str, pa.Schema]:
    return {spec.name: spec.schema for spec in specs_of(layer) if not spec.is_configured}


#: Fixed schemas by table name within a layer ("interactions" -> RAW_INTERACTIONS), for readers and tests.
RAW_TABLES = _fixed_schemas(Raw)
FEATURE_TABLES = _fixed_schemas(Features)
LLM_TABLES = _fixed_schemas(Llm)
PUBLISHED_SETS = _fixed_schemas(Published)
PUBLISHED_SET_NAMES = sorted(spec.name for spec in specs_of(Published))

#: Every table's contract and suite builder, by key.
CONTRACTS: dict[str, Contract] = {spec.key: spec.contract for spec in TABLES}
SUITES: dict[str, SuiteBuilder] = {spec.key: spec.expectations for spec in TABLES}


def spec(key: str) -> TableSpec:
    """The table named `key`: "<layer>/<name>" for a warehouse table, the bare name for a published set."""
    if key not in _BY_KEY:
        raise KeyError(f"no table {key!r}; known: {sorted(_BY_KEY)}")
    return _BY_KEY[key]


def table_schema(table: str, factor_names: Sequence[str] | None = None, dimension: int | None = None) -> pa.Schema:
    """The schema of a warehouse table or a published set; the tables carrying ReFORM profiles or
    ReaSeq embeddings need the factor names and the text encoder's dimension."""
    return spec(table).resolve_schema(factor_names, dimension)


def published_schema(
    set_name: str, factor_names: Sequence[str] | None = None, dimension: int | None = None
) -> pa.Schema:
    """The schema of a published set (its bare name)."""
    if set_name not in PUBLISHED_SET_NAMES:
        raise KeyError(f"no published set {set_name!r}; known: {PUBLISHED_SET_NAMES}")
    return table_schema(set_name, factor_names, dimension)


def is_configured(table: str) -> bool:
    """Whether `table`'s schema depends on the factor names and the text encoder's dimension."""
    return spec(table).is_configured


def contract(table: str) -> Contract:
    return spec(table).contract


def build_suite(table: str, columns: Sequence[str]) -> gx.ExpectationSuite:
    """A fresh suite for `table`; see `TableSpec.build_suite`."""
    return spec(table).build_suite(columns)
