"""The hostile battery's harness: run programs from tests/hostile/ in each way researchers run
the executor, simulated on a root machine with the real kernel mechanisms (issue 11, part 4).

Modes (each one a way to launch the Python process that creates the `Executor`, so the whole
pool lives in it):
    root            root with every capability (the plain machine)
    root-nocaps     root without CAP_SYS_ADMIN, CAP_SYS_CHROOT, CAP_SETUID, CAP_SETGID (user
                    namespaces available)
    container-root  root with only Docker's default capabilities (no CAP_SYS_ADMIN ...), user
                    namespaces denied by a seccomp filter (`seccomp` below)
    container-nolandlock  the same on a kernel without Landlock
    user-userns     an ordinary uid (RUNNER_UID), user namespaces available
    user-nouserns   the same uid, user namespaces denied by the seccomp filter
    user-oldkernel  the same, on a kernel whose Landlock lacks the signal scope (ABI 5)
    user-nolandlock the same, on a kernel without Landlock (denied by the seccomp filter)
Every launch, whatever the mode, runs inside a throwaway PID namespace and IPC namespace
(`unshare --pid --fork --mount-proc --ipc`, created as root before privileges are dropped), as
a child of a `sh` that is the namespace's init: a regression that runs kill(-1, 9) as root
reaches only that namespace, and IPC objects left behind die with it.

Two kinds of run per mode:
    sandbox   the runner creates an Executor per case and runs the case's programs in it
    bare      the same programs without any sandbox: each case in one plain `python` process
              (a naive in-process worker), to prove that every attack works where nothing
              contains it, i.e. that the battery can detect a leak at all

A program reports its outcome in the grid it returns: row 0 holds one 0/1 flag per leak it
managed (names in its LEAKS), row 1 (optional) informational flags (INFO). The runner adds
side effects it checks from outside (files, processes, IPC and key objects, the sentinel, the
workers), and `collect()` adds what the test's listeners received. Run as a script, this file is
the runner (`runner CONFIG.json`) or the seccomp launcher (`seccomp -- CMD...`).
"""

from __future__ import annotations

import ast
import contextlib
import ctypes
import errno
import glob
import json
import os
import platform
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
HOSTILE = HERE / "hostile"
REPO = HERE.parent
REAL_VENV = REPO / ".venv"
RUNNER_UID = 54321  # the "ordinary user": no process, no account on the CI machine
MODES = ("root", "root-nocaps", "container-root", "container-nolandlock", "user-userns",
         "user-nouserns", "user-oldkernel", "user-nolandlock")  # fmt: skip
USER_MODES = ("user-userns", "user-nouserns", "user-oldkernel", "user-nolandlock")
SECCOMP_MODES = ("container-root", "container-nolandlock", "user-nouserns", "user-oldkernel",
                 "user-nolandlock")  # fmt: skip
CONTAINER_MODES = ("container-root", "container-nolandlock")
# An older kernel, simulated: Landlock without its signal scope (ABI 5, Linux 6.10), or no
# Landlock at all (landlock_create_ruleset: ENOSYS, as before Linux 5.13 or when disabled).
EXECUTOR_OPTIONS = {"user-oldkernel": {"_worker_options": {"landlock_abi_max": 5}}}
NO_LANDLOCK_MODES = ("container-nolandlock", "user-nolandlock")
# Docker's default capability set; everything else (CAP_SYS_ADMIN, CAP_SYS_PTRACE, CAP_BPF,
# CAP_PERFMON, CAP_NET_ADMIN, CAP_SYS_RESOURCE, CAP_IPC_OWNER ...) is dropped.
DOCKER_CAPS = ("chown", "dac_override", "fowner", "fsetid", "kill", "setgid", "setuid",
               "setpcap", "net_bind_service", "net_raw", "sys_chroot", "mknod", "audit_write",
               "setfcap")  # fmt: skip
CLONE_NEWUSER = 0x10000000
GRIDS = [[[0]]]  # hostile programs: one grid each
HEALTH_GRIDS = [[[1, 2], [3, 4]], [[5, 6, 7]]]
MIRROR = "def transform(grid):\n    return [row[::-1] for row in grid]\n"
MIRRORED = [[[2, 1], [4, 3]], [[7, 6, 5]]]
SLOW = "import time\ndef transform(grid):\n    time.sleep(2)\n    return grid\n"
EXEC_TIMEOUT_S = 3.0  # per grid, in the runner's executors (reading /proc/<pid>/mem takes a while)
CONFIG_LINE = "CONFIG: dict = {}  # filled in by tests/sandbox_modes.py"
CASE_LINE = 'CASE = ""  # filled in by tests/sandbox_modes.py'


@dataclass(frozen=True)
class Case:
    """One attack: its programs run in order in one executor (`a+b`: submitted together, so `b`
    waits in the worker's input while `a` runs); `check` names the runner's outside check."""

    name: str
    steps: tuple[str, ...]
    check: str = ""
    fatal: bool = False  # may kill the runner: launched on its own
    workers: int = 1
    net: bool = False  # gets its own listeners
    attack: bool = True  # False: not an attack, no baseline to prove


