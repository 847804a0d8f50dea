"""Validation time per table: each table's contract (GX suite + recaug checks, as the Dagster
`contract` checks and the publication gate run them) on the demo warehouse and on the raw and
feature tables at 1M synthetic interactions, in process on Arrow and on Spark.

Inputs, none of them timed: the demo warehouse `make bench-e2e` leaves in
benchmarks/work/end_to_end/warehouse-0 (its raw and features tables), and at 1M the raw Parquet of
benchmarks/_inputs.py plus the feature tables `make bench-features` writes to
benchmarks/work/runs/n1000000/spark (the same transforms as the feature assets; i2i_pairs there is
co-occurrence only). A table that is missing is reported as such. Timed: reading the table for
validation (Arrow: into memory; Spark: the lazy DataFrame) and `validate_table`, including id_maps
and the ephemeral GX context.

    python benchmarks/validation.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from benchmarks._inputs import WORK, spec_for
from benchmarks._report import machine, spread
from schemas.registry import Features, Raw, TableSpec

RESULTS = Path(__file__).parent / "results" / "validation.json"
ENGINES = ("arrow", "spark")
RAW_TABLES = (Raw.INTERACTIONS, Raw.REVIEWS, Raw.ITEMS)
FEATURE_TABLES = (
    Features.CLEAN_INTERACTIONS,
    Features.ID_MAPS,
    Features.SPLITS,
    Features.USER_FEATURES,
    Features.ITEM_FEATURES,
    Features.USER_SEQUENCES,
    Features.I2I_PAIRS,
)


def _demo_tables() -> dict[TableSpec, Path]:
    warehouse = WORK / "end_to_end" / "warehouse-0"
    tables = {}
    for table in (*RAW_TABLES, *FEATURE_TABLES):
        partitions = sorted((warehouse / table.layer / table.name).glob("date=*"))
        if partitions:
            tables[table] = partitions[-1]
    return tables


def _tables_at_1m() -> dict[TableSpec, Path]:
    key = next((WORK / "inputs").glob(f"n{spec_for(1_000_000).n_interactions}-*/_DONE.json"), None)
    tables = {t: key.parent / t.layer / t.name for t in RAW_TABLES} if key else {}
    features = WORK / "runs" / "n1000000" / "spark"
    tables |= {t: features / t.name for t in FEATURE_TABLES if (features / t.name).exists()}
    return tables


def _measure(spark, tables: dict[TableSpec, Path], repeats: int) -> dict[str, dict]:
    from storage.warehouse import Warehouse
    from validation import same_engine, validate_table

    wh = Warehouse("/")
    id_maps_path = str(tables[Features.ID_MAPS]) if Features.ID_MAPS in tables else None
    results = {}
    for table, path in tables.items():
        needs_ids = bool(table.contract.ids)
        if needs_ids and id_maps_path is None:
            continue
        row = {}
        for engine in ENGINES:
            seconds, report = [], None
            for _ in range(repeats):
                started = time.perf_counter()
                data = _read(wh, str(path), engine, spark)
                id_maps = same_engine(wh, id_maps_path, data) if needs_ids else None
                report = validate_table(table.key, data, id_maps, None, schema=table.schema)
                seconds.append(time.perf_counter() - started)
            row[engine] = {
                "seconds": spread(seconds),
                "passed": report.passed,
                "checks": len(report.results),
            }
        row["rows"] = report.row_count
        results[table.key] = row
    return results


def _read(wh, path: str, engine: str, spark):
    import pyarrow.dataset as pads

    if engine == "spark":
        return spark.read.parquet(path)
    return pads.dataset(path, format="parquet", filesystem=wh.fs).to_table()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    from transforms.spark import build_spark_session

    spark = build_spark_session(master="local[2]", conf={"spark.driver.memory": "4g"}, app_name="bench-validation")
    inputs = {"demo": _demo_tables(), "1M": _tables_at_1m()}
    results = {name: _measure(spark, tables, args.repeats) for name, tables in inputs.items()}
    spark.stop()

    print(f"{'data':5} {'table':28} {'rows':>10} {'arrow s':>8} {'spark s':>8}  passed")
    for name, tables in results.items():
        for table, row in tables.items():
            arrow, on_spark = row["arrow"]["seconds"]["median"], row["spark"]["seconds"]["median"]
            passed = row["arrow"]["passed"] and row["spark"]["passed"]
            print(f"{name:5} {table:28} {row['rows']:>10,} {arrow:>8.2f} {on_spark:>8.2f}  {passed}")
    missing = {name: sorted(t.name for t in FEATURE_TABLES if t not in tables) for name, tables in inputs.items()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "machine": machine(("pyspark", "duckdb", "pyarrow", "great_expectations")),
                "inputs": {name: {t.key: str(p) for t, p in tables.items()} for name, tables in inputs.items()},
                "missing_feature_tables": missing,
                "repeats": args.repeats,
                "timed": "read for validation + validate_table (GX suite, ids in id_maps), median of repeats",
                "results": results,
            },
            indent=2,
        )
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
