"""The partition lock between real processes (tests/lock_child.py)."""

import os
import signal
import socket
from pathlib import Path

import pytest
from support import SUPPORT
from support.child_processes import Children, read_line, send_line

from storage.locks import LockTimeout, lock_path, partition_lock
from storage.warehouse import Warehouse


@pytest.fixture
def children():
    with Children(SUPPORT / "lock_child.py") as started:
        yield started


def test_a_second_process_gives_up_naming_the_holder(tmp_path, children):
    holder = children.start("hold", str(tmp_path), "run-1234")
    assert read_line(holder) == "locked"

    waiter = children.start("try", str(tmp_path), "0.3")
    assert read_line(waiter) == "trying"
    outcome = read_line(waiter)

    assert outcome.startswith("timeout ")
    assert f"run-1234, pid {holder.pid} on {socket.gethostname()}" in outcome
    assert "features/splits/date=2024-01-01" in outcome


def test_a_waiting_process_gets_the_lock_once_the_holder_releases_it(tmp_path, children):
    holder = children.start("hold", str(tmp_path), "run-1")
    assert read_line(holder) == "locked"
    waiter = children.start("try", str(tmp_path), "30")
    assert read_line(waiter) == "trying"

    send_line(holder, "release")
    released_at = float(read_line(holder).split()[1])
    locked_at = float(read_line(waiter).split()[1])

    assert locked_at >= released_at
    assert holder.wait() == 0 and waiter.wait() == 0


def test_the_lock_of_a_killed_holder_is_free_at_once(tmp_path, children):
    holder = children.start("hold", str(tmp_path), "run-1")
    assert read_line(holder) == "locked"
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()

    waiter = children.start("try", str(tmp_path), "5")
    assert read_line(waiter) == "trying"
    assert read_line(waiter).startswith("locked ")


def test_two_processes_updating_under_the_lock_lose_no_update(tmp_path, children):
    counter = tmp_path / "counter"
    counter.write_text("0")
    workers = [children.start("count", str(tmp_path), str(counter), "100") for _ in range(2)]
    for worker in workers:
        assert read_line(worker) == "ready"
    for worker in workers:  # start both read-increment-write loops together
        send_line(worker, "go")

    assert [worker.wait(timeout=60) for worker in workers] == [0, 0]
    assert counter.read_text() == "200"


def test_the_lock_is_not_reentrant_and_the_timeout_says_so(tmp_path):
    wh = Warehouse(str(tmp_path))
    with partition_lock(wh, "features/splits", "2024-01-01", timeout_s=1, owner="outer"):
        with pytest.raises(LockTimeout, match=f"outer, pid {os.getpid()}") as timeout:
            with partition_lock(wh, "features/splits", "2024-01-01", timeout_s=0.05):
                pass
    assert timeout.value.holder["owner"] == "outer"
    lock_file = Path(lock_path(wh, "features/splits/date=2024-01-01"))
    assert lock_file.parent == tmp_path / "_locks" / "features" / "splits"
    # Released on leaving the block: the same process takes it again at once.
    with partition_lock(wh, "features/splits", "2024-01-01", timeout_s=0):
        pass
