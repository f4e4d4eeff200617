"""The sandbox: a fork-server pool that runs untrusted design code in confined, throw-away
processes, and nothing else of agentic_design (a test holds it to that).

Its public face is this module; the rest of the package imports from here, never from the
modules behind it:

    from agentic_design.sandbox import Sandbox, SandboxLimits
    with Sandbox(workers=2, preload=["torch"]) as sb:
        r = sb.run(code, entry="main", args={"x": 1}, limits=SandboxLimits(wall_s=10))

Inside: `pool` (the `Sandbox` and its workers), `server` (the fork server each worker runs),
`framing` (length-prefixed JSON frames), `probe` (what this machine allows, found once per
server, and the report of it), `confinement` (what a child goes through before the code runs),
`cgroups`, `landlock`, `userns`, `seccomp`, and `devices` (which GPUs a worker may see).
"""

from agentic_design.sandbox.devices import (
    DeviceError,
    DevicePlan,
    plan_devices,
    requested_device,
    visible_gpus,
)
from agentic_design.sandbox.pool import (
    ERROR,
    INVALID,
    KILLED,
    MEMORY,
    OK,
    OUTPUT_LIMIT,
    STATUSES,
    TIMEOUT,
    Sandbox,
    SandboxError,
    SandboxLimits,
    SandboxResult,
)
from agentic_design.sandbox.probe import OPTIONAL as OPTIONAL_PROTECTIONS

__all__ = [
    "ERROR",
    "INVALID",
    "KILLED",
    "MEMORY",
    "OK",
    "OPTIONAL_PROTECTIONS",
    "OUTPUT_LIMIT",
    "STATUSES",
    "TIMEOUT",
    "DeviceError",
    "DevicePlan",
    "Sandbox",
    "SandboxError",
    "SandboxLimits",
    "SandboxResult",
    "plan_devices",
    "requested_device",
    "visible_gpus",
]
