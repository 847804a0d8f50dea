"""A process that takes a warehouse partition lock, driven by tests/test_locks.py over stdin/stdout.

    hold WAREHOUSE OWNER            take the lock, print "locked", release when stdin gets a line
    try WAREHOUSE TIMEOUT_S         print "trying", then "locked <time>" or "timeout <message>"
    count WAREHOUSE COUNTER N       print "ready", wait for a line, then N locked read-increment-writes
"""

import sys
import time
from pathlib import Path

from storage.locks import LockTimeout, partition_lock
from storage.warehouse import Warehouse

ASSET, PARTITION = "features/splits", "2024-01-01"


def main(mode: str, warehouse: str, *args: str) -> None:
    wh = Warehouse(warehouse)
    if mode == "hold":
        with partition_lock(wh, ASSET, PARTITION, timeout_s=10, owner=args[0]):
            print("locked", flush=True)
            sys.stdin.readline()
            print(f"releasing {time.time()}", flush=True)
    elif mode == "try":
        print("trying", flush=True)
        try:
            with partition_lock(wh, ASSET, PARTITION, timeout_s=float(args[0])):
                print(f"locked {time.time()}", flush=True)
        except LockTimeout as timeout:
            print(f"timeout {timeout}", flush=True)
    elif mode == "count":
        counter, n = Path(args[0]), int(args[1])
        print("ready", flush=True)
        sys.stdin.readline()
        for _ in range(n):
            with partition_lock(wh, ASSET, PARTITION, timeout_s=30):
                value = int(counter.read_text())
                counter.write_text(str(value + 1))


if __name__ == "__main__":
    main(*sys.argv[1:])
