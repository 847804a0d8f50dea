"""`recaug`: generate data, run the pipeline for a day, and query what was published."""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
import typing
from pathlib import Path

import click

from synthetic.marketplace import MarketplaceSpec, write_marketplace
from transforms.readers.source import SourceSpec

if typing.TYPE_CHECKING:
    import dagster as dg
    from dagster_shared.error import SerializableErrorInfo

    from dagster_project.llm_resource import LLMEngineResource
    from dagster_project.resources import SourceResource

DEMO_DATA = "./demo_data"
# Where runs are recorded without DAGSTER_HOME: the Makefile's home, so `make dev` shows them.
DEFAULT_DAGSTER_HOME = "./.dagster_home"
SOURCE_FORMATS = typing.get_args(SourceSpec.model_fields["format"].annotation)
# Dagster's console logger prints each failure with all its traces, twice; the CLI prints one
# message instead (_failure_message) and the logged warnings in its summary.
QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
# What to do about a failure whose message does not say it, by the error's class.
FAILURE_HINTS = {
    "DagsterAssetCheckFailedError": (
        "The failed expectations are listed above; the asset's Checks tab in the Dagster UI shows the offending rows."
    ),
}


def _warehouse_option(f):
    return click.option(
        "--warehouse",
        default=lambda: os.environ.get("RECAUG_WAREHOUSE", "./warehouse"),
        show_default="./warehouse or $RECAUG_WAREHOUSE",
        help="Warehouse base URL.",
    )(f)


@click.group()
def main() -> None:
    """recaug: LLM-augmented, validated training sets for recommenders."""


def _spec_default(field: str):
    # The generator's own defaults, so `synth` and `demo` cannot drift apart.
    return MarketplaceSpec.model_fields[field].default


@main.command()
@click.option("--out", default=DEMO_DATA, show_default=True, type=click.Path(file_okay=False))
@click.option("--users", default=_spec_default("n_users"), show_default=True)
@click.option("--items", default=_spec_default("n_items"), show_default=True)
@click.option("--interactions", default=_spec_default("n_interactions"), show_default=True)
@click.option("--seed", default=_spec_default("seed"), show_default=True)
def synth(out: str, users: int, items: int, interactions: int, seed: int) -> None:
    """Write a synthetic marketplace in the Amazon Review Data 2018 format."""
    spec = MarketplaceSpec(n_users=users, n_items=items, n_interactions=interactions, seed=seed)
    summary = write_marketplace(spec, out)
    click.echo(f"wrote {summary['interactions']:,} interactions to {out}")


def _engine_options(f):
    """--engine/--base-url/--model (default: RECAUG_ENGINE/RECAUG_BASE_URL/RECAUG_MODEL, else the
    embedded model) and --retry-refused."""
    options = [
        click.option("--engine", type=click.Choice(["llamacpp", "openai", "vllm"]), default=None,
                     help="LLM engine (default: $RECAUG_ENGINE, else the embedded llamacpp model)."),
        click.option("--base-url", default=None, help="openai engine: the server's URL (default: $RECAUG_BASE_URL)."),
        click.option("--model", default=None, help="The model's name or GGUF path (default: $RECAUG_MODEL)."),
        click.option("--retry-refused", is_flag=True,
                     help="Send again the requests the engine refused before, however recent the refusal."),
    ]  # fmt: skip
    for option in reversed(options):
        f = option(f)
    return f


def _engine_resource(engine: str | None, base_url: str | None, model: str | None, retry_refused: bool):
    """The LLM resource of a run, checked with one tiny request: a dead or stalled server fails here,
    in seconds, before any asset runs."""
    from dagster_project.llm_resource import llm_resource_from_env
    from llm_jobs.engines.base import EngineError
    from llm_jobs.handler import checked_engine

    llm = llm_resource_from_env(kind=engine, base_url=base_url, model=model)
    if retry_refused:
        llm = llm.model_copy(update={"job": llm.job.model_copy(update={"retry_refused": True})})
    try:
        checked_engine(llm.engine_factory())
    except (EngineError, ValueError) as exc:
        raise click.ClickException(
            f"LLM engine {llm.kind}: {exc} (choose the engine with --engine/--base-url/--model "
            "or RECAUG_ENGINE/RECAUG_BASE_URL/RECAUG_MODEL)"
        ) from exc
    return llm


