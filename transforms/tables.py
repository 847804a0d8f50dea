"""Spark views of the Arrow table contracts in `schemas.tables`.

Every feature job ends with `conform`, so its output has exactly the contract's columns, in its
order, with its types (int32 -> IntegerType, timestamp -> TimestampType, ...). Spark does not
tighten nullability on a cast; writers that need the Arrow nullability flags use the Arrow schema.
"""

from __future__ import annotations

import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_schema
from pyspark.sql.types import StructType


def spark_schema(schema: pa.Schema) -> StructType:
    return from_arrow_schema(schema)


def conform(df: DataFrame, schema: pa.Schema) -> DataFrame:
    """Select the contract's columns in order, cast to the contract's Spark types."""
    return df.select([F.col(f.name).cast(f.dataType).alias(f.name) for f in spark_schema(schema).fields])
