"""The hostile battery in every mode researchers run the executor in (issue 11, part 4).

Each case (a program, or a few, from tests/hostile/) runs in a fresh Executor inside each
simulated mode (see tests/sandbox_modes.py: root; container root without CAP_SYS_ADMIN and
without user namespaces; an ordinary user with and without user namespaces, the latter also on
a simulated older kernel (Landlock without its signal scope) and one without Landlock), every
launch in a throwaway PID + IPC namespace. "Contained" means: no leak flag in what the programs
returned, no side effect seen from outside (files, listeners, processes, IPC and key objects,
sentinel, workers), and a normal program runs correctly right after in the same executor (or
the executor refused to start, with its reason).

The same programs also run with no sandbox at all (`bare`), to prove that each attack works
where nothing contains it: a battery that can never detect anything would pass too.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
import sandbox_modes as sm

pytestmark = pytest.mark.slow  # about ten seconds per mode, both kinds

CAP_SYS_ADMIN = 21
NO_USERNS = ("user-nouserns", "user-oldkernel", "user-nolandlock")

# Where the attack does NOT work even without a sandbox (the mode itself forbids it); in every
# other mode the bare run must show it.
NOT_IN_BARE: dict[str, dict[str, str]] = {
    "read_shadow": {m: "an ordinary uid cannot read /etc/shadow" for m in sm.USER_MODES},
    "tmpfs_mount": {
        m: "no CAP_SYS_ADMIN, no user namespace to get one"
        for m in (*sm.CONTAINER_MODES, *NO_USERNS)
    },
    "setns_network": {
        m: "setns() needs CAP_SYS_ADMIN over the target namespace"
        for m in ("root-nocaps", *sm.CONTAINER_MODES, *sm.USER_MODES)
    },
    "chroot_escape": {m: "chroot needs CAP_SYS_CHROOT, no user namespace" for m in NO_USERNS},
    "bpf": {
        m: "kernel.unprivileged_bpf_disabled: only CAP_BPF/CAP_SYS_ADMIN"
        for m in (*sm.CONTAINER_MODES, *sm.USER_MODES)
    },
    "mknod_device": {m: "mknod of a device needs CAP_MKNOD" for m in sm.USER_MODES},
}

# Leak flags that are no leak in a mode, by design (the README's table says so too).
BY_DESIGN: dict[tuple[str, str], str] = {
    (m, "capabilities:bounding-set"): "an ordinary user without a user namespace cannot drop "
    "the bounding set (CAP_SETPCAP); it holds no capability and no_new_privs is set, so the "
    "bounding set can grant nothing"
    for m in NO_USERNS
}
BY_DESIGN[("root-nocaps", "capabilities:uid-0")] = (
    "root without CAP_SETUID can map only its own uid into a user namespace: the program's uid "
    "is 0 but it holds no capability (all dropped, securebits NOROOT locked) and its jail shows "
    "only the read-only library folders"
)

# What each mode's executor reports (None: it refuses by default, with this in its reason).
LABELS: dict[str, dict | None] = {
    "root": {"level": "full", "namespaces": ["net", "mount", "ipc", "pid"],
             "filesystem": "chroot+mounts", "uid": "unprivileged", "signals": "pid namespace",
             "network": "netns"},
    "root-nocaps": {"level": "partial", "namespaces": ["user", "net", "mount", "ipc", "pid"],
                    "filesystem": "chroot+mounts", "uid": "runner's (user namespace)",
                    "signals": "pid namespace", "network": "netns"},
    "container-root": {"level": "partial", "namespaces": [], "filesystem": "landlock",
                       "uid": "unprivileged", "signals": "own uid", "network": "seccomp"},
    "container-nolandlock": {"level": "partial", "namespaces": [], "filesystem": "chroot",
                             "uid": "unprivileged", "signals": "own uid", "network": "seccomp"},
    "user-userns": {"level": "partial", "namespaces": ["user", "net", "mount", "ipc", "pid"],
                    "filesystem": "chroot+mounts", "uid": "runner's (user namespace)",
                    "signals": "pid namespace", "network": "netns"},
    "user-nouserns": {"level": "partial", "namespaces": [], "filesystem": "landlock",
                      "uid": "same-as-worker", "signals": "landlock scope", "network": "seccomp"},
    "user-oldkernel": {"level": "partial", "namespaces": [], "filesystem": "landlock",
                       "uid": "same-as-worker", "signals": "seccomp: self only",
                       "network": "seccomp"},
    "user-nolandlock": None,
}  # fmt: skip
_RUNS: dict[tuple[str, str], sm.Run] = {}


def run_of(mode: str, kind: str) -> sm.Run:
    """The battery's run in `mode` (launched once per session, every case in it)."""
    reason = sm.unavailable(mode)
    if reason:
        pytest.skip(f"{mode} cannot be simulated here: {reason}")
    if (mode, kind) not in _RUNS:
        _RUNS[(mode, kind)] = sm.collect(mode, kind)
    return _RUNS[(mode, kind)]