CASES: tuple[Case, ...] = (
    Case("read_secret", ("read_secret",)),
    Case("read_shadow", ("read_shadow",)),
    Case("runner_environ", ("runner_environ",)),
    Case("runner_mem", ("runner_mem",)),
    Case("write_files", ("write_files",), check="files"),
    Case("plant_site", ("plant_site", "plant_site_probe"), check="site"),
    Case("remount_rw", ("remount_rw",), check="site"),
    Case("tmpfs_mount", ("tmpfs_mount", "tmpfs_probe"), check="tmpfs"),
    Case("socket_connect", ("socket_connect",), net=True),
    Case("io_uring_net", ("io_uring_net",), net=True),
    Case("setns_network", ("setns_network",), net=True),
    Case("chroot_escape", ("chroot_escape",)),
    Case("ptrace_worker", ("ptrace_worker",)),
    Case("process_vm_readv", ("process_vm_readv",)),
    Case("fork_bomb", ("fork_bomb",), check="linger"),
    Case("sysv_shm", ("sysv_shm", "sysv_shm_probe"), check="ipc"),
    Case("sysv_msg", ("sysv_msg", "sysv_msg_probe"), check="ipc"),
    Case("posix_mq", ("posix_mq", "posix_mq_probe"), check="mq"),
    Case("keyring", ("keyring", "keyring_probe"), check="keys"),
    Case("earlier_program_state", ("marker", "frame_walk+victim")),
    Case("bpf", ("bpf",)),
    Case("perf_event", ("perf_event",)),
    Case("capabilities", ("capabilities",)),
    Case("mknod_device", ("mknod_device",), check="files"),
    Case("forge_reply", ("forge_reply",)),
    Case("big_program", ("big_program",), check="big", attack=False),
    Case("kill_all", ("kill_all",), fatal=True, workers=2),
    Case("kill_runner", ("kill_runner",), fatal=True, workers=2),
)
CASE_NAMES = tuple(c.name for c in CASES)
BY_NAME = {c.name: c for c in CASES}
# Not a program: checked once per sandbox run, after every executor has closed.
JAILS_CASE = "jails_removed"


# ---- programs -------------------------------------------------------------------------------
def declared(stem: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A hostile program's LEAKS and INFO flag names (read from its source, never run here)."""
    tree = ast.parse((HOSTILE / f"{stem}.py").read_text())
    names: dict[str, tuple[str, ...]] = {"LEAKS": (), "INFO": ()}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name) and target.id in names:
                names[target.id] = tuple(ast.literal_eval(node.value))
    return names["LEAKS"], names["INFO"]


def program_source(stem: str, config: dict, case: str) -> str:
    """The program as sent: its file with the run's CONFIG (and CASE) filled in."""
    text = (HOSTILE / f"{stem}.py").read_text()
    assert CONFIG_LINE in text, f"{stem}.py lacks the CONFIG line"
    text = text.replace(CONFIG_LINE, f"CONFIG: dict = {config!r}")
    text = text.replace(CASE_LINE, f"CASE = {case!r}")
    if stem == "victim":
        text = text.replace("__NEXT_MARKER__", "ARCNB" + "NEXT-" + config["token"])
    if stem == "big_program":
        rows = [f"    {i}: [{i % 10}, {i * 7 % 10}, {i * 3 % 10}]," for i in range(8000)]
        text += "\n\nTABLE = {\n" + "\n".join(rows) + "\n}\n"
        assert len(text) >= 160_000
    return text


def flags_of(stem: str, step: dict) -> tuple[list[str], list[str]]:
    """(leak names, info names) set to 1 in a step's returned grid."""
    leaks, info = declared(stem)
    out = step.get("output")
    if step.get("status") != "ok" or not isinstance(out, list) or not out:
        return [], []
    row0 = out[0] if isinstance(out[0], list) else []
    row1 = out[1] if len(out) > 1 and isinstance(out[1], list) else []
    return (
        [n for n, v in zip(leaks, row0, strict=False) if v == 1],
        [n for n, v in zip(info, row1, strict=False) if v == 1],
    )


# ---- availability -----------------------------------------------------------------------------
def unavailable(mode: str) -> str | None:
    """Why this machine cannot simulate `mode`, or None."""
    if sys.platform != "linux" or platform.machine() != "x86_64":
        return "the battery's raw syscalls (io_uring, keyctl, mq ...) are x86_64 Linux numbers"
    if os.geteuid() != 0:
        return "simulating the modes needs root (to create namespaces, then drop privileges)"
    for tool in ("unshare", "setpriv"):
        if not shutil.which(tool):
            return f"{tool} (util-linux) is not installed"
    if mode in SECCOMP_MODES:
        try:
            import pyseccomp  # noqa: F401
        except Exception as exc:
            return f"pyseccomp is needed for the seccomp wrapper: {exc}"
    if mode in USER_MODES:
        if interpreter(mode) is None:
            return f"no Python that uid {RUNNER_UID} can execute (the venv's is unreachable)"
        try:
            pwd.getpwuid(RUNNER_UID)
            return f"uid {RUNNER_UID} has an account here; the simulated user must be unused"
        except KeyError:
            pass
        for d in glob.glob("/proc/[0-9]*"):
            try:
                if os.stat(d).st_uid == RUNNER_UID:
                    return f"uid {RUNNER_UID} has running processes; pick another"
            except OSError:
                pass
    return None


