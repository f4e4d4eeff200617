"""Where the sandbox's cgroups go and why not, what keeps a user from a user namespace, and a
child's own session keyring.

The cgroup v2 decisions are tested on fake trees: this machine mounts cgroup v1, so making a
v2 cgroup for real is exercised only on a v2 machine (see docs/concepts/sandbox.md, "As an
ordinary user"). Each tree is
described by the text of /proc/self/cgroup and /proc/self/mountinfo, as the kernel writes them.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
from pathlib import Path

import pytest

from agentic_design.sandbox import cgroups, confinement, seccomp, userns

# This machine's (hybrid: v1 controllers, a v2 hierarchy with none).
HYBRID_CGROUP = """9:name=systemd:/
8:pids:/
4:memory:/process_api/2678fb6e5fcb
1:cpu:/
0::/
"""


def v2_mountinfo(mountpoint: Path, root: str = "/") -> str:
    return (
        "22 27 0:21 / /proc rw,relatime - proc proc rw\n"
        f"31 23 0:28 {root} {mountpoint} rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 "
        "rw,nsdelegate,memory_recursiveprot\n"
    )


def fake_tree(top: Path, enabled: dict[str, str], owners: dict[str, int] | None = None) -> None:
    """A cgroup v2 tree: for each path under `top`, a cgroup whose cgroup.subtree_control lists
    `enabled[path]`; `owners` chowns some (what delegating them does)."""
    for path, controllers in enabled.items():
        folder = top / path.strip("/")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "cgroup.controllers").write_text("cpu memory pids\n")
        (folder / "cgroup.procs").write_text("")
        (folder / "cgroup.subtree_control").write_text(controllers + "\n")
    for path, uid in (owners or {}).items():
        folder = top / path.strip("/")
        for item in (folder, *folder.iterdir()):
            os.chown(item, uid, uid)


SYSTEMD = {
    "/": "cpu memory pids",
    "/user.slice": "memory pids",
    "/user.slice/user-1000.slice": "memory pids",
    "/user.slice/user-1000.slice/session-3.scope": "",
    "/user.slice/user-1000.slice/user@1000.service": "memory pids",
    "/user.slice/user-1000.slice/user@1000.service/app.slice": "memory pids",
    "/user.slice/user-1000.slice/user@1000.service/app.slice/term.scope": "",
}
DELEGATED = {
    "/user.slice/user-1000.slice/user@1000.service": 1000,
    "/user.slice/user-1000.slice/user@1000.service/app.slice": 1000,
    "/user.slice/user-1000.slice/user@1000.service/app.slice/term.scope": 1000,
}


def test_proc_self_cgroup_is_read_per_controller_and_v1_wins_where_it_holds_them():
    own = cgroups.own_cgroups(HYBRID_CGROUP)
    assert own["pids"] == "/" and own["memory"] == "/process_api/2678fb6e5fcb"
    assert own[""] == "/" and "name=systemd" in own
    assert cgroups.version(own) == 1
    assert cgroups.version(cgroups.own_cgroups("0::/user.slice/x.scope\n")) == 2
    assert cgroups.version({}) == 0


def test_mountinfo_gives_each_cgroup2_mount_with_escaped_paths_read_back():
    text = v2_mountinfo(Path("/sys/fs/cgroup/my\\040tree"), root="/docker/abc")
    assert cgroups.cgroup2_mounts(text) == [("/docker/abc", "/sys/fs/cgroup/my tree")]
    assert cgroups.cgroup2_mounts("27 1 254:0 / / rw - ext4 /dev/vda rw\n") == []


def test_root_makes_its_leaf_beneath_the_nearest_slice_that_enables_both(tmp_path):
    fake_tree(tmp_path, SYSTEMD)
    site = cgroups.find_v2_site(
        "0::/user.slice/user-1000.slice/session-3.scope\n", v2_mountinfo(tmp_path), uid=0
    )
    assert site.parent == tmp_path / "user.slice/user-1000.slice"
    assert site.controllers == ("pids", "memory") and site.why_not == ""


def test_a_user_makes_theirs_in_the_subtree_systemd_delegates_to_them(tmp_path):
    fake_tree(tmp_path, SYSTEMD, DELEGATED)
    own = "0::/user.slice/user-1000.slice/user@1000.service/app.slice/term.scope\n"
    site = cgroups.find_v2_site(own, v2_mountinfo(tmp_path), uid=1000)
    # its own scope holds processes, so it may not enable controllers: the slice above does
    assert site.parent == tmp_path / "user.slice/user-1000.slice/user@1000.service/app.slice"
    assert site.controllers == ("pids", "memory")


def test_a_user_in_a_login_session_gets_none_and_is_told_how_to_get_one(tmp_path):
    fake_tree(tmp_path, SYSTEMD, DELEGATED)
    site = cgroups.find_v2_site(
        "0::/user.slice/user-1000.slice/session-3.scope\n", v2_mountinfo(tmp_path), uid=1000
    )
    assert site.parent is None
    assert "user-1000.slice, belongs to uid 0, not 1000" in site.why_not
    assert "systemd-run --user --scope" in site.why_not


@pytest.mark.parametrize(
    "own, root",
    [("/", "/"), ("/docker/abc", "/docker/abc")],
    ids=["a cgroup namespace", "the host's, its cgroup mounted alone"],
)
def test_a_container_whose_cgroup_holds_its_processes_gets_none(tmp_path, own, root):
    # Docker: its processes sit in the cgroup mounted as its root, which enables nothing for
    # its children and, holding processes, may not.
    fake_tree(tmp_path, {"/": ""})
    site = cgroups.find_v2_site(f"0::{own}\n", v2_mountinfo(tmp_path, root=root), uid=0)
    assert site.parent is None and "no-internal-processes" in site.why_not


def test_the_hierarchys_own_root_may_hold_processes_and_still_be_the_parent(tmp_path):
    fake_tree(tmp_path, {"/": "memory pids"})
    site = cgroups.find_v2_site("0::/\n", v2_mountinfo(tmp_path), uid=0)
    assert site.parent == tmp_path


def test_only_the_controllers_enabled_are_promised(tmp_path):
    fake_tree(tmp_path, {"/": "pids", "/a.slice": ""})
    site = cgroups.find_v2_site("0::/a.slice\n", v2_mountinfo(tmp_path), uid=0)
    assert site.parent == tmp_path and site.controllers == ("pids",)
    assert "does not enable memory" in site.why_not


def test_a_cgroup_mounted_elsewhere_or_not_at_all_is_said_so(tmp_path):
    fake_tree(tmp_path, {"/": "memory pids"})
    elsewhere = cgroups.find_v2_site("0::/\n", v2_mountinfo(tmp_path, root="/other"), uid=0)
    assert elsewhere.parent is None and "not mounted here" in elsewhere.why_not
    v1_only = cgroups.find_v2_site("4:memory:/\n", v2_mountinfo(tmp_path), uid=0)
    assert v1_only.parent is None and "no cgroup v2" in v1_only.why_not


def test_a_leaf_that_is_not_a_real_cgroup_is_refused_and_removed(tmp_path):
    # A plain directory gets no pids.max when made: the kernel did not make it a cgroup.
    fake_tree(tmp_path, {"/": "memory pids"})
    made = cgroups._make_v2("42", cgroups.Site(tmp_path, ("pids", "memory")), True, True)
    assert made.version == 2 and made.pids is None and made.memory is None
    assert "has no pids.max" in made.pids_why_not
    assert not (tmp_path / "agentic-design-42").exists()


def test_a_missing_controller_is_reported_with_the_sites_reason(tmp_path):
    site = cgroups.Site(None, why_not="no cgroup enables them")
    made = cgroups._make_v2("42", site, pids=True, memory=False)
    assert made.pids is None and made.pids_why_not == "cgroup v2: no cgroup enables them"
    assert made.memory_why_not == ""


@pytest.mark.parametrize(
    "files, written",
    [
        ({"memory.limit_in_bytes": "-1"}, {"memory.limit_in_bytes": str(300 << 20)}),
        (
            {"memory.max": "max", "memory.swap.max": "max"},
            {"memory.max": str(300 << 20), "memory.swap.max": "0"},
        ),
    ],
    ids=["v1", "v2"],
)
def test_the_memory_limit_goes_to_the_files_of_the_cgroups_version(tmp_path, files, written):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    cgroups.set_memory_limit(str(tmp_path), 300)
    assert {name: (tmp_path / name).read_text() for name in files} == written
    cgroups.set_memory_limit(str(tmp_path), None)
    assert (tmp_path / next(iter(files))).read_text() in ("-1", "max")


def test_oom_kills_are_read_from_either_version(tmp_path):
    v1, v2 = tmp_path / "v1", tmp_path / "v2"
    v1.mkdir()
    v2.mkdir()
    (v1 / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n")
    (v2 / "memory.events").write_text("low 0\nhigh 0\nmax 9\noom 2\noom_kill 2\n")
    assert cgroups.oom_kills(str(v1)) == 3 and cgroups.oom_kills(str(v2)) == 2


# -- user namespaces ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings, named",
    [
        ({"kernel.unprivileged_userns_clone": "0"}, "kernel.unprivileged_userns_clone = 0"),
        (
            {"kernel.apparmor_restrict_unprivileged_userns": "1"},
            "kernel.apparmor_restrict_unprivileged_userns = 1",
        ),
        ({"user.max_user_namespaces": "0"}, "user.max_user_namespaces = 0"),
        ({"kernel.unprivileged_userns_clone": "1", "user.max_user_namespaces": "96365"}, None),
    ],
)
def test_the_setting_that_forbids_user_namespaces_is_named(settings, named):
    reason = userns.forbidden_by(settings)
    if named is None:
        assert reason is None
    else:
        assert reason is not None and reason.startswith(named) and "sysctl" in reason


def test_the_settings_are_read_where_the_kernel_has_them(tmp_path):
    (tmp_path / "kernel").mkdir()
    (tmp_path / "user").mkdir()
    (tmp_path / "kernel" / "unprivileged_userns_clone").write_text("0\n")
    (tmp_path / "user" / "max_user_namespaces").write_text("63000\n")
    assert userns.read_settings(str(tmp_path)) == {
        "kernel.unprivileged_userns_clone": "0",
        "user.max_user_namespaces": "63000",
    }


def test_rlimit_nproc_outside_a_user_namespace_counts_every_thread_of_the_uid(tmp_path):
    for pid, uid, threads in ((10, 1000, 4), (11, 1000, 1), (12, 0, 30), (13, 1001, 2)):
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "status").write_text(
            f"Name:\tx\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\nThreads:\t{threads}\n"
        )
    (tmp_path / "self").mkdir()
    assert userns.tasks_of(1000, str(tmp_path)) == 5


def test_a_server_enters_a_user_namespace_in_which_no_other_can_be_made():
    """For real, in a child: the mapping works and a design inside cannot nest another."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            nested_refused = userns.enter()
            code = 0 if os.getuid() == 0 else 3
            if nested_refused:
                code = code or (4 if _unshare_user() != errno.ENOSPC else 0)
        except OSError as exc:
            os.write(write_end, str(exc).encode())
            code = 2
        os._exit(code)
    os.close(write_end)
    why = os.read(read_end, 1000).decode()
    os.close(read_end)
    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    if code == 2:
        pytest.skip(f"this kernel refuses user namespaces here: {why}")
    assert code == 0, f"exit {code}"


