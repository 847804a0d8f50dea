"""Exclusive locks, so two runs never write the same partition or published set at once.

A lock is a `flock` on a file under `<warehouse>/_locks/`. The kernel releases it when its holder
exits, however it dies (SIGKILL included), so there is no stale lock to detect or break, and no
pid that could have been reused. The holder writes who it is (pid, host, since, owner) into the
file, so a waiter that gives up can say who holds it.

Lock files are never deleted: a waiter blocks on the file it opened, and if that file were
unlinked, a third process would create a new one and hold "the same" lock beside it.

flock needs a local (or flock-capable network) filesystem. A warehouse on an object store keeps
its lock files in a local directory instead, which serialises runs on one host only; runs spread
over hosts need Dagster's own concurrency limits (run queue tag limits) on top.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import hashlib
import json
import os
import socket
import tempfile
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # storage.warehouse takes partition locks itself
    from storage.warehouse import Warehouse

LOCKS_DIR = "_locks"
# How long a writer waits for another run holding the same lock by default (a parallel backfill
# day publishing the same set, a second run of the same day): waiting is right, hanging forever
# is not. WarehouseResource.lock_timeout_s is the one setting that changes it for a run.
DEFAULT_TIMEOUT_S = 1800.0
# Waiting polls with a growing pause: short at first, so a lock handed over quickly is taken
# quickly, then no busier than this.
MAX_POLL_S = 0.2


class LockTimeout(TimeoutError):
    def __init__(self, key: str, holder: dict | None, waited_s: float) -> None:
        if holder:
            who = f"{holder['owner']}, " if holder.get("owner") else ""
            held_by = f"{who}pid {holder['pid']} on {holder['host']} since {holder['since']}"
        else:
            held_by = "a process that has not yet written its name"
        super().__init__(f"lock {key!r} is held by {held_by}; gave up after {waited_s:.1f} s")
        self.key = key
        self.holder = holder


def lock_path(wh: Warehouse, key: str) -> str:
    if wh.is_local:
        base = wh.path(LOCKS_DIR)
    else:
        warehouse_id = hashlib.sha256(wh.base_url.encode()).hexdigest()[:16]
        base = os.path.join(tempfile.gettempdir(), "recaug-locks", warehouse_id)
    return os.path.join(base, f"{key}.lock")


@contextlib.contextmanager
def warehouse_lock(wh: Warehouse, key: str, timeout_s: float, owner: str | None = None) -> Iterator[None]:
    """Hold the exclusive lock `key` for the block, waiting up to `timeout_s` for it.

    Raises LockTimeout, naming the holder, when it is still held after `timeout_s`. Not
    re-entrant: taking a lock this process already holds waits for itself and times out.
    """
    path = lock_path(wh, key)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _acquire(fd, path, key, timeout_s)
        holder = {
            "owner": owner,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the flock


def partition_lock(
    wh: Warehouse, asset: str, partition: str, timeout_s: float, owner: str | None = None
) -> contextlib.AbstractContextManager[None]:
    """The lock around one partition's materialization of `asset` (e.g. "features/splits")."""
    return warehouse_lock(wh, f"{asset}/date={partition}", timeout_s, owner)


def run_lock(
    wh: Warehouse, partition: str, timeout_s: float, owner: str | None = None
) -> contextlib.AbstractContextManager[None]:
    """The lock a run of `partition` holds from start to end, so a second run of the same day waits
    for the first and then reuses its cached LLM responses instead of racing it."""
    return warehouse_lock(wh, f"_runs/date={partition}", timeout_s, owner)


def _acquire(fd: int, path: str, key: str, timeout_s: float) -> None:
    started = time.monotonic()
    pause = 0.001
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as error:
            if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
        waited = time.monotonic() - started
        if waited >= timeout_s:
            raise LockTimeout(key, _read_holder(path), waited)
        time.sleep(min(pause, timeout_s - waited))
        pause = min(pause * 2, MAX_POLL_S)


def _read_holder(path: str) -> dict | None:
    """None while the holder is between taking the lock and writing its name."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.loads(f.read())
    except ValueError:
        return None
