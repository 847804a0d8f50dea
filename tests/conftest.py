import os
from pathlib import Path

import pytest

# LLM engine fixtures (embedded_gguf, llama_server, counting) and the shared pipeline run (synthetic_run).
pytest_plugins = ["support.llm_fixtures", "support.pipeline_support"]

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
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



LLM_FIXTURES = {"embedded_gguf", "llama_server", "counting"}


def pytest_collection_modifyitems(items):
    """Markers follow what a test needs: `spark` and `llm` from its fixtures, `e2e` from its tier
    (a pipeline run needs both Spark and the model)."""
    for item in items:
        if TESTS / "e2e" in item.path.parents:
            for name in ("e2e", "spark", "llm"):
                item.add_marker(name)
            continue
        if "spark" in item.fixturenames:
            item.add_marker("spark")
        if LLM_FIXTURES & set(item.fixturenames):
            item.add_marker("llm")