def _traceback_option(f):
    return click.option(
        "--traceback",
        "show_traceback",
        is_flag=True,
        help="On failure, also print the full Dagster error and its traces.",
    )(f)


def _check_partition(partition: str) -> None:
    """Fail with one line, before anything runs, unless `partition` is one of the daily partitions."""
    try:
        # The import itself fails on a malformed RECAUG_PARTITIONS_START (a PartitionError too).
        from dagster_project.partitions import check_partition

        check_partition(partition)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc


def _checked_source(source: SourceResource) -> SourceResource:
    """`source` once the readers have resolved it to files; a missing path, a
    directory without recognizable files or a bad column mapping fail here, before the warehouse
    is created or written."""
    from transforms.readers.detect import plan
    from transforms.readers.errors import IngestError

    try:
        plan(source.spec())
    except IngestError as exc:
        raise click.ClickException(str(exc)) from exc
    return source


def _dagster_home() -> Path:
    """DAGSTER_HOME, or ./.dagster_home as the Makefile sets it, created if needed."""
    home = Path(os.environ.get("DAGSTER_HOME") or DEFAULT_DAGSTER_HOME).resolve()
    home.mkdir(parents=True, exist_ok=True)
    return home


def _run_pipeline(
    partition: str,
    warehouse: str,
    *,
    source: SourceResource | None = None,
    llm: LLMEngineResource | None = None,
    selection: dg.AssetSelection | None = None,
    show_traceback: bool = False,
) -> None:
    """Materialize `selection` (default: every asset) of one partition, recorded in the Dagster
    home; print what the run found and, if it failed, one message: what failed and what to do."""
    import dagster as dg

    from dagster_project.assets import assets_and_checks
    from dagster_project.resources import WarehouseResource, default_resources

    resources = {**default_resources(), "warehouse": WarehouseResource(base_url=warehouse)}
    if source is not None:
        resources["source"] = source
    if llm is not None:
        resources["llm"] = llm
    home = _dagster_home()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        result = dg.materialize(
            assets_and_checks,
            selection=selection,
            partition_key=partition,
            resources=resources,
            instance=instance,
            raise_on_error=False,
            run_config=QUIET_CONSOLE,
        )
        _print_run_summary(result, instance)
    click.echo(f"Run {result.run_id} is recorded in {home} (Dagster UI: make dev DAGSTER_HOME={home})")
    if not result.success:
        if show_traceback:
            click.echo("\n\n".join(error.to_string() for _, error in _failures(result)), err=True)
        raise click.ClickException(_failure_message(result, show_traceback))


def _failures(result: dg.ExecuteInProcessResult) -> list[tuple[str, SerializableErrorInfo]]:
    """(what failed, its Dagster error) of each failed step, or of the run when no step failed."""
    steps = [(_step_label(result, event), event.step_failure_data.error) for event in result.get_step_failure_events()]
    if steps:
        return steps
    error = result.get_run_failure_event().job_failure_data.error
    return [("the run", error)] if error is not None else []


def _step_label(result: dg.ExecuteInProcessResult, event: dg.DagsterEvent) -> str:
    """A step by its key and the assets or checks it computes."""
    keys = result.job_def.asset_layer.get_selected_entity_keys_for_node(event.node_handle)
    names = ", ".join(sorted(key.to_user_string() for key in keys))
    return f"step {event.step_key} ({names})" if names else f"step {event.step_key}"


def _user_error(error: SerializableErrorInfo) -> SerializableErrorInfo:
    """The exception the step's own code raised, from under Dagster's wrappers
    (DagsterExecutionStepExecutionError and the like, which carry it as their cause)."""
    while error.cause is not None and (error.cls_name or "").startswith("Dagster"):
        error = error.cause
    return error


