"""Designs that run away with time, processes, memory, disk or output."""

import shutil

import pytest

# Four threads and the main one spinning: CPU time passes five times as fast as wall time.
SPINNING_THREADS = """
import threading
def spin():
    while True:
        pass
for _ in range(4):
    threading.Thread(target=spin, daemon=True).start()
spin()
"""


def test_an_infinite_loop_times_out(hostile):
    result = hostile.run("while True:\n    pass", wall_s=1)
    assert result.status == "timeout" and "wall-clock limit of 1 s" in result.error
    assert result.wall_s < 3


def test_busy_threads_time_out(hostile):
    assert hostile.run(SPINNING_THREADS, wall_s=1).status == "timeout"


def test_cpu_time_is_limited_even_under_the_wall_clock(hostile):
    result = hostile.run(SPINNING_THREADS, wall_s=30, cpu_s=1)
    assert result.status == "timeout" and "CPU-time limit" in result.error
    assert result.wall_s < 10


def test_sleeping_past_the_limit_times_out(hostile):
    assert hostile.run("time.sleep(60)", wall_s=1).status == "timeout"


def test_ignoring_sigterm_does_not_help(hostile):
    body = "signal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True:\n    time.sleep(0.01)"
    assert hostile.run(body, wall_s=1).status == "timeout"


def test_a_fork_bomb_is_capped_and_cleaned_up(hostile):
    body = """
children = 0
while True:
    try:
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
        children += 1
    except OSError as exc:
        return {"children": children, "stopped_by": exc.__class__.__name__}
"""
    result = hostile.run(body, wall_s=20, max_processes=32)
    # A pids cgroup caps it, or for a user without one RLIMIT_NPROC (see sandbox-info)
    if hostile.in_force("process limit"):
        assert result.status == "ok", result.error
        assert result.value["children"] <= 32
    else:  # root without a pids cgroup: only the wall clock stops it
        assert result.status in ("ok", "timeout")


def test_a_memory_bomb_hits_the_memory_limit(hostile):
    body = "blocks = []\nwhile True:\n    blocks.append(bytearray(64 * 1024 * 1024))"
    result = hostile.run(body, memory_mb=1024)
    assert result.status == "memory" and "MemoryError" in result.error


def test_filling_the_disk_stops_at_the_private_directory_size(hostile):
    if not hostile.in_force("private filesystem"):
        pytest.skip("no private /tmp: the design would fill the user's disk until the wall clock")
    free_before = shutil.disk_usage("/tmp").free
    body = """
written = 0
chunk = b"x" * (1 << 20)
for i in range(10_000):
    with open(f"fill{i}", "wb") as f:
        for _ in range(16):
            f.write(chunk)
            written += 1
"""
    result = hostile.run(body, disk_mb=64, file_mb=32, wall_s=30)
    assert result.status == "error" and "No space left on device" in result.error
    assert shutil.disk_usage("/tmp").free > free_before - 32 * 2**20


def test_a_stdout_flood_is_cut_and_capped(hostile):
    body = "line = 'y' * 1000\nwhile True:\n    print(line)"
    result = hostile.run(body, file_mb=2, output_bytes=10_000, wall_s=30)
    assert result.status == "output_limit"
    assert len(result.stdout) < 11_000 and "bytes cut" in result.stdout


def test_infinite_recursion_is_an_error(hostile):
    body = "def down(n):\n    return down(n + 1)\nreturn down(0)"
    result = hostile.run(body)
    assert result.status == "error" and "RecursionError" in result.error


def test_a_daemonised_grandchild_dies_with_its_evaluation(hostile):
    # The grandchild names itself so that we can look for it from outside its namespace.
    body = """
import ctypes
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        ctypes.CDLL(None).prctl(15, b"adsbx-orphan", 0, 0, 0)
        time.sleep(300)
    os._exit(0)
time.sleep(0.3)
return "parent done"
"""
    assert hostile.run(body).value == "parent done"
    import time
    from pathlib import Path

    def orphans():
        found = []
        for comm in Path("/proc").glob("[0-9]*/comm"):
            try:
                if comm.read_text().strip() == "adsbx-orphan":
                    found.append(comm.parent.name)
            except OSError:
                continue
        return found

    deadline = time.monotonic() + 5
    while orphans() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert orphans() == []


def test_memory_held_by_several_processes_together_is_limited(hostile):
    # Each process stays under the per-process limit; together they would not.
    # (The limit leaves room for the address space torch already maps in every process.)
    body = """
children = []
for _ in range(5):
    pid = os.fork()
    if pid == 0:
        block = bytearray(600 * 1024 * 1024)
        for i in range(0, len(block), 4096):
            block[i] = 1
        time.sleep(120)
        os._exit(0)
    children.append(pid)
for _ in children:  # whichever ends first: the OOM killer picks its victim
    if os.WIFSIGNALED(os.wait()[1]):
        raise RuntimeError("a child was killed")
"""
    # A generous wall clock: on a loaded machine touching 3 GB takes a while, and the memory
    # limit, not the clock, must be what stops it (as soon as a child is killed).
    result = hostile.run(body, memory_mb=2000, wall_s=60)
    if not hostile.in_force("memory limit"):
        assert result.status == "timeout"  # only the wall clock stops it without a cgroup
    else:
        assert result.status == "memory", result
        assert "together" in result.error


def test_memory_in_memfd_is_limited(hostile):
    body = """
fds = []
for _ in range(20):
    fd = os.memfd_create("hoard")
    os.write(fd, b"x" * (50 * 1024 * 1024))
    fds.append(fd)
return "hoarded"
"""
    result = hostile.run(body, memory_mb=400, wall_s=20)
    assert result.status in ("memory", "error"), result
