import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATASETS = Path(os.environ.get("RECAUG_DATASETS", REPO.parent / "shared" / "datasets"))
MAGAZINE = DATASETS / "amazon2018_magazine"


@pytest.fixture(scope="session")
def spark():
    from transforms.spark import build_spark_session

    session = build_spark_session(master="local[2]", conf={"spark.sql.shuffle.partitions": "4"})
    yield session
    session.stop()


@pytest.fixture(scope="session")
def magazine_dir() -> Path:
    if not (MAGAZINE / "Magazine_Subscriptions_5.json.gz").exists():
        pytest.fail(f"real test data missing: {MAGAZINE} (set RECAUG_DATASETS)")
    return MAGAZINE

from llm_fixtures import *  # noqa: E402,F403  (LLM engine fixtures: embedded_gguf, llama_server)
from pipeline_support import *  # noqa: E402,F403  (the shared end-to-end run: synthetic_run)
