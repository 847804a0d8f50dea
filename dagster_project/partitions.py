"""Daily partitions: partition D is everything known at the end of day D (UTC)."""

import datetime as dt

import dagster as dg

PARTITIONS_START = "2000-01-01"

daily_partitions = dg.DailyPartitionsDefinition(start_date=PARTITIONS_START, timezone="UTC")


def end_of_day(partition_key: str) -> dt.datetime:
    """The as-of instant of a partition: the last second of day D, UTC."""
    day = dt.date.fromisoformat(partition_key)
    return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=dt.timezone.utc)