def _error_text(error: SerializableErrorInfo) -> str:
    """An error's message without the `module.Class: ` Python puts before it."""
    message = error.message.strip()
    head, sep, rest = message.partition(": ")
    return rest if sep and head.rsplit(".", 1)[-1] == error.cls_name else message


def _failure_message(result: dg.ExecuteInProcessResult, show_traceback: bool) -> str:
    """What failed, with the message of the error its code raised, then what to do."""
    errors = [(what, _user_error(error)) for what, error in _failures(result)]
    lines = [f"{what} failed: {_error_text(error)}" for what, error in errors] or [f"run {result.run_id} failed"]
    lines += [FAILURE_HINTS[name] for name in sorted({e.cls_name for _, e in errors} & FAILURE_HINTS.keys())]
    if not show_traceback:
        lines.append("Rerun with --traceback for the full trace.")
    return "\n".join(lines)


def _print_run_summary(result: dg.ExecuteInProcessResult, instance: dg.DagsterInstance) -> None:
    """What a person should know of a run besides its outcome, in a few lines: what ingest kept
    and quarantined, the duplicates dropped, failed contract expectations and logged warnings."""
    metadata = {
        event.asset_key.to_user_string(): {k: v.value for k, v in event.materialization.metadata.items()}
        for event in result.get_asset_materialization_events()
    }
    lines = [
        *_ingest_lines(metadata, result.dagster_run.tags.get("dagster/partition")),
        *_contract_lines(result.get_asset_check_evaluations()),
        *_logged_warnings(instance, result.run_id),
    ]
    if lines:
        click.echo("\n".join(lines))


def _ingest_lines(metadata: dict, partition: str | None) -> list[str]:
    """Ingest counts (raw.* materializations) and the interactions deduplication dropped."""
    from schemas.registry import Features, Raw

    interactions, quarantine, clean = Raw.INTERACTIONS.key, Raw.QUARANTINE.key, Features.CLEAN_INTERACTIONS.key
    lines = []
    if interactions in metadata:
        ingest = metadata[interactions]["ingest"]
        lines.append(
            f"Ingested ({ingest['format']}): {ingest['rows_interactions']:,} interactions, "
            f"{ingest['rows_reviews']:,} reviews, {ingest['rows_items']:,} items; "
            f"{ingest['excluded_after_as_of']:,} records after {partition} left out"
        )
    if quarantine in metadata:
        quarantined = metadata[quarantine]
        reasons = ", ".join(f"{reason} {n:,}" for reason, n in sorted(quarantined["quarantined_by_reason"].items()))
        lines.append(f"Quarantined: {quarantined['rows']:,} records" + (f" ({reasons})" if reasons else ""))
    if interactions in metadata and clean in metadata:
        dropped = metadata[interactions]["rows"] - metadata[clean]["rows"]
        lines.append(f"Duplicates dropped: {dropped:,} interactions (same user and item; the latest is kept)")
    return lines


def _contract_lines(evaluations: typing.Sequence[dg.AssetCheckEvaluation]) -> list[str]:
    """One line per contract check with failed expectations, warnings included."""
    lines = []
    for evaluation in evaluations:
        failures = evaluation.metadata.get("failures")
        if failures is None or not failures.value:
            continue
        found = "; ".join(f"{f['severity']} {_expectation(f)}" for f in failures.value)
        lines.append(f"  {evaluation.asset_key.to_user_string()}: {found}")
    return ["Contract checks with failed expectations:", *lines] if lines else []


def _expectation(failure: dict) -> str:
    """A failed expectation or recaug check (schemas.contracts), with how much failed."""
    text = failure["name"] + (f"({failure['column']})" if failure["column"] else "")
    observed = failure.get("observed")
    if failure.get("unexpected_count"):
        return f"{text}: {failure['unexpected_count']:,} rows"
    if isinstance(observed, dict) and "rate" in observed:
        return f"{text}: rate {observed['rate']:.3g}"
    return text


