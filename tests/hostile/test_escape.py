"""Designs that try to reach outside: network, files, secrets, labels, other processes."""

import hashlib
import os
import socket
from pathlib import Path

import pytest

import agentic_design
from agentic_design.tasks import load_task


def accepted(listener: socket.socket) -> bool:
    """Whether anyone connected to the listener (which has a short accept timeout)."""
    try:
        connection, _ = listener.accept()
    except TimeoutError:
        return False
    connection.close()
    return True


def test_no_connection_reaches_a_listener_on_loopback(hostile):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    body = """
import socket
s = socket.socket()
s.settimeout(2)
s.connect(("127.0.0.1", args["port"]))
s.sendall(b"stolen")
return "connected"
"""
    try:
        result = hostile.run(body, args={"port": port})
        assert result.status == "error"
        assert any(word in result.error for word in ("unreachable", "Permission", "refused"))
        assert not accepted(listener), "the design reached the test's listener"
    finally:
        listener.close()


def test_environment_secrets_are_not_visible(hostile, monkeypatch):
    from agentic_design.sandbox import Sandbox

    monkeypatch.setenv("MY_SERVICE_TOKEN", "tok-123-secret")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-secret")
    with Sandbox(workers=1, preload=[]) as fresh:
        result = fresh.run("import os\ndef main():\n    return dict(os.environ)\n")
    assert result.status == "ok"
    assert not any("secret" in value for value in result.value.values())


def test_other_processes_environ_cannot_be_read(hostile, monkeypatch):
    monkeypatch.setenv("AGENTIC_TEST_SECRET", "do-not-leak-4711")
    os.environ["AGENTIC_TEST_SECRET"] = "do-not-leak-4711"
    body = """
found, visible = [], 0
for entry in os.listdir("/proc"):
    if not entry.isdigit():
        continue
    visible += 1
    try:
        with open(f"/proc/{entry}/environ", "rb") as f:
            if b"do-not-leak-4711" in f.read():
                found.append(entry)
    except OSError:
        pass
return {"found": found, "visible": visible}
"""
    result = hostile.run(body)
    assert result.status == "ok", result.error
    assert result.value["found"] == []


def test_writing_outside_its_directory_is_denied(hostile, tmp_path):
    # The host's /tmp is not even visible (the child has its own); elsewhere Landlock refuses.
    in_tmp = tmp_path / "escaped.txt"
    result = hostile.run(f"open({str(in_tmp)!r}, 'w').write('x')")
    private = hostile.in_force("private filesystem")
    assert result.status == "error"
    assert ("No such file or directory" if private else "Permission denied") in result.error
    # Landlock refuses where the user may write (their home); a user with no home of their own
    # (nobody) meets the file system's own refusal, at the root.
    home = Path.home()
    elsewhere = (home if os.access(home, os.W_OK) else Path("/")) / "agentic-design-escaped.txt"
    result = hostile.run(f"open({str(elsewhere)!r}, 'w').write('x')")
    # (a home under /tmp, as a checkout there gives the test's user, is not even visible)
    hidden = private and elsewhere.is_relative_to("/tmp")
    refusal = "No such file or directory" if hidden else "Permission denied"
    assert result.status == "error" and refusal in result.error
    beside_the_package = Path(agentic_design.__file__).parent / "escaped.txt"
    result = hostile.run(f"open({str(beside_the_package)!r}, 'w').write('x')")
    assert result.status == "error"
    assert any(w in result.error for w in ("Permission denied", "Read-only file system"))
    assert not in_tmp.exists() and not elsewhere.exists() and not beside_the_package.exists()


def test_host_unix_sockets_are_out_of_reach(hostile, tmp_path, request):
    if not hostile.in_force("private filesystem"):
        # What a user's sandbox lets through without a mount namespace: Landlock has no right
        # for connecting to a socket file.
        request.applymarker(pytest.mark.xfail(strict=True, reason="no private filesystem"))
    path = tmp_path / "host.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)
    listener.settimeout(0.5)
    body = """
import socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(args["path"])
s.sendall(b"stolen")
return "connected"
"""
    try:
        result = hostile.run(body, args={"path": str(path)})
        assert result.status == "error"
        assert not accepted(listener), "the design reached a Unix socket of the host"
    finally:
        listener.close()


