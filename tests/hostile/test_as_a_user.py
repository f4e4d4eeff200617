"""The hostile designs again, run by an ordinary user.

CI runs as root, so the test drops to uid 65534 (nobody) itself: it starts pytest as that user
on the key checks (network, files, fork bomb, memory), once as a user's sandbox is by default
(in a user namespace of its own) and once with the user namespace turned off, as on a kernel
that forbids them; it runs `sandbox-info` as that user, and as that user inside a user
namespace in which no other may be made (where `sandbox-info` must name the setting). Apart
from that one switch, every protection is one the user really has or lacks: none is turned off
to imitate them.

The user needs a Python they may run: this environment's, where every user may read it, else
the system's of the same version with this environment's packages as its user site
(PYTHONUSERBASE). Without one, or not as root, these tests are skipped, saying why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from agentic_design.sandbox import userns
from agentic_design.sandbox.probe import world_readable

from .conftest import DISABLED

NOBODY = 65534
REPO = Path(__file__).resolve().parents[2]
HOSTILE = "tests/hostile"
KEY_CHECKS = [
    f"{HOSTILE}/test_as_a_user.py::test_the_protections_match_who_runs_the_sandbox",
    f"{HOSTILE}/test_network.py",
    f"{HOSTILE}/test_escape.py",
    f"{HOSTILE}/test_kernel_objects.py",
    f"{HOSTILE}/test_broker.py",
    f"{HOSTILE}/test_secrets.py",
    f"{HOSTILE}/test_forged_scores.py",
    f"{HOSTILE}/test_runaway.py::test_an_infinite_loop_times_out",
    f"{HOSTILE}/test_runaway.py::test_a_fork_bomb_is_capped_and_cleaned_up",
    f"{HOSTILE}/test_runaway.py::test_a_memory_bomb_hits_the_memory_limit",
    f"{HOSTILE}/test_runaway.py::test_memory_in_memfd_is_limited",
    f"{HOSTILE}/test_runaway.py::test_filling_the_disk_stops_at_the_private_directory_size",
    f"{HOSTILE}/test_runaway.py::test_a_daemonised_grandchild_dies_with_its_evaluation",
    f"{HOSTILE}/test_runaway.py::test_a_stdout_flood_is_cut_and_capped",
    f"{HOSTILE}/test_results.py::test_a_segfault_is_reported_as_killed",
]
# Not test_memory_held_by_several_processes_together_is_limited: without a memory cgroup (a
# user on cgroup v1, as here) only its 60-second wall clock stops it; run it as a user by hand.
# Not test_adas_archives.py: refusing an archive happens before any sandbox, the same for
# every user.


def test_the_protections_match_who_runs_the_sandbox(hostile):
    """Runs in every mode (root, and as the user below): the report fits the user."""
    namespaces = ("network namespace", "private filesystem", "pid namespace")
    limit = hostile.detail("process limit")
    if os.geteuid() == 0:
        assert not hostile.in_force("user namespace")  # root needs none
        assert hostile.server["cgroup"] or "RLIMIT_NPROC does not bind root" in limit
        return
    assert hostile.in_force("uid drop") and "does not bind root" not in limit
    if hostile.in_force("user namespace"):
        assert all(hostile.in_force(name) for name in namespaces)
        assert "root only inside its user namespace" in hostile.detail("capabilities")
    else:  # turned off, or forbidden by the kernel: the report says why, and means it
        assert hostile.detail("user namespace")
        assert not any(hostile.in_force(name) for name in namespaces)
    if not hostile.server["cgroup"]:
        assert "RLIMIT_NPROC" in limit and hostile.in_force("process limit")


@pytest.fixture(scope="module")
def python() -> tuple[list[str], dict[str, str]]:
    """The command that runs this environment's Python as the user, and what its environment
    needs for that."""
    if os.geteuid() != 0 or DISABLED:
        pytest.skip("only root can start a process as another user (and it does, once)")
    if not world_readable(REPO):
        pytest.skip(f"{REPO} is not readable by other users")
    found = userns.python_for(NOBODY, cwd=str(REPO))
    if isinstance(found, str):
        pytest.skip(found)
    return found


@pytest.fixture(scope="module")
def home():
    """A home of the user's own outside /tmp (a sandbox's private /tmp would hide it), for
    its data cache and for a write Landlock must refuse."""
    scratch = REPO / ".pytest_cache"
    scratch.mkdir(exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="as-a-user-", dir=scratch))
    os.chown(path, NOBODY, NOBODY)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def as_user(command: list[str], home: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    environment = {
        "HOME": str(home),
        "AGENTIC_DESIGN_CACHE": str(home / "cache"),
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "COLUMNS": "500",  # sandbox-info's table unwrapped
        "PYTHONDONTWRITEBYTECODE": "1",
        **env,
    }
    return subprocess.run(
        command,
        cwd=REPO,
        env=environment,
        user=NOBODY,
        group=NOBODY,
        extra_groups=[],
        capture_output=True,
        text=True,
        timeout=900,  # only against a hang: the run itself takes well under a minute
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "disable", ["", "user namespace"], ids=["in a user namespace", "user namespaces forbidden"]
)
def test_the_key_hostile_checks_pass_as_an_ordinary_user(python, home, disable):
    command, env = python
    # In one process (`-n 0` over pyproject's `-n 2`): the checks' processes all count against
    # the one user's process limit, and a fork bomb in one worker would starve the other.
    pytest_run = [*command, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0", *KEY_CHECKS]
    result = as_user(pytest_run, home, {**env, "AGENTIC_DESIGN_HOSTILE_DISABLE": disable})
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert " passed" in result.stdout.splitlines()[-1]


@pytest.mark.slow
def test_sandbox_info_as_an_ordinary_user_says_what_they_get(python, home):
    command, env = python
    result = as_user([*command, "-m", "agentic_design", "sandbox-info"], home, env)
    assert result.returncode == 0, result.stderr
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if "│" in line}
    assert "does not bind root" not in result.stdout
    assert "RLIMIT_NPROC" in rows["process limit"] or "pids cgroup" in rows["process limit"]
    assert f"uid {NOBODY}" in result.stdout
    if "yes" in rows["user namespace"].split("│")[2]:
        assert f"uid {NOBODY} root inside it" in rows["user namespace"]
        assert "yes" in rows["pid namespace"].split("│")[2]


@pytest.mark.slow
def test_where_the_kernel_forbids_user_namespaces_sandbox_info_names_the_setting(python):
    command, env = python
    code, output = where_user_namespaces_are_forbidden(
        [*command, "-m", "agentic_design", "sandbox-info"], env
    )
    assert code == 0, output
    rows = {line.split("│")[1].strip(): line for line in output.splitlines() if "│" in line}
    assert "no" in rows["user namespace"].split("│")[2]
    assert "user.max_user_namespaces = 0" in rows["user namespace"]
    assert "sysctl -w user.max_user_namespaces" in rows["user namespace"]
    assert "no" in rows["pid namespace"].split("│")[2]
    assert "RLIMIT_NPROC, which counts every process and thread of uid" in output


def where_user_namespaces_are_forbidden(command: list[str], env: dict[str, str]):
    """Run `command` as uid 1000 of a user namespace (uid 65534 outside it) in which no user
    namespace may be made: a kernel that forbids them, as far as its processes can tell.
    (exit code, stdout and stderr)."""
    import ctypes

    output, into = os.pipe()
    unshared, tell = os.pipe()
    mapped, wait = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.dup2(into, 1)
            os.dup2(into, 2)
            if ctypes.CDLL(None, use_errno=True).unshare(userns.CLONE_NEWUSER) == 0:
                os.write(tell, b"1")
                os.read(mapped, 1)  # the parent has written the maps
                Path("/proc/sys/user/max_user_namespaces").write_text("0")
                os.setgroups([])
                os.setgid(1000)
                os.setuid(1000)
                os.chdir(REPO)
                environment = {"HOME": "/", "PATH": "/usr/bin:/bin", "COLUMNS": "500", **env}
                os.execve(command[0], command, environment)
        finally:
            os._exit(127)
    for fd in (into, tell, mapped):
        os.close(fd)
    if os.read(unshared, 1) == b"1":
        for name in ("uid_map", "gid_map"):
            Path(f"/proc/{pid}/{name}").write_text(f"0 0 1\n1000 {NOBODY} 1\n")
    os.write(wait, b"1")
    with os.fdopen(output, "rb") as pipe:
        text = pipe.read().decode(errors="replace")
    for fd in (unshared, wait):
        os.close(fd)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), text