def _logged_warnings(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """Warnings the run's code logged, which the quiet console logger (QUIET_CONSOLE) does not show.

    Error entries are left out: they are the failures _failure_message reports, and Dagster's
    "Not executing" line for each step downstream of one.
    """
    return [
        f"Warning: {entry.user_message}"
        for entry in instance.all_logs(run_id)
        if not entry.is_dagster_event and logging.WARNING <= _level(entry.level) < logging.ERROR
    ]


def _level(level: int | str) -> int:
    """A log entry's level as a number (entries may store it as its name)."""
    return logging.getLevelName(level) if isinstance(level, str) else level


def _print_published(warehouse: str) -> None:
    from storage.catalog import catalog_path
    from storage.publishing import latest_version, published_sets, read_manifest
    from storage.warehouse import Warehouse

    wh = Warehouse(warehouse)
    click.echo("\nPublished training sets (the live snapshot):")
    for name in published_sets(wh):
        version = latest_version(wh, name)
        manifest = read_manifest(wh, name, version)
        click.echo(f"  {name:<22} {manifest['row_count']:>10,} rows  {wh.path('published', name, version)}")
    click.echo(f"DuckDB catalog: {catalog_path(wh)}   (try: recaug query \"SELECT * FROM item_features LIMIT 5\")")


@main.command()
@click.option("--source", required=True, help="Raw logs: a directory or file (Amazon 2018/2023, MovieLens, CSV/Parquet).")
@click.option("--format", "source_format", type=click.Choice(SOURCE_FORMATS), default="auto", show_default=True)
@click.option("--category", default=None, help="The Amazon category to read when --source holds several.")
@click.option(
    "--map",
    "mapping_pairs",
    multiple=True,
    metavar="KEY=COLUMN",
    help="Column mapping of --format table, repeated: --map user_id=uid --map item_id=sku --map ts=time.",
)
@click.option(
    "--mapping-file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Column mapping of --format table, a YAML or JSON file of KEY: COLUMN entries.",
)
@click.option("--items", "items_path", default=None, help="Item catalog of --format table (item_id, title, ...).")
@click.option(
    "--allow-partial-input",
    is_flag=True,
    help="Ingest a truncated or corrupt file up to the break (quarantined) instead of failing.",
)
@click.option(
    "--partition",
    default=lambda: (dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)).isoformat(),
    show_default="yesterday, UTC",
    help="As-of day (YYYY-MM-DD): records after it are excluded.",
)
@_warehouse_option
@_engine_options
@_traceback_option
def run(
    source: str,
    source_format: str,
    category: str | None,
    mapping_pairs: tuple[str, ...],
    mapping_file: str | None,
    items_path: str | None,
    allow_partial_input: bool,
    partition: str,
    warehouse: str,
    engine: str | None,
    base_url: str | None,
    model: str | None,
    retry_refused: bool,
    show_traceback: bool,
) -> None:
    """Ingest, compute features, publish the training sets of one day and evaluate them."""
    _check_partition(partition)
    from dagster_project.resources import SourceResource

    resource = SourceResource(
        path=source,
        format=source_format,
        category=category,
        mapping_pairs=list(mapping_pairs),
        mapping_file=mapping_file,
        items_path=items_path,
        allow_partial_input=allow_partial_input,
    )
    source = _checked_source(resource)
    llm = _engine_resource(engine, base_url, model, retry_refused)
    _run_pipeline(partition, warehouse, source=source, llm=llm, show_traceback=show_traceback)
    _print_published(warehouse)
    _print_evaluation(warehouse, partition)


@main.command()
@_warehouse_option
@click.option("--data", default=DEMO_DATA, show_default=True, help="Where the synthetic input is written.")
@_traceback_option
def demo(warehouse: str, data: str, show_traceback: bool) -> None:
    """Generate the synthetic marketplace (once) and run the whole pipeline on it."""
    from dagster_project.resources import SourceResource

    spec = MarketplaceSpec()
    partition = spec.end_date.isoformat()
    _check_partition(partition)
    if not any(Path(data).glob("*.json.gz")):
        write_marketplace(spec, data)
    source = _checked_source(SourceResource(path=data, format="amazon2018"))
    _run_pipeline(partition, warehouse, source=source, show_traceback=show_traceback)
    _print_published(warehouse)
    _print_evaluation(warehouse, partition)