def _contained_params():
    for mode in sm.MODES:
        for case in (*sm.CASE_NAMES, sm.JAILS_CASE):
            yield pytest.param(mode, case, id=f"{mode}-{case}")


@pytest.mark.parametrize("mode", sm.MODES)
def test_mode_is_simulated(mode):
    """The launch really is the mode: uid, capabilities, user namespaces, a fresh PID
    namespace (the runner is pid 2, under the namespace's `sh`)."""
    probe = run_of(mode, "sandbox").probe
    assert probe, "the runner did not start"
    eff, bnd = int(probe["cap_eff"], 16), int(probe["cap_bnd"], 16)
    assert probe["pid"] == 2
    if mode == "root":
        assert probe["uid"] == 0 and eff >> CAP_SYS_ADMIN & 1 and probe["userns"]
    elif mode == "root-nocaps":
        assert probe["uid"] == 0 and not eff >> CAP_SYS_ADMIN & 1 and probe["userns"]
    elif mode in sm.CONTAINER_MODES:
        assert probe["uid"] == 0 and not eff >> CAP_SYS_ADMIN & 1 and not probe["userns"]
        assert eff == bnd and probe["seccomp"] == "2"
    else:
        assert probe["uid"] == sm.RUNNER_UID and eff == 0
        assert probe["userns"] == (mode == "user-userns")
    assert (probe["landlock"] > 0) == (mode not in sm.NO_LANDLOCK_MODES), probe


@pytest.mark.parametrize(("mode", "case"), list(_contained_params()))
def test_contained(mode, case):
    v = sm.verdict(run_of(mode, "sandbox"), case)
    assert not v.get("battery_errors"), f"the battery's program broke: {v['battery_errors']}"
    leaks = [leak for leak in v["leaks"] if (mode, leak) not in BY_DESIGN]
    assert not leaks and v["healthy"], (
        f"leaks: {leaks}; healthy afterwards: {v['healthy']}; detail: {v['detail']}"
    )
    if case == sm.JAILS_CASE:
        return
    if LABELS[mode] is None:  # this mode must be refused, every case
        assert v["refused"], f"{mode} ran model code instead of refusing: {v['detail']}"
    else:
        assert not v["refused"], f"{mode} refused: {v['refused']}"


@pytest.mark.parametrize("mode", sm.MODES)
def test_isolation_label_says_what_holds(mode):
    """Executor.isolation names the mechanisms actually in force, per mode; a mode where
    nothing confines the filesystem is refused with a one-line reason naming the opt-in, and
    the opt-in (require_isolation="none") runs, labelled level "none"."""
    run = run_of(mode, "sandbox")
    first = run.cases[sm.CASE_NAMES[0]]
    expected = LABELS[mode]
    if expected is None:
        reason = first.get("refused") or ""
        assert "refuses to run model code" in reason and "--require-isolation none" in reason
        assert "\n" not in reason
        probe = run.unsafe_probe
        assert probe.get("healthy") and probe["isolation"]["level"] == "none", probe
        assert any("no filesystem restriction" in m for m in probe["isolation"]["missing"])
        return
    iso = first["isolation"]
    assert {k: iso[k] for k in expected} == expected
    assert iso["seccomp"].startswith("deny-list") and iso["capabilities"].startswith("all dropped")
    assert bool(iso["missing"]) == (expected["level"] != "full")
    assert run.unsafe_probe.get("healthy"), run.unsafe_probe


