"""Per-call overhead of the warm sandbox, against a fresh interpreter and an in-process call.

    python benchmarks/sandbox_overhead.py [--calls 60] [--fresh 5] [--as-user UID] [--disable NAME]

A trivial torch design (sum of a small tensor) is run three ways, all in this one run so the
ratios share the machine's current load:
  in-process   exec of the code and a call in this interpreter (no isolation at all)
  warm sandbox Sandbox(preload=["torch"]).run(...): fork, confine, run, reply, clean up
  fresh        `python -c "import torch ..."` in a new subprocess, as a per-candidate subprocess
               evaluator pays it
Goals: warm-sandbox overhead at most 25 ms (median), at least 50x faster than a fresh interpreter.

`--as-user UID` (as root) measures an ordinary user's sandbox instead: the benchmark runs again
as that user, whose server enters a user namespace and becomes pid 1 of a pid namespace of its
own (see agentic_design.sandbox.userns). Run it without and with the flag, one after the other, for
the cost of a user namespace per evaluation; add
`--disable "user namespace"` for that user's sandbox on a kernel that forbids them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

from agentic_design.sandbox import Sandbox, userns

CODE = "import torch\n\ndef main():\n    return float(torch.ones(4).sum())\n"


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def in_process(calls: int) -> list[float]:
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        namespace: dict = {}
        exec(CODE, namespace)
        assert namespace["main"]() == 4.0
        times.append(time.perf_counter() - started)
    return times


def warm_sandbox(calls: int, disable: list[str]) -> tuple[list[float], list[dict]]:
    with Sandbox(workers=1, preload=["torch"], disable=disable) as sandbox:
        sandbox.run(CODE)  # the first call warms caches, as every later one finds them
        times = []
        for _ in range(calls):
            started = time.perf_counter()
            result = sandbox.run(CODE)
            times.append(time.perf_counter() - started)
            assert result.value == 4.0, result
        return times, sandbox.protections


def fresh_interpreter(calls: int) -> list[float]:
    times = []
    command = [sys.executable, "-c", "import torch; print(float(torch.ones(4).sum()))"]
    for _ in range(calls):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=60)
    parser.add_argument("--fresh", type=int, default=5)
    parser.add_argument("--as-user", type=int, metavar="UID", help="run as this user (as root)")
    parser.add_argument("--disable", action="append", default=[], help="a protection to turn off")
    args = parser.parse_args()
    if args.as_user is not None:
        sys.exit(as_user(args.as_user, args.calls, args.fresh, args.disable))
    import torch  # noqa: F401 - the in-process baseline must not pay for the first import

    inproc = median_ms(in_process(args.calls))
    sandbox_times, protections = warm_sandbox(args.calls, args.disable)
    warm = median_ms(sandbox_times)
    fresh = median_ms(fresh_interpreter(args.fresh))
    active = [p["name"] for p in protections if p["enabled"]]
    print(f"as uid {os.geteuid()}; protections in force: {', '.join(active)}")
    print(f"in-process call      median {inproc:8.2f} ms  ({args.calls} calls)")
    print(f"warm sandbox call    median {warm:8.2f} ms  ({args.calls} calls)")
    print(f"fresh interpreter    median {fresh:8.2f} ms  ({args.fresh} runs)")
    overhead = warm - inproc
    print(f"sandbox overhead     median {overhead:8.2f} ms  (goal <= 25 ms)")
    print(f"fresh / warm sandbox        {fresh / warm:8.1f} x  (goal >= 50 x)")


def as_user(uid: int, calls: int, fresh: int, disable: list[str]) -> int:
    """This benchmark again, run by user `uid`; its exit code."""
    if os.geteuid() != 0:
        sys.exit("--as-user: only root can run the benchmark as another user")
    found = userns.python_for(uid)
    if isinstance(found, str):
        sys.exit(f"--as-user: {found}")
    command, env = found
    script = os.path.abspath(__file__)
    environment = {"PATH": "/usr/bin:/bin", "HOME": "/", "LANG": "C.UTF-8", **env}
    arguments = [*command, script, "--calls", str(calls), "--fresh", str(fresh)]
    arguments += [f"--disable={name}" for name in disable]
    run = subprocess.run(arguments, env=environment, cwd="/", user=uid, group=uid, extra_groups=[])
    return run.returncode


if __name__ == "__main__":
    main()
