"""Throughput of CPU-bound designs through 1 and 2 sandbox workers.

    python benchmarks/sandbox_throughput.py [--designs 12] [--seconds 0.5]

Each design burns about `--seconds` of CPU in a pure-Python loop (torch preloaded, one thread,
as in a search). The same batch goes through a pool of 1 worker and a pool of 2, in one run.
Goal: 2 workers at least 1.8x the throughput of 1 (on this 2-core machine).
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor

from agentic_design.sandbox import Sandbox

CODE = """
import time

def main(seconds):
    deadline = time.process_time() + seconds
    n = 0
    while time.process_time() < deadline:
        n += sum(i * i for i in range(1000))
    return n > 0
"""


def throughput(workers: int, designs: int, seconds: float) -> float:
    with Sandbox(workers=workers, preload=["torch"]) as sandbox:
        started = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            results = list(
                pool.map(lambda _: sandbox.run(CODE, args={"seconds": seconds}), range(designs))
            )
        elapsed = time.perf_counter() - started
    assert all(r.value is True for r in results), [r for r in results if not r.ok][:1]
    return designs / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--designs", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=0.5)
    args = parser.parse_args()
    one = throughput(1, args.designs, args.seconds)
    two = throughput(2, args.designs, args.seconds)
    print(f"1 worker   {one:6.2f} designs/s  ({args.designs} designs of {args.seconds} s CPU)")
    print(f"2 workers  {two:6.2f} designs/s")
    print(f"speed-up   {two / one:6.2f} x  (goal >= 1.8 x)")


if __name__ == "__main__":
    main()