def own_addresses() -> tuple[str | None, bool]:
    """This machine's own (non-loopback) IPv4 address, and whether ::1 can be bound."""
    ip = None
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(
            ["ip", "-o", "-4", "addr", "show", "scope", "global"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout
        for line in out.splitlines():
            parts = line.split()
            if "inet" in parts:
                ip = parts[parts.index("inet") + 1].split("/")[0]
                break
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        v6 = True
    except OSError:
        v6 = False
    return ip, v6


# ---- the test's listeners ("the runner side") -------------------------------------------------
@dataclass
class Listeners:
    """TCP (127.0.0.1, ::1, own address), UDP 127.0.0.1, path and abstract unix sockets.
    Connections wait in the backlog: draining after the run sees every one that was made."""

    socks: dict[str, socket.socket] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def open(cls, folder: Path, case: str, own_ip: str | None, v6: bool) -> Listeners:
        ls = cls()
        token = secrets.token_hex(4)

        def tcp(name: str, family: int, addr: tuple) -> int:
            s = socket.socket(family, socket.SOCK_STREAM)
            s.bind(addr)
            s.listen(64)
            ls.socks[name] = s
            return s.getsockname()[1]

        ls.config["tcp_lo"] = tcp("tcp-127.0.0.1", socket.AF_INET, ("127.0.0.1", 0))
        ls.config["tcp_lo6"] = tcp("tcp-::1", socket.AF_INET6, ("::1", 0)) if v6 else None
        ls.config["own_ip"] = own_ip or "127.0.0.2"
        ls.config["tcp_own"] = tcp("tcp-own-address", socket.AF_INET, (own_ip, 0)) if own_ip else 9
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
        ls.socks["udp-127.0.0.1"] = udp
        ls.config["udp_lo"] = udp.getsockname()[1]
        path = str(folder / f"sock-{case}")
        u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        u.bind(path)
        os.chmod(path, 0o777)  # any uid may connect: the attack must be stopped by the sandbox
        u.listen(64)
        ls.socks["unix-path"] = u
        ls.config["unix_path"] = path
        name = f"arcnb-test-{case}-{token}"
        a = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        a.bind("\0" + name)
        a.listen(64)
        ls.socks["unix-abstract"] = a
        ls.config["unix_abstract"] = name
        return ls

    def drain(self) -> list[str]:
        """Names of the listeners that received anything; closes them."""
        got = []
        for name, s in self.socks.items():
            s.setblocking(False)
            try:
                if s.type == socket.SOCK_DGRAM:
                    s.recv(65536)
                else:
                    conn, _ = s.accept()
                    conn.close()
                got.append(name)
            except (BlockingIOError, InterruptedError):
                pass
            s.close()
        return got


# ---- launching ---------------------------------------------------------------------------------
def mode_command(mode: str, inner: list[str]) -> list[str]:
    """`inner` as it runs in `mode`, inside a fresh PID + IPC namespace whose init is a shell."""
    if mode in USER_MODES:
        inner = ["setpriv", f"--reuid={RUNNER_UID}", f"--regid={RUNNER_UID}", "--clear-groups",
                 "--inh-caps=-all", *inner]  # fmt: skip
    elif mode in CONTAINER_MODES:
        keep = ",".join("+" + c for c in DOCKER_CAPS)
        inner = ["setpriv", f"--bounding-set=-all,{keep}", "--inh-caps=-all", *inner]
    elif mode == "root-nocaps":  # the suite's old degraded set-up: user namespaces still work
        drop = "-sys_admin,-sys_chroot,-setuid,-setgid"
        inner = ["setpriv", f"--bounding-set={drop}", "--inh-caps=-all", *inner]
    if mode in SECCOMP_MODES:  # loaded as full root (no no_new_privs needed), kept across exec
        extra = ["--no-landlock"] if mode in NO_LANDLOCK_MODES else []
        inner = [str(REAL_VENV / "bin" / "python"), str(Path(__file__).resolve()), "seccomp",
                 *extra, "--", *inner]  # fmt: skip
    # `sh` stays the namespace's init (pid 1 ignores signals from inside), so the runner is an
    # ordinary process there that kill(-1) could reach.
    return ["unshare", "--pid", "--fork", "--mount-proc", "--ipc", "--", "/bin/sh", "-c",
            '"$@"; exit $?', "sh", *inner]  # fmt: skip


def _world_traversable(path: str) -> bool:
    """Whether any uid can reach `path` (every folder above it o+x, the file o+rx)."""
    p = Path(path)
    if not p.exists() or (p.stat().st_mode & 0o005) != 0o005:
        return False
    return all(d.stat().st_mode & 0o001 for d in p.parents)


def interpreter(mode: str) -> str | None:
    """The Python the runner uses: the project venv's, or where the simulated user cannot
    reach it (e.g. pyenv under /root, mode 0700), the system's Python of the same version."""
    real = os.path.realpath(REAL_VENV / "bin" / "python")
    if mode not in USER_MODES or _world_traversable(real):
        return real
    system = f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}"
    return system if _world_traversable(system) else None


def make_venv(folder: Path, owner: int, python: str) -> Path:
    """A venv owned by the runner's uid whose site-packages pulls in the project's venv: the
    library folder a researcher owns (and a program could plant a .pth in)."""
    real_site = next(REAL_VENV.glob("lib/python3*/site-packages"))
    venv = folder / "venv"
    site = venv / "lib" / real_site.parent.name / "site-packages"
    site.mkdir(parents=True)
    (venv / "bin").mkdir()
    os.symlink(python, venv / "bin" / "python")
    cfg = (REAL_VENV / "pyvenv.cfg").read_text().splitlines()
    cfg = [f"home = {os.path.dirname(python)}" if ln.startswith("home") else ln for ln in cfg]
    (venv / "pyvenv.cfg").write_text("\n".join(cfg) + "\n")
    (site / "_arcnb_project_venv.pth").write_text(
        f"import site; site.addsitedir({str(real_site)!r})\n"
    )
    for path in [venv, *venv.rglob("*")]:
        os.lchown(path, owner, owner)
    return venv


@dataclass
class Run:
    """Everything one (mode, kind) run produced."""

    mode: str
    kind: str
    probe: dict = field(default_factory=dict)
    cases: dict[str, dict] = field(default_factory=dict)
    final: dict = field(default_factory=dict)
    launches: list[dict] = field(default_factory=list)  # rc, stderr tail
    unsafe_probe: dict = field(default_factory=dict)  # the require_isolation="none" executor
    scipy_probe: dict = field(default_factory=dict)  # a scipy.ndimage program's result


def collect(mode: str, kind: str, cases: tuple[Case, ...] = CASES) -> Run:
    """Run `cases` in `mode` ("sandbox" or "bare"); returns the reports with outside checks."""
    run = Run(mode, kind)
    uid = RUNNER_UID if mode in USER_MODES else 0
    base = Path(tempfile.mkdtemp(prefix=f"arcnb-modes-{mode}-{kind}-", dir="/tmp"))
    os.chmod(base, 0o755)  # traversable by the runner's uid and the sandbox's
    try:
        dirs = {n: base / n for n in ("project", "world", "mnt", "tmp", "home", "cwd")}
        for d in dirs.values():
            d.mkdir()
            os.chown(d, uid, uid)
        os.chmod(dirs["world"], 0o777)
        secret = dirs["project"] / ".env"
        secret.write_text(f"PROJECT_SECRET={secrets.token_hex(16)}\n")
        os.chown(secret, uid, uid)
        os.chmod(secret, 0o600)
        venv = make_venv(base, uid, interpreter(mode) or sys.executable)
        own_ip, v6 = own_addresses()
        token = secrets.token_hex(6)
        listeners = {c.name: Listeners.open(base, c.name, own_ip, v6) for c in cases if c.net}
        st = os.stat("/")
        config = {
            "token": token,
            "secret_path": str(secret),
            "project_dir": str(dirs["project"]),
            "world_dir": str(dirs["world"]),
            "mnt_dir": str(dirs["mnt"]),
            "site_dir": str(next(venv.glob("lib/python3*/site-packages"))),
            "ipc_key": 0x100000 + int(token[:5], 16),
            "root_dev": [os.major(st.st_dev), os.minor(st.st_dev)],
            "net": {name: ls.config for name, ls in listeners.items()},
        }
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "HOME": str(dirs["home"]),
            "TMPDIR": str(dirs["tmp"]),
            # the secret a program must never see: in the runner's environment only
            "ARCNB_FAKE_KEY": "sk-" + secrets.token_hex(12),
        }
        batches = [[c for c in cases if not c.fatal]] + [[c] for c in cases if c.fatal]
        for batch in batches:
            if not batch:
                continue
            spec = {"kind": kind, "config": config, "cases": [asdict(c) for c in batch],
                    "cwd": str(dirs["cwd"]), "tmp": str(dirs["tmp"]),
                    "executor": EXECUTOR_OPTIONS.get(mode, {})}  # fmt: skip
            spec_path = base / f"spec-{batch[0].name}.json"
            spec_path.write_text(json.dumps(spec))
            os.chmod(spec_path, 0o644)
            inner = [str(venv / "bin" / "python"), str(Path(__file__).resolve()), "runner",
                     str(spec_path)]  # fmt: skip
            proc = subprocess.run(
                mode_command(mode, inner),
                capture_output=True,
                text=True,
                env=env,
                cwd=str(dirs["project"]),
                timeout=600,
            )
            run.launches.append({"cases": [c.name for c in batch], "rc": proc.returncode,
                                 "stderr": proc.stderr[-3000:]})  # fmt: skip
            forged: list[str] = []
            for line in proc.stdout.splitlines():
                try:
                    msg = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(msg, dict):
                    continue
                if "forged" in msg:
                    forged.append(line)
                elif "unsafe_probe" in msg:
                    run.unsafe_probe = msg["unsafe_probe"]
                elif "scipy_probe" in msg:
                    run.scipy_probe = msg["scipy_probe"]
                elif "probe" in msg:
                    run.probe = msg["probe"]
                elif "case" in msg:
                    if forged:
                        msg["outside"]["forged-line-reached-runner-stdout"] = True
                        forged = []
                    run.cases[msg["case"]] = msg
                elif "final" in msg:
                    run.final = msg["final"]
            for c in batch:
                if c.name not in run.cases:
                    run.cases[c.name] = {
                        "case": c.name,
                        "steps": [],
                        "outside": {"runner-died": True},
                        "healthy": False,
                        "detail": f"runner exited with {proc.returncode} before reporting; "
                        f"stderr: {proc.stderr[-500:]}",
                    }
        for name, ls in listeners.items():
            for got in ls.drain():
                run.cases[name]["outside"][f"listener-received:{got}"] = True
        # files the hostile programs may have left behind (the runner checked and removed its
        # own view; this is the machine's view, also after the namespaces are gone)
        for pattern in (f"/tmp/arcnb-pwned-{token}*", f"/dev/shm/arcnb-pwned-{token}*",
                        f"/tmp/arcnb-node-{token}", f"/dev/shm/arcnb-node-{token}"):  # fmt: skip
            for p in glob.glob(pattern):
                case = "mknod_device" if "node" in p else "write_files"
                if case in run.cases:
                    run.cases[case]["outside"][f"left-on-machine:{p}"] = True
                _remove(p)
    finally:
        _remove(str(base))
    return run


