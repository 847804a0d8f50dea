"""`recaug`: generate data, run the pipeline for a day, and query what was published."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

import click

from transforms.synthetic_marketplace import MarketplaceSpec, write_marketplace

DEMO_DATA = "./demo_data"


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


def _run_pipeline(source: str, source_format: str, partition: str, warehouse: str) -> None:
    import dagster as dg

    from dagster_project.assets import assets_and_checks
    from dagster_project.resources import SourceResource, WarehouseResource, default_resources

    resources = {
        **default_resources(),
        "source": SourceResource(path=source, format=source_format),
        "warehouse": WarehouseResource(base_url=warehouse),
    }
    # With DAGSTER_HOME set, runs are recorded where `dagster dev` shows them.
    instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        assets_and_checks,
        partition_key=partition,
        resources=resources,
        instance=instance,
        run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
    )
    if not result.success:
        raise click.ClickException(f"run {result.run_id} failed")


def _print_published(warehouse: str) -> None:
    from dagster_project.catalog import catalog_path
    from dagster_project.publishing import latest_version, published_sets, read_manifest
    from dagster_project.warehouse import Warehouse

    wh = Warehouse(warehouse)
    click.echo("\nPublished training sets (LATEST):")
    for name in published_sets(wh):
        version = latest_version(wh, name)
        manifest = read_manifest(wh, name, version)
        click.echo(f"  {name:<22} {manifest['row_count']:>10,} rows  {wh.path('published', name, version)}")
    click.echo(f"DuckDB catalog: {catalog_path(wh)}   (try: recaug query \"SELECT * FROM item_features LIMIT 5\")")


@main.command()
@click.option("--source", required=True, help="Raw logs: a directory or file (Amazon 2018/2023, MovieLens, CSV/Parquet).")
@click.option("--format", "source_format", default="auto", show_default=True)
@click.option(
    "--partition",
    default=lambda: (dt.date.today() - dt.timedelta(days=1)).isoformat(),
    show_default="yesterday",
    help="As-of day (YYYY-MM-DD): records after it are excluded.",
)
@_warehouse_option
def run(source: str, source_format: str, partition: str, warehouse: str) -> None:
    """Ingest, compute features and publish the training sets of one day."""
    _run_pipeline(source, source_format, partition, warehouse)
    _print_published(warehouse)


@main.command()
@_warehouse_option
@click.option("--data", default=DEMO_DATA, show_default=True, help="Where the synthetic input is written.")
def demo(warehouse: str, data: str) -> None:
    """Generate the synthetic marketplace (once) and run the whole pipeline on it."""
    spec = MarketplaceSpec()
    if not any(Path(data).glob("*.json.gz")):
        write_marketplace(spec, data)
    _run_pipeline(data, "amazon2018", spec.end_date.isoformat(), warehouse)
    _print_published(warehouse)


@main.command()
@click.argument("sql")
@_warehouse_option
def query(sql: str, warehouse: str) -> None:
    """Run SQL read-only against the LATEST published sets (one view per set)."""
    import duckdb

    from dagster_project.catalog import connect_read_only
    from dagster_project.warehouse import Warehouse

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
    """List the published sets with their live version and row counts."""
    from dagster_project.catalog import connect_read_only
    from dagster_project.publishing import latest_version
    from dagster_project.warehouse import Warehouse

    wh = Warehouse(warehouse)
    try:
        con = connect_read_only(wh)
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from exc
    with con:
        views = con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1").fetchall()
        for (name,) in views:
            (rows,) = con.execute(f'SELECT count(*) FROM "{name}"').fetchone()
            click.echo(f"{name:<22} {rows:>10,} rows  version {latest_version(wh, name)}")


if __name__ == "__main__":
    sys.exit(main())