def _print_evaluation(warehouse: str, partition: str) -> None:
    """The evaluation report's summary of `partition`; nothing when the evaluation did not run."""
    from dagster_project.assets.evaluation import report_dir
    from dagster_project.resources import WarehouseResource

    resource = WarehouseResource(base_url=warehouse)
    pages = report_dir(resource, partition)
    if not resource.warehouse.exists(f"{pages}/summary.md"):
        return
    click.echo(f"\nWhat each augmentation buys ({partition}, test set; intervals: 95% paired bootstrap over users):\n")
    click.echo(resource.warehouse.read_text(f"{pages}/summary.md"))
    click.echo(f"\nReport with plots: {pages}/report.html")


def _live_partition(warehouse: str) -> str:
    from schemas.registry import Published
    from storage.publishing import latest_version, read_manifest
    from storage.warehouse import Warehouse

    wh = Warehouse(warehouse)
    version = latest_version(wh, Published.INTERACTIONS_TRAIN.key)
    if version is None:
        raise click.ClickException(f"nothing is published in {warehouse}: run `recaug run` or `recaug demo` first")
    return read_manifest(wh, Published.INTERACTIONS_TRAIN.key, version)["partition"]


@main.command()
@_warehouse_option
@click.option("--partition", default=None, help="The day to evaluate (default: the live published sets' day).")
@_traceback_option
def evaluate(warehouse: str, partition: str | None, show_traceback: bool) -> None:
    """Train each augmentation's consumer model without and with it, and publish the report."""
    import dagster as dg

    from dagster_project.assets.table_io import asset_key
    from schemas.registry import Published

    partition = partition or _live_partition(warehouse)
    _check_partition(partition)
    selection = dg.AssetSelection.groups("evaluation") | dg.AssetSelection.assets(asset_key(Published.EVALUATION_REPORT))
    _run_pipeline(partition, warehouse, selection=selection, show_traceback=show_traceback)
    _print_evaluation(warehouse, partition)


@main.command()
@click.argument("sql")
@_warehouse_option
def query(sql: str, warehouse: str) -> None:
    """Run SQL read-only against the LATEST published sets (one view per set)."""
    import duckdb

    from storage.catalog import connect_read_only
    from storage.warehouse import Warehouse

    try:
        with connect_read_only(Warehouse(warehouse)) as con:
            relation = con.sql(sql)
            if relation is None:
                return
            click.echo(relation.to_arrow_table().to_pandas().to_string(index=False, max_rows=200))
    except (duckdb.Error, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from exc


@main.command()
@_warehouse_option
def tables(warehouse: str) -> None:
    """The live snapshot: its day, each set's version and row count, and any newer version that
    validation blocked, with the expectations it failed."""
    from storage.published_layout import (
        latest_version,
        live_snapshot,
        read_manifest,
        version_names,
    )
    from storage.warehouse import Warehouse

    wh = Warehouse(warehouse)
    snapshot = live_snapshot(wh)
    if snapshot is None:
        raise click.ClickException(f"nothing is published in {warehouse}: run `recaug run` or `recaug demo` first")
    click.echo(f"Live snapshot {snapshot.id} of {snapshot.partition} (run {snapshot.run_id or '-'}):")
    for name, version in snapshot.sets.items():
        click.echo(f"  {name:<26} {read_manifest(wh, name, version)['row_count']:>10,} rows  version {version}")
    for name in snapshot.sets:
        newer = [v for v in version_names(wh, name) if v > latest_version(wh, name)]
        for version in newer:
            try:
                manifest = read_manifest(wh, name, version)
            except FileNotFoundError:  # still being written, or abandoned
                continue
            if manifest["status"] == "blocked":
                failed = [r for r in manifest["validation"]["results"] if not r["success"] and r["severity"] == "error"]
                reasons = ", ".join(f"{r['name']}({r.get('column') or ''})" for r in failed)
                click.echo(f"  blocked: {name} {version} of {manifest['partition']}: {reasons}")


if __name__ == "__main__":
    sys.exit(main())