def run_python(mode: str, args: list[str], env: dict[str, str], folder: Path,
               timeout: float = 300) -> subprocess.CompletedProcess:  # fmt: skip
    """`python ARGS` as `mode`'s user, in `mode`, with `folder` (made the user's) as cwd, HOME
    and TMPDIR: e.g. the `arcnb` CLI as a researcher in that mode runs it."""
    uid = RUNNER_UID if mode in USER_MODES else 0
    os.chmod(folder, 0o755)
    venv = folder / "venv"
    if not venv.exists():
        make_venv(folder, uid, interpreter(mode) or sys.executable)
    os.chown(folder, uid, uid)
    full = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(folder),
            "TMPDIR": str(folder), **env}  # fmt: skip
    command = mode_command(mode, [str(venv / "bin" / "python"), *args])
    return subprocess.run(command, capture_output=True, text=True, env=full, cwd=folder,
                          timeout=timeout)  # fmt: skip


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        for root, ds, _ in os.walk(path):
            for d in ds:
                with contextlib.suppress(OSError):
                    os.chmod(os.path.join(root, d), 0o700)
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            os.unlink(path)


BATTERY_BUGS = {"ModuleNotFoundError", "ImportError", "NameError", "TypeError", "AttributeError",
                "KeyError", "IndexError", "SyntaxError", "UnboundLocalError", "ValueError",
                "ZeroDivisionError", "error"}  # fmt: skip