def _unshare_user() -> int:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    return 0 if libc.unshare(userns.CLONE_NEWUSER) == 0 else ctypes.get_errno()


# -- keyrings ----------------------------------------------------------------------------------


def test_a_child_leaves_the_servers_session_keyring_for_an_empty_one_of_its_own():
    """For real, in a forked child: its session keyring is another, and holds no key."""
    number = seccomp.ARCHES[platform.machine()].keyctl
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long

    def keyctl(*args: int | None) -> int:
        wrapped = [ctypes.c_long(a) if isinstance(a, int) else a for a in args]
        return int(libc.syscall(ctypes.c_long(number), *wrapped))

    session_keyring, read = 0, 11  # KEYCTL_GET_KEYRING_ID, KEYCTL_READ
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            before = keyctl(session_keyring, -3, 1)  # the session's, made if there is none
            confinement.join_session_keyring()
            after = keyctl(session_keyring, -3, 0)
            keys = keyctl(read, after, None, 0)  # a keyring reads as 4 bytes per key in it
            os.write(write_end, f"{before} {after} {keys}".encode())
        except OSError as exc:
            os.write(write_end, f"skip {exc}".encode())
        finally:
            os._exit(0)
    os.close(write_end)
    answer = os.read(read_end, 1000).decode()
    os.close(read_end)
    os.waitpid(pid, 0)
    if answer.startswith("skip") or answer.startswith("-1"):
        pytest.skip(f"this kernel keeps no keyrings here: {answer}")
    before, after, keys = (int(word) for word in answer.split())
    assert after > 0 and after != before and keys == 0
