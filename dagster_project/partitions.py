"""Daily partitions: partition D is everything known at the end of day D (UTC).

The partitions run from `RECAUG_PARTITIONS_START` (default 1995-01-01, before the oldest record of
the public logs recaug reads: Amazon reviews from 1996, MovieLens 100K from 1997) to the last
complete day, yesterday (UTC).
"""

import datetime as dt
import os

import dagster as dg

PARTITIONS_START_ENV = "RECAUG_PARTITIONS_START"
DEFAULT_PARTITIONS_START = "1995-01-01"


class PartitionError(ValueError):
    """A partition key that is not one of the daily partitions; the message says which days are."""


def _iso_day(value: str, what: str) -> dt.date:
    """`value` as a date, accepting only the YYYY-MM-DD form that partition keys have."""
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        day = None
    if day is None or day.isoformat() != value:
        raise PartitionError(f"{what} {value!r} is not a day in the form YYYY-MM-DD")
    return day


def _configured_start() -> str:
    start = os.environ.get(PARTITIONS_START_ENV) or DEFAULT_PARTITIONS_START
    _iso_day(start, PARTITIONS_START_ENV)
    return start


PARTITIONS_START = _configured_start()

daily_partitions = dg.DailyPartitionsDefinition(start_date=PARTITIONS_START, timezone="UTC")


def check_partition(partition_key: str) -> None:
    """Raise PartitionError unless `partition_key` is a daily partition: a YYYY-MM-DD day from
    PARTITIONS_START to the last complete day. The message names the day, the range and how to
    get a partition for the day, where one can be had."""
    day = _iso_day(partition_key, "partition")
    last = daily_partitions.get_last_partition_key()
    if partition_key < PARTITIONS_START:
        problem = f"is before the first partition {PARTITIONS_START}"
        fix = f"set {PARTITIONS_START_ENV}={day.year}-01-01 to start earlier"
    elif last is None or partition_key > last:
        problem, fix = "has not ended yet (UTC)", "pick a day that has ended"
    else:
        return
    partitions = f"{PARTITIONS_START} to {last}" if last else f"none until {PARTITIONS_START} has ended"
    raise PartitionError(f"partition {partition_key} {problem} (partitions: {partitions}); {fix}")


def end_of_day(partition_key: str) -> dt.datetime:
    """The as-of instant of a partition: the last second of day D, UTC."""
    day = dt.date.fromisoformat(partition_key)
    return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=dt.timezone.utc)