def verdict(run: Run, name: str) -> dict:
    """{"leaks": [...], "healthy": bool, "contained": bool, "info": [...], "detail": ...}"""
    if name == JAILS_CASE:
        left = run.final.get("jails_left", ["(no final report)"])
        return {"leaks": [f"jail-left:{p}" for p in left], "healthy": True,
                "contained": not left, "info": [], "detail": run.final}  # fmt: skip
    rep = run.cases[name]
    leaks, info = [], []
    for step in rep.get("steps", []):
        for stem in step["stem"].split("+"):
            sub = step if "+" not in step["stem"] else step["parts"][stem]
            got, inf = flags_of(stem, sub)
            leaks += [f"{stem}:{g}" for g in got]
            info += [f"{stem}:{i}" for i in inf]
    leaks += [k for k, v in rep.get("outside", {}).items() if v]
    broken = []  # an exception of the program's own making: the battery, not the sandbox, failed
    for step in rep.get("steps", []):
        for sub in step.get("parts", {step["stem"]: step}).values():
            if sub.get("error_type") in BATTERY_BUGS and sub["stem"] != "marker":
                broken.append(f"{sub['stem']}: {sub['error_type']}: {sub.get('error')}")
            if sub.get("status") == "executor-error" and "forged" in (sub.get("error") or ""):
                leaks.append(f"{sub['stem']}:forged-reply-reached-executor")
    refused = rep.get("refused")
    healthy = bool(rep.get("healthy")) or bool(refused)
    return {
        "leaks": leaks,
        "healthy": healthy,
        "contained": not leaks and healthy,
        "info": info,
        "battery_errors": broken,
        "refused": refused,
        "detail": {k: rep.get(k) for k in ("steps", "outside", "detail", "isolation")},
    }


# ---- the runner (runs inside the mode) --------------------------------------------------------
NAIVE_WORKER = r"""
import json, sys
def main():
    reply = None
    for line in sys.stdin.buffer:
        req = json.loads(line)
        results = []
        try:
            ns = {"__name__": "__arc_program__"}
            exec(compile(req["code"], "<program>", "exec"), ns)
            for g in req["grids"]:
                try:
                    results.append({"status": "ok", "output": ns["transform"](g)})
                except BaseException as e:
                    results.append({"status": "error", "error_type": type(e).__name__,
                                    "error": str(e)[:300]})
        except BaseException as e:
            results = [{"status": "error", "error_type": type(e).__name__,
                        "error": str(e)[:300]}] * len(req["grids"])
        reply = {"results": results}
        sys.stdout.write(json.dumps(reply, default=repr) + "\n")
        sys.stdout.flush()
main()
"""


def _emit(msg: dict) -> None:
    sys.stdout.write(json.dumps(msg, default=repr) + "\n")
    sys.stdout.flush()


def _libc() -> ctypes.CDLL:
    lib = ctypes.CDLL(None, use_errno=True)
    lib.syscall.restype = ctypes.c_long
    return lib


def _caps(field_name: str) -> str:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field_name + ":"):
                return line.split()[1]
    return ""