def _bare_params():
    for case in sm.CASES:
        if case.attack:
            for mode in sm.MODES:
                works = mode not in NOT_IN_BARE.get(case.name, {})
                yield pytest.param(mode, case.name, works, id=f"{mode}-{case.name}")


@pytest.mark.parametrize(("mode", "case", "works"), list(_bare_params()))
def test_attack_works_without_sandbox(mode, case, works):
    """Plain python, same mode, no sandbox: the attack succeeds (where the mode permits it),
    so the battery does detect what it claims to."""
    v = sm.verdict(run_of(mode, "bare"), case)
    assert not v.get("battery_errors"), f"the battery's program broke: {v['battery_errors']}"
    if works:
        assert v["leaks"], f"{case} detected nothing without a sandbox: {v['detail']}"
    else:
        assert not v["leaks"], f"{case} unexpectedly works here: {NOT_IN_BARE[case][mode]}"


@pytest.fixture
def user_folder():
    """A folder the simulated user can reach, outside pytest's tmp (0700, and reset to 0700
    by any pytest session that starts meanwhile)."""
    folder = Path(tempfile.mkdtemp(prefix="arcnb-modes-cli-", dir="/tmp"))
    yield folder
    sm._remove(str(folder))


def test_cli_refuses_before_any_request_where_nothing_confines(scripted_server, user_folder):
    """`arcnb run` on a machine where nothing can confine model code (an ordinary user, no user
    namespaces, no Landlock): one error line, exit 2, no request sent, nothing written. With
    the explicit opt-in it runs, and config.json says level "none"."""
    mode = "user-nolandlock"
    reason = sm.unavailable(mode)
    if reason:
        pytest.skip(f"{mode} cannot be simulated here: {reason}")
    program = "```python\ndef transform(grid):\n    return [row[::-1] for row in grid]\n```"
    server = scripted_server({"default": {"content": program}})
    folder = user_folder
    logs = folder / "logs"
    args = ["-m", "arcnb.cli", "run", "--base-url", server.base_url, "--model", "m",
            "--api-key-env", "MY_KEY", "--task-ids", "3c9b0459", "--max-attempts", "1",
            "--output-dir", str(logs), "--no-progress"]  # fmt: skip
    env = {"MY_KEY": "fake-key-isolation-0123456789"}
    refused = sm.run_python(mode, args, env, folder)
    assert refused.returncode == 2, refused.stderr
    lines = [ln for ln in refused.stderr.splitlines() if "error:" in ln]
    assert len(lines) == 1 and "Traceback" not in refused.stderr, refused.stderr
    assert "refuses to run model code" in lines[0] and "--require-isolation none" in lines[0]
    assert server.requests == [] and not logs.exists()

    ran = sm.run_python(mode, [*args, "--require-isolation", "none"], env, folder)
    assert ran.returncode == 0, ran.stderr
    assert "runs model code UNCONFINED" in ran.stderr  # the warning says so
    (config,) = logs.glob("*/config.json")
    isolation = json.loads(config.read_text())["isolation"]
    assert isolation["level"] == "none" and isolation["required"] == "none"
    assert len(server.requests) == 1


@pytest.mark.parametrize("mode", sm.MODES)
def test_scipy_in_every_mode(mode):
    """A program using scipy.ndimage (label, binary_fill_holes) runs in every mode the
    executor runs in; importing a module the sandbox lacks is its own error category."""
    probe = run_of(mode, "sandbox").scipy_probe
    if LABELS[mode] is None:
        assert "refuses to run model code" in probe.get("refused", ""), probe
        return
    assert (probe["status"], probe["output"]) == ("ok", sm.SCIPY_ANSWER), probe
    status, error_type, error = probe["missing"]
    assert (status, error_type) == ("error", "ModuleNotAvailable"), probe
    assert "'torch' is not available in the sandbox" in error