def test_the_packages_own_source_cannot_be_opened_for_writing(hostile):
    source = Path(agentic_design.__file__).parent / "run" / "evaluation.py"
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    result = hostile.run(f"open({str(source)!r}, 'a').write('# pwned')")
    assert result.status == "error"
    # Landlock refuses; where the checkout lies under /tmp, its read-only bind mount does too
    assert any(w in result.error for w in ("Permission denied", "Read-only file system"))
    assert hashlib.sha256(source.read_bytes()).hexdigest() == digest


def test_the_scorers_labels_cannot_be_read(hostile):
    task = load_task("digits")
    task.prepare()
    (inputs,) = task.sandbox_readable()
    labels = inputs.replace(".inputs.npz", ".labels.npz")
    body = """
from agentic_design.tasks import load_task
task = load_task("digits")
seen = sorted(task.inputs())
try:
    open(args["labels"], "rb").read()
    return {"seen": seen, "labels": "read"}
except OSError as exc:
    return {"seen": seen, "labels": type(exc).__name__}
"""
    result = hostile.run(body, args={"labels": labels}, readable=(inputs,))
    assert result.status == "ok", result.error
    # Landlock refuses the file; a cache under /tmp is not even there in the private /tmp
    hidden = hostile.in_force("private filesystem") and Path(labels).is_relative_to("/tmp")
    assert result.value == {
        "seen": ["x_test", "x_train", "x_validation", "y_train"],
        "labels": "FileNotFoundError" if hidden else "PermissionError",
    }


def test_killing_every_process_in_sight_spares_the_server(hostile):
    body = """
for entry in os.listdir("/proc"):
    if entry.isdigit() and int(entry) != os.getpid():
        try:
            os.kill(int(entry), signal.SIGKILL)
        except OSError:
            pass
for target in (os.getppid(), 0, -1):
    try:
        os.kill(target, signal.SIGKILL)
    except OSError:
        pass
return "done"
"""
    result = hostile.run(body)
    assert result.status in ("ok", "killed")
    # the autouse checks assert that the same server is alive and still serving


def test_limits_cannot_be_raised(hostile):
    body = "import resource\nresource.setrlimit(resource.RLIMIT_AS, (-1, -1))"
    result = hostile.run(body)
    assert result.status == "error" and "not allowed" in result.error


def test_the_process_cap_cannot_be_escaped(hostile):
    cgroup = hostile.server["cgroup"]
    if cgroup is not None:
        result = hostile.run(f"open({cgroup + '/pids.max'!r}, 'w').write('max')")
        assert result.status == "error" and "Permission denied" in result.error
    elif "RLIMIT_NPROC" in hostile.detail("process limit"):  # a user without a pids cgroup
        body = "import resource\nresource.setrlimit(resource.RLIMIT_NPROC, (-1, -1))"
        result = hostile.run(body)
        assert result.status == "error" and "not allowed" in result.error
    # else nothing caps processes on this machine to escape from; sandbox-info says so


def test_mounting_is_not_allowed(hostile):
    body = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
rc = libc.mount(b"tmpfs", b"/tmp", b"tmpfs", 0, None)
return [rc, ctypes.get_errno()]
"""
    result = hostile.run(body)
    assert result.status == "ok" and result.value[0] == -1


def test_the_data_behind_the_labels_cannot_be_rebuilt(hostile):
    # The public datasets the tasks are made from would give the held-out labels back.
    for task_name, body in (
        ("digits", "from sklearn.datasets import load_digits\nload_digits()"),
        ("mnist1d", "import mnist1d.data"),
    ):
        task = load_task(task_name)
        task.prepare()
        limits = {
            "readable": tuple(task.sandbox_readable()),
            "hidden": tuple(task.sandbox_hidden()),
        }
        result = hostile.run(body + "\nreturn 'rebuilt'", **limits)
        assert result.status == "error", (task_name, result)
        assert any(w in result.error for w in ("Permission denied", "No module named")), (
            result.error
        )