def _probe_mode() -> dict:
    """What this process is: uid, capabilities, whether it may create a user namespace."""
    pid = os.fork()
    if pid == 0:
        os._exit(0 if _libc().unshare(CLONE_NEWUSER) == 0 else 1)
    _, status = os.waitpid(pid, 0)
    return {
        "uid": os.getuid(),
        "cap_eff": _caps("CapEff"),
        "cap_bnd": _caps("CapBnd"),
        "seccomp": _caps("Seccomp"),
        "userns": os.waitstatus_to_exitcode(status) == 0,
        "pid": os.getpid(),
        "python": sys.executable,
        "landlock": _libc().syscall(ctypes.c_long(444), None, ctypes.c_long(0), ctypes.c_long(1)),
    }


def _step_report(stem: str, results: list) -> dict:
    r = results[0]
    return {"stem": stem, "status": r.status, "output": r.output, "error_type": r.error_type,
            "error": r.error}  # fmt: skip


def _lingering() -> list[int]:
    pids = []
    for d in glob.glob("/proc/[0-9]*"):
        try:
            with open(os.path.join(d, "comm")) as f:
                if f.read().strip() == "arcnb-linger":
                    pids.append(int(os.path.basename(d)))
        except (OSError, ValueError):
            pass
    return pids


def _key_users() -> dict[int, int]:
    users = {}
    with contextlib.suppress(OSError), open("/proc/key-users") as f:
        for line in f:
            uid, rest = line.split(":", 1)
            users[int(uid)] = int(rest.split()[1].split("/")[0])
    return users


def _find_key(desc: bytes, uid: int | None) -> bool:
    """Whether `desc` is in uid's user keyring (the runner's own when uid is None); removes it."""

    def search() -> bool:
        lib = _libc()
        kid = lib.syscall(ctypes.c_long(250), ctypes.c_long(10), ctypes.c_long(-4),
                          ctypes.c_char_p(b"user"), ctypes.c_char_p(desc), ctypes.c_long(0))  # fmt: skip
        if kid > 0:
            lib.syscall(ctypes.c_long(250), ctypes.c_long(21), ctypes.c_long(kid))  # INVALIDATE
        return kid > 0

    if uid is None:
        return search()
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            os._exit(1 if search() else 0)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 1


def _sysvipc() -> list[str]:
    left = []
    for kind in ("shm", "msg", "sem"):
        with contextlib.suppress(OSError), open(f"/proc/sysvipc/{kind}") as f:
            left += [f"{kind}:" + " ".join(line.split()[:2]) for line in f.readlines()[1:]]
    return left


def _mq_exists(name: bytes) -> bool:
    lib = _libc()
    fd = lib.syscall(
        ctypes.c_long(240), ctypes.c_char_p(name), ctypes.c_long(0), ctypes.c_long(0), None
    )
    if fd >= 0:
        lib.close(ctypes.c_int(fd))
        lib.syscall(ctypes.c_long(241), ctypes.c_char_p(name))  # mq_unlink
    return fd >= 0


def _outside_before(case: dict, config: dict) -> dict:
    """Snapshots the after-check compares against (earlier cases share the IPC namespace)."""
    if case["check"] == "keys":
        return {"key_users": _key_users()}
    if case["check"] == "ipc":
        return {"sysvipc": set(_sysvipc())}
    return {}


def _outside_after(case: dict, config: dict, before: dict) -> dict:
    """Side effects, checked by the runner once the case's executor has closed."""
    check, token = case["check"], config["token"]
    out: dict[str, bool] = {}
    if check == "files":
        names = [f"arcnb-pwned-{token}", f"arcnb-pwned-{token}-dir", f"arcnb-pwned-{token}-cwd",
                 f"arcnb-node-{token}"]  # fmt: skip
        for d in (config["world_dir"], config["project_dir"], "/tmp", "/dev/shm", os.getcwd()):
            for n in names:
                p = os.path.join(d, n)
                if os.path.lexists(p):
                    out[f"file-created:{p}"] = True
                    _remove(p)
    elif check == "site":
        for p in glob.glob(os.path.join(config["site_dir"], "arcnb_hostile_*")):
            out[f"file-in-site-packages:{os.path.basename(p)}"] = True
            _remove(p)
    elif check == "tmpfs":
        if os.path.exists(os.path.join(config["mnt_dir"], "arcnb-tmpfs-" + token)):
            out["tmpfs-visible-to-runner"] = True
    elif check == "ipc":
        for obj in sorted(set(_sysvipc()) - before["sysvipc"]):
            out[f"ipc-left-after-close:{obj}"] = True
    elif check == "mq":
        if _mq_exists(("arcnb-" + token).encode()):
            out["mq-left-after-close"] = True
    elif check == "keys":
        desc = ("arcnb-" + token).encode()
        if _find_key(desc, None):
            out["key-left-in-runner-keyring"] = True
        if os.geteuid() == 0:
            old = before.get("key_users", {})
            for _ in range(20):  # let the key GC settle before comparing counts
                changed = [u for u, n in _key_users().items() if n > old.get(u, 0)]
                if not changed:
                    break
                time.sleep(0.2)
            for u in changed:
                if u != os.getuid() and _find_key(desc, u):
                    out[f"key-left-for-uid:{u}"] = True
    return out


def _run_sandbox_case(
    case: dict, config: dict, sentinel: subprocess.Popen, tmp: str, options: dict
) -> dict:
    from arcnb.errors import ExecutorError
    from arcnb.executor import Executor

    rep: dict[str, Any] = {"case": case["name"], "steps": [], "outside": {}, "healthy": False}
    before = _outside_before(case, config)
    try:
        ex = Executor(workers=case["workers"], timeout=EXEC_TIMEOUT_S, **options).start()
    except ExecutorError as exc:  # a mode the executor refuses: nothing ran
        rep["refused"] = str(exc)
        return rep
    try:
        rep["isolation"] = ex.isolation
        for step in case["steps"]:
            stems = step.split("+")
            try:
                futures = [ex.submit(program_source(s, config, case["name"]), GRIDS) for s in stems]
                parts = {
                    s: _step_report(s, f.result()) for s, f in zip(stems, futures, strict=True)
                }
            except ExecutorError as exc:
                parts = {
                    s: {"stem": s, "status": "executor-error", "error": str(exc)} for s in stems
                }
            if len(stems) == 1:
                rep["steps"].append(parts[stems[0]])
            else:
                rep["steps"].append({"stem": step, "status": "ok", "parts": parts})
            if case["check"] == "linger":
                for pid in _lingering():
                    rep["outside"][f"process-outlived-program:{pid}"] = True
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGKILL)
        if case["check"] == "files":  # inside the jails, on the machine's disk, before close
            for p in glob.glob(os.path.join(tmp, "**", "arcnb-*-" + config["token"] + "*"),
                               recursive=True):  # fmt: skip
                rep["outside"][f"file-created-in-jail:{os.path.relpath(p, tmp)}"] = True
        if case["check"] == "big":
            rep["outside"].update(_big_program_check(config))
        try:
            health = ex.run(MIRROR, HEALTH_GRIDS)
            rep["healthy"] = [r.output for r in health] == MIRRORED
            rep["detail"] = [r.status for r in health]
        except ExecutorError as exc:
            rep["detail"] = f"health check failed: {exc}"
        if ex.replaced_workers:
            rep["outside"]["worker-killed-or-hung"] = True
    finally:
        ex.close()
    if sentinel.poll() is not None:
        rep["outside"]["sentinel-killed"] = True
    rep["outside"].update(_outside_after(case, config, before))
    return rep


def _unsafe_probe() -> dict:
    """The explicit opt-in: require_isolation="none" runs programs whatever is missing, and
    says so in its label."""
    from arcnb.errors import ExecutorError
    from arcnb.executor import Executor

    try:
        with Executor(workers=1, timeout=EXEC_TIMEOUT_S, require_isolation="none") as ex:
            out = [r.output for r in ex.run(MIRROR, HEALTH_GRIDS)]
            return {"isolation": ex.isolation, "healthy": out == MIRRORED}
    except ExecutorError as exc:
        return {"error": str(exc)}


SCIPY = """import numpy as np
from scipy import ndimage

def transform(grid):
    a = np.array(grid)
    labels, n = ndimage.label(a > 0)
    filled = ndimage.binary_fill_holes(a > 0)
    return [[n, int(filled[1, 1])]]
"""
SCIPY_GRID = [[1, 1, 1, 0, 0], [1, 0, 1, 0, 2], [1, 1, 1, 0, 0]]
SCIPY_ANSWER = [[2, 1]]  # two components; the ring's hole is filled


def _scipy_probe(options: dict) -> dict:
    """A program using scipy.ndimage, and one importing a module the sandbox lacks, in the
    mode's default executor (or its refusal)."""
    from arcnb.errors import ExecutorError
    from arcnb.executor import Executor

    try:
        with Executor(workers=1, timeout=EXEC_TIMEOUT_S, **options) as ex:
            (r,) = ex.run(SCIPY, [SCIPY_GRID])
            (m,) = ex.run("import torch\ndef transform(g):\n    return g\n", [SCIPY_GRID])
            return {"status": r.status, "output": r.output, "error": r.error,
                    "missing": [m.status, m.error_type, m.error]}  # fmt: skip
    except ExecutorError as exc:
        return {"refused": str(exc)}


def _big_program_check(config: dict) -> dict:
    """A 160 KB program queued behind a busy one: submit() must return before the busy one
    ends (a blocking pipe write would wait for it), and the big program must run normally."""
    from arcnb.executor import Executor

    out = {}
    with Executor(workers=1, timeout=10.0, depth=2) as ex1:
        slow = ex1.submit(SLOW, GRIDS)
        big = ex1.submit(program_source("big_program", config, "big_program"), HEALTH_GRIDS)
        if slow.done():
            out["submit-blocked-behind-busy-worker"] = True
        if [r.output for r in big.result()] != MIRRORED:
            out["big-program-wrong-result"] = True
        slow.result()
    return out


def _run_bare_case(case: dict, config: dict, sentinel: subprocess.Popen, cwd: str) -> dict:
    """The case's programs in one plain python process: no sandbox at all."""
    rep: dict[str, Any] = {"case": case["name"], "steps": [], "outside": {}, "healthy": True}
    before = _outside_before(case, config)
    stems = [s for step in case["steps"] for s in step.split("+")]
    payload = "".join(
        json.dumps({"code": program_source(s, config, case["name"]), "grids": GRIDS}) + "\n"
        for s in stems
    )
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}  # no key: it must come from the runner
    proc = subprocess.Popen([sys.executable, "-I", "-c", NAIVE_WORKER], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd, env=env)  # fmt: skip
    try:
        out, err = proc.communicate(payload.encode(), timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    replies = [json.loads(line) for line in out.splitlines() if line.strip()]
    parts = {}
    for s, reply in zip(stems, replies, strict=False):
        r = reply["results"][0]
        parts[s] = {"stem": s, **r}
    for step in case["steps"]:
        if "+" in step:
            sub = {s: parts.get(s, {"stem": s, "status": "missing"}) for s in step.split("+")}
            rep["steps"].append({"stem": step, "status": "ok", "parts": sub})
        else:
            rep["steps"].append(parts.get(step, {"stem": step, "status": "missing"}))
    rep["detail"] = err.decode(errors="replace")[-500:]
    if case["check"] == "linger":
        for pid in _lingering():
            rep["outside"][f"process-outlived-program:{pid}"] = True
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
    if sentinel.poll() is not None:
        rep["outside"]["sentinel-killed"] = True
    rep["outside"].update(_outside_after(case, config, before))
    return rep


def runner_main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    _emit({"probe": _probe_mode()})
    sentinel = subprocess.Popen([sys.executable, "-I", "-c", "import time; time.sleep(3600)"])
    config = dict(spec["config"], runner_pid=os.getpid(), sentinel_pid=sentinel.pid)
    # The workers' TMPDIR (only there: another process's pool may be using /tmp meanwhile)
    jail_glob = [os.path.join(spec["tmp"], "arcnb-jail-*")]
    jails_before = {p for g in jail_glob for p in glob.glob(g)}
    if spec["kind"] == "sandbox" and spec["cases"] and not spec["cases"][0]["fatal"]:
        _emit({"unsafe_probe": _unsafe_probe()})
        _emit({"scipy_probe": _scipy_probe(spec["executor"])})
    try:
        for case in spec["cases"]:
            if sentinel.poll() is not None:  # killed by an earlier case: a fresh one
                sentinel = subprocess.Popen(
                    [sys.executable, "-I", "-c", "import time; time.sleep(3600)"]
                )
                config["sentinel_pid"] = sentinel.pid
            if spec["kind"] == "sandbox":
                rep = _run_sandbox_case(case, config, sentinel, spec["tmp"], spec["executor"])
            else:
                rep = _run_bare_case(case, config, sentinel, spec["cwd"])
            _emit(rep)
        if spec["kind"] == "sandbox":
            left = sorted({p for g in jail_glob for p in glob.glob(g)} - jails_before)
            _emit({"final": {"jails_left": left}})
    finally:
        sentinel.kill()


# ---- the seccomp wrapper: a container / a machine without user namespaces --------------------
def seccomp_main(argv: list[str], no_landlock: bool = False) -> None:
    """Load a filter denying user namespaces (unshare/clone with CLONE_NEWUSER: EPERM, clone3:
    ENOSYS so that libc falls back to clone, setns: EPERM), and with `no_landlock` Landlock
    (ENOSYS), then exec argv. Run as full root, so the filter loads without no_new_privs; it
    is inherited across the exec and setpriv."""
    import pyseccomp as seccomp

    f = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    f.set_attr(seccomp.Attr.CTL_NNP, 0)
    eperm = seccomp.ERRNO(errno.EPERM)
    newuser = seccomp.Arg(0, seccomp.MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER)
    f.add_rule(eperm, "unshare", newuser)
    f.add_rule(eperm, "clone", newuser)
    f.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    f.add_rule(eperm, "setns")
    if no_landlock:
        for name in ("landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self"):
            f.add_rule(seccomp.ERRNO(errno.ENOSYS), name)
    f.load()
    os.execvp(argv[0], argv)


def matrix_main(modes: list[str], kind: str = "sandbox") -> None:
    """Print the battery's result per mode: `python tests/sandbox_modes.py matrix [MODE...]`."""
    for mode in modes or MODES:
        reason = unavailable(mode)
        if reason:
            print(f"== {mode}: skipped: {reason}")
            continue
        run = collect(mode, kind)
        print(f"== {mode} ({kind}) probe={run.probe}")
        for name in (*CASE_NAMES, *((JAILS_CASE,) if kind == "sandbox" else ())):
            v = verdict(run, name)
            state = "contained" if v["contained"] else "LEAKS"
            extra = "" if v["healthy"] else " (next program NOT healthy)"
            broken = f" BATTERY ERROR {v['battery_errors']}" if v.get("battery_errors") else ""
            print(f"{name:24s} {state:9s} {', '.join(v['leaks'])}{extra}{broken}")


if __name__ == "__main__":
    if sys.argv[1] == "matrix":
        args = sys.argv[2:]
        kind = "bare" if "--bare" in args else "sandbox"
        matrix_main([a for a in args if a != "--bare"], kind)
    elif sys.argv[1] == "runner":
        runner_main(sys.argv[2])
    elif sys.argv[1] == "seccomp":
        seccomp_main(sys.argv[sys.argv.index("--") + 1 :], "--no-landlock" in sys.argv)
    else:
        raise SystemExit(f"unknown command {sys.argv[1]!r}")
