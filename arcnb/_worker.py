"""Warm execution worker: runs as a standalone script, never as part of the arcnb package.

The pool (`arcnb.executor`) starts one of these per core with a scrubbed environment:
`python -I -B _worker.py '<json config>'`. It imports numpy and the modules programs
commonly use, builds its sandbox once (namespaces, jail, seccomp filter, Landlock ruleset),
then serves requests on stdin and answers on stdout. It never runs untrusted code itself: every
program runs in a fresh child forked from it, which enters the jail, drops every privilege and
is killed at its deadline.

Defence in depth, each mechanism detected by trying it (never by uid), all reported in the
ready line's "isolation" (see `Executor.isolation` and the README's table):
- namespaces: network, mount, IPC and PID, directly (root) or inside a user namespace (an
  ordinary user where the kernel allows it). With a PID namespace the worker forks a "zygote"
  that is the namespace's init and serves requests: a program's kill(-1) reaches nothing but
  itself, and nothing outside the namespace can be seen or signalled;
- the filesystem: a chroot into a read-only tmpfs holding only the Python library folders,
  bind-mounted read-only (mount namespace); or a chroot into an empty read-only folder with
  modules preloaded (root without CAP_SYS_ADMIN, e.g. a container); or Landlock (an ordinary
  user, Linux >= 5.13): read-only access beneath the library folders, nothing else;
- in the child, after the jail: a uid that is not the runner's where switching is permitted,
  every capability dropped (bounding, effective, permitted, inheritable, ambient),
  no_new_privs, then a seccomp deny-list (`DENIED`: io_uring, ptrace, process_vm_*, mount and
  namespace calls, bpf, perf_event_open, keyrings, module and kexec calls, SysV IPC and POSIX
  message queues, socket() of every family, execve, fork/clone, pidfd_*), plus kill() limited to itself
  where neither a PID namespace, another uid nor Landlock's signal scope confines signals;
- resource limits: address space, CPU, file size 0, one process (no fork, no thread), no core.

Protocol: each request is a decimal byte count on its own line, then that many bytes of JSON
{"code": str, "grids": [grid, ...], "timeout": float, "compile_timeout": float}; the worker
reads exactly one request at a time, so a forked child never holds a later program's request.
Each response is one JSON line {"results": [{"status", "output", "error_type", "error",
"duration"}, ...]}. The first line the worker writes is {"ready": true, "isolation": {...}}.

Two clocks per child: `compile_timeout` covers the sandbox set-up, `compile()` and the
program's top level, up to the child's first line ({"c": "ok"}, or the reason it failed);
then each grid's `timeout` covers only `transform` on that grid. A child killed at a grid's
deadline is replaced by a new one for the remaining grids, which compiles under its own limit.

This file imports nothing from the arcnb package, so that it starts fast and never puts the
package within a program's reach. The one rule it shares, what a program may return, lives in
`arcnb/grid.py` (standard library only), which it loads by file path: `validate_grid` is
`arcnb.grid.model_output`.
"""

from __future__ import annotations

import ctypes
import errno
import importlib.util
import json
import math
import os
import resource
import select
import signal
import struct
import sys
import tempfile
import time
import types


def _load_grid_module():  # -> the module arcnb/grid.py, loaded as a file, not as arcnb.grid
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "grid.py")
    spec = importlib.util.spec_from_file_location("_arcnb_grid", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_grid = _load_grid_module()
validate_grid = _grid.model_output  # (grid, None) or (None, reason); see arcnb/grid.py
MAX_SIDE = _grid.MAX_SIDE  # ARC grids are at most 30x30
RESULT_CAP = 64 * 1024  # bytes per grid result line; a 30x30 grid is ~2.7 KB of JSON
MAX_REQUEST = 64 * 1024 * 1024  # bytes; a request header announcing more is a pool bug
JAIL_PREFIX = "arcnb-jail-"  # + the worker's pid + "-" + random: the pool sweeps dead ones

CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = (
    0x00020000, 0x08000000, 0x10000000, 0x20000000, 0x40000000,
)  # fmt: skip
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = (
    1, 2, 4, 8, 32, 4096, 16384, 1 << 18,
)  # fmt: skip
# statvfs flags of a mount that a bind remount inside a user namespace must keep (locked)
_LOCKED = ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC),
           (os.ST_NOATIME, 1024), (os.ST_NODIRATIME, 2048), (os.ST_RELATIME, 1 << 21))  # fmt: skip
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_SECUREBITS = 1, 24, 28
PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, PR_SET_SECCOMP = 38, 47, 4, 22
SECCOMP_MODE_FILTER = 2
SECBITS_NOROOT_LOCKED = 0x23  # NOROOT (+ locked), KEEP_CAPS locked off
_CAP_VERSION_3 = 0x20080522

# Denied in every child (EPERM), whatever else is in force: nothing a transform() needs.
DENIED = (
    "io_uring_setup", "io_uring_enter", "io_uring_register",  # gets around socket() filters
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp",
    "pidfd_open", "pidfd_getfd", "pidfd_send_signal",
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "mount_setattr",
    "move_mount", "open_tree", "fsopen", "fsconfig", "fsmount", "fspick",
    "open_by_handle_at", "name_to_handle_at",
    "bpf", "perf_event_open", "userfaultfd", "keyctl", "add_key", "request_key",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "reboot", "swapon", "swapoff", "acct", "syslog", "quotactl", "vhangup", "iopl", "ioperm",
    "sethostname", "setdomainname", "settimeofday", "clock_settime", "clock_adjtime",
    "adjtimex", "personality", "mknod", "mknodat",
    "shmget", "shmat", "shmctl", "shmdt", "msgget", "msgsnd", "msgrcv", "msgctl",
    "semget", "semop", "semtimedop", "semctl",
    "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive", "mq_notify", "mq_getsetattr",
    "socket", "socketpair", "execve", "execveat",
    "process_madvise", "migrate_pages", "move_pages",
)  # fmt: skip
# Denied when the first argument names another process (0 means the caller itself).
DENIED_FOR_OTHERS = ("prlimit64", "sched_setaffinity", "sched_setscheduler", "sched_setparam")
# Landlock (struct layouts and bits from <linux/landlock.h>)
LANDLOCK_CREATE_RULESET, LANDLOCK_ADD_RULE, LANDLOCK_RESTRICT_SELF = 444, 445, 446
_FS_BITS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 4: (1 << 15) - 1,
                   5: (1 << 16) - 1}  # fmt: skip
_LL_READ = (1 << 2) | (1 << 3)  # READ_FILE | READ_DIR

# Modules loaded before any fork, so that a program imports them for free. Every module loaded
# here makes each fork slower (numpy.random alone doubles its cost), so the heavier ones are
# only preloaded when the child cannot import them itself, i.e. when the worker could not
# mount the Python library folders read-only inside the child's empty root.
PRELOAD = [
    "numpy", "numpy.linalg", "numpy.lib.stride_tricks", "collections", "collections.abc",
    "itertools", "functools", "math", "copy", "heapq", "bisect", "re", "operator", "typing",
    "dataclasses", "string", "enum", "abc", "json", "types", "numbers", "contextlib", "time",
    "socket", "encodings.idna", "traceback",
]  # fmt: skip
HEAVY_PRELOAD = [
    "numpy.fft", "numpy.random", "numpy.ma", "numpy.polynomial", "numpy.typing", "cmath",
    "statistics", "random", "fractions", "decimal", "array", "queue", "struct", "warnings",
    "pprint", "textwrap", "unicodedata", "weakref", "inspect", "datetime",
    "scipy", "scipy.ndimage",  # 150 ms to import, and each fork costs about 2.5x as much
]  # fmt: skip
# A program's whole environment. One BLAS thread: a library loaded lazily (scipy's own
# OpenBLAS) would otherwise try to start a thread per core, which RLIMIT_NPROC refuses, and
# OpenBLAS answers that with SIGINT.
CHILD_ENV = {"PATH": "/nonexistent", "HOME": "/", "LANG": "C.UTF-8", "OPENBLAS_NUM_THREADS": "1",
             "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}  # fmt: skip
# What a program may import, in words (the system prompt says the same): everything else is a
# ModuleNotAvailable error.
AVAILABLE = "the Python standard library, numpy and scipy"


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


def _library_dirs() -> list[str]:
    """The Python library folders on sys.path: those under the interpreter's prefixes, and
    site-packages folders added by .pth files. Never the project folder an editable install
    puts on sys.path, which may hold a .env with keys."""
    libs = {os.path.realpath(os.path.join(p, "lib")) for p in (sys.prefix, sys.base_prefix)}

    def library(path: str) -> bool:
        real = os.path.realpath(path)
        name = os.path.basename(real)
        return name in ("site-packages", "dist-packages") or any(
            real.startswith(lib + os.sep) for lib in libs
        )

    dirs = sorted({os.path.realpath(p) for p in sys.path if p and os.path.isdir(p) and library(p)})
    return [d for d in dirs if not any(d.startswith(o + os.sep) for o in dirs if o != d)]


def _build_filters() -> list[bytes]:
    """The deny-list as BPF programs: the worker's own (`DENIED`, loaded once by the forking
    process after its set-up, so every child inherits it at no cost) and the child's two
    variants (no fork, vfork, clone: no new process or thread where RLIMIT_NPROC does not
    bind, i.e. for uid 0; the second also lets kill() and friends target only 0, the caller's
    own process group, i.e. itself), loaded by each child that needs one with one prctl."""
    import pyseccomp as sc

    eperm = sc.ERRNO(errno.EPERM)
    worker = sc.SyscallFilter(defaction=sc.ALLOW)
    for name in DENIED:
        try:
            worker.add_rule(eperm, name)
        except Exception:  # a name this libseccomp or architecture does not know
            pass
    for name in DENIED_FOR_OTHERS:
        worker.add_rule(eperm, name, sc.Arg(0, sc.NE, 0))
    children = []
    for deny_kill in (False, True):
        child = sc.SyscallFilter(defaction=sc.ALLOW)
        for name in ("fork", "vfork", "clone"):
            child.add_rule(eperm, name)
        child.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")  # flags behind a pointer: libc falls back
        if deny_kill:
            for name in ("kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo"):
                child.add_rule(eperm, name, sc.Arg(0, sc.NE, 0))
        children.append(child)
    programs = []
    for f in (worker, *children):
        with tempfile.TemporaryFile() as out:
            f.export_bpf(out)
            out.seek(0)
            programs.append(out.read())
    return programs


def _seccomp_filters() -> list[bytes] | None:
    """`_build_filters`' programs, built in a throwaway child: importing pyseccomp maps
    enough to make every later fork of this process about 0.6 ms slower (measured). None when
    libseccomp is unavailable."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rfd)
        try:
            data = json.dumps([p.hex() for p in _build_filters()]).encode()
        except Exception:
            data = b"null"
        while data:
            data = data[os.write(wfd, data) :]
        os._exit(0)
    os.close(wfd)
    chunks = []
    while chunk := os.read(rfd, 1 << 16):
        chunks.append(chunk)
    os.close(rfd)
    os.waitpid(pid, 0)
    try:
        programs = json.loads(b"".join(chunks))
    except ValueError:
        return None
    return [bytes.fromhex(p) for p in programs] if programs else None


def _load_filter(libc: ctypes.CDLL, bpf: bytes) -> None:
    buf = ctypes.create_string_buffer(bpf, len(bpf))
    prog = _SockFprog(len(bpf) // 8, ctypes.addressof(buf))
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        raise OSError("seccomp filter failed")


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _landlock_abi(libc: ctypes.CDLL) -> int:
    return max(0, libc.syscall(LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0), 1))


def _landlock_ruleset(libc: ctypes.CDLL, abi: int, dirs: list[str]) -> int:
    """A Landlock ruleset fd: read-only beneath `dirs`, no other filesystem access; from ABI 4
    no TCP bind/connect, from ABI 6 no signal or abstract unix socket outside the domain."""
    fs = _FS_BITS_BY_ABI.get(abi, (1 << 16) - 1)
    net = 3 if abi >= 4 else 0
    scoped = 3 if abi >= 6 else 0
    attr = struct.pack("QQQ", fs, net, scoped)
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    buf = ctypes.create_string_buffer(attr, len(attr))
    fd = libc.syscall(LANDLOCK_CREATE_RULESET, buf, ctypes.c_size_t(size), 0)
    if fd < 0:
        return -1
    for d in dirs:
        dfd = os.open(d, os.O_PATH | os.O_CLOEXEC)
        rule = ctypes.create_string_buffer(struct.pack("=Qi", _LL_READ, dfd), 12)
        ok = libc.syscall(LANDLOCK_ADD_RULE, fd, 1, rule, 0) == 0  # LANDLOCK_RULE_PATH_BENEATH
        os.close(dfd)
        if not ok:
            os.close(fd)
            return -1
    return fd


class Worker:
    """Builds the sandbox once; forks one child per program and collects its per-grid results
    under deadlines."""

    def __init__(self, config: dict) -> None:
        self.memory_bytes = int(config.get("memory_mb", 512)) * 1024 * 1024
        self.libc = _libc()
        self.uid = None
        # No PR_SET_PDEATHSIG here: it fires when the *thread* that started us ends, and the
        # pool starts replacement workers from short-lived threads. The worker ends instead
        # when its stdin closes, i.e. when the pool's process is gone.
        for name in PRELOAD:  # numpy first
            __import__(name)
        # Before the namespaces: after unshare(CLONE_NEWPID) the first child is the init.
        filters = _seccomp_filters()
        self.namespaces = self._unshare()
        self.outer_pid = os.getpid()  # the jail's name and the program's uid derive from it
        # The jail's mount point, made here so that this process can remove it whatever ends
        # the one that serves (forked now: the first child is a new PID namespace's init).
        self.jail: str | None = tempfile.mkdtemp(prefix=f"{JAIL_PREFIX}{self.outer_pid}-")
        _zygote_or_wait(self.jail)
        self.libraries = "none"
        self.landlock_fd = -1
        if "mount" in self.namespaces:
            self._tmpfs_jail()
        landlock_abi = min(_landlock_abi(self.libc), int(config.get("landlock_abi_max", 99)))
        if self.libraries == "none" and landlock_abi > 0:  # no mount namespace: Landlock
            fd = _landlock_ruleset(self.libc, landlock_abi, _library_dirs())
            if fd >= 0:
                self._remove_jail()
                self.landlock_fd, self.libraries = fd, "read-only (landlock)"
        if self.libraries == "none" and self.jail:  # neither: an empty chroot, if permitted
            self._empty_jail()
        # A uid unique to this worker: RLIMIT_NPROC binds it, and a program's kill(-1) can only
        # reach its own processes, never another worker's child.
        uid = 200000 + self.outer_pid
        can_chroot, can_setuid, can_read = self._probe(uid)
        if self.jail and not can_chroot:
            self._remove_jail()
        self.uid = uid if can_setuid and "user" not in self.namespaces else None
        if self.landlock_fd >= 0 and self.uid is not None and not can_read:
            self.libraries = "preloaded only (library folders unreadable for the program's uid)"
        if self.libraries.startswith("preloaded only"):
            for name in HEAVY_PRELOAD:
                try:
                    __import__(name)
                except ImportError:  # scipy not installed: programs get ModuleNotAvailable
                    pass
        if self.jail is not None:
            self.filesystem = (
                "chroot" if self.libraries.startswith("preloaded") else "chroot+mounts"
            )
        else:
            self.filesystem = "landlock" if self.landlock_fd >= 0 else "none"
        if "pid" in self.namespaces:
            signals = "pid namespace"
        elif self.uid is not None:
            signals = "own uid"
        elif self.landlock_fd >= 0 and landlock_abi >= 6:
            signals = "landlock scope"
        else:
            signals = "seccomp: self only"
        deny_kill = signals == "seccomp: self only"
        self.bpf, self.child_bpf = (filters[0], filters[1 + deny_kill]) if filters else (None, None)
        # RLIMIT_NPROC already stops a child's fork unless its uid is 0 (exempt): the child's
        # own filter costs a little per fork, so it is loaded only where it adds something.
        if signals != "seccomp: self only" and (self.uid is not None or os.geteuid() != 0):
            self.child_bpf = None
        if self.bpf is None and signals == "seccomp: self only":
            signals = "none"
        with open("/proc/sys/kernel/cap_last_cap") as f:
            self.cap_last = int(f.read())
        # Address space already mapped (interpreter, numpy, BLAS) is not the program's fault;
        # the program gets memory_mb on top of it.
        with open("/proc/self/statm") as f:
            self.base_vm = int(f.read().split()[0]) * resource.getpagesize()
        self.unreaped: list[int] = []  # children killed whose exit is not yet collected
        ipc = "ipc" in self.namespaces
        self.isolation = {
            "namespaces": [
                n for n in ("user", "net", "mount", "ipc", "pid") if n in self.namespaces
            ],
            "network": "netns" if "net" in self.namespaces else "seccomp" if self.bpf else "none",
            "filesystem": self.filesystem,
            "libraries": self.libraries,
            "uid": "unprivileged"
            if self.uid is not None
            else "runner's (user namespace)"
            if "user" in self.namespaces
            else "same-as-worker",
            "signals": signals,
            "ipc": ("namespace+seccomp" if ipc else "seccomp")
            if self.bpf
            else ("namespace" if ipc else "none"),
            "capabilities": "all dropped, no_new_privs",
            "seccomp": f"deny-list ({len(DENIED) + len(DENIED_FOR_OTHERS) + 4} calls)"
            if self.bpf
            else "none",
            "landlock_abi": landlock_abi,
            "limits": ["address-space", "cpu", "file-size-0", "nproc-1", "core-0"],
            "memory_mb": self.memory_bytes // (1024 * 1024),
        }
        self._seal()

    def _seal(self) -> None:
        """Confine the forking process itself, once, as far as it can go while still able to
        fork and set up children: no bounding set, root never regains capabilities, the jail
        as its root, no_new_privs, the Landlock domain where the children's uid already keeps
        their signals in (otherwise each child enters a domain of its own, for the signal
        scope), the seccomp deny-list. Every child inherits all of it."""
        prctl = self.libc.prctl
        self.devnull = os.open(os.devnull, os.O_RDWR)  # the children's stdio, from inside
        for cap in range(self.cap_last + 1):  # needs CAP_SETPCAP; a no-op for an ordinary user
            prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
        prctl(PR_SET_SECUREBITS, SECBITS_NOROOT_LOCKED, 0, 0, 0)  # fails harmlessly unprivileged
        if self.jail:
            os.chroot(self.jail)
        os.chdir("/" if self.jail or self.landlock_fd >= 0 else tempfile.gettempdir())
        if prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError("no_new_privs failed")
        if self.landlock_fd >= 0 and self.uid is not None:
            if self.libc.syscall(LANDLOCK_RESTRICT_SELF, self.landlock_fd, 0):
                raise OSError("landlock_restrict_self failed")
            os.close(self.landlock_fd)
            self.landlock_fd = -1  # done once, here
        if self.bpf:
            _load_filter(self.libc, self.bpf)

    # ---- set-up, once per worker ---------------------------------------------------------
    def _unshare(self) -> set[str]:
        """Enter new namespaces: directly where permitted (root), else inside a new user
        namespace; returns the names of those in force."""
        got: set[str] = set()
        uid, gid = os.getuid(), os.getgid()  # as the parent namespace sees them
        if self.libc.unshare(CLONE_NEWNET) == 0:
            got.add("net")
        elif self.libc.unshare(CLONE_NEWUSER) == 0:
            got.add("user")
            try:  # identity map: files keep their owners, and the program is not uid 0
                with open("/proc/self/setgroups", "w") as f:
                    f.write("deny")
                with open("/proc/self/uid_map", "w") as f:
                    f.write(f"{uid} {uid} 1")
                with open("/proc/self/gid_map", "w") as f:
                    f.write(f"{gid} {gid} 1")
            except OSError:
                pass
            if self.libc.unshare(CLONE_NEWNET) == 0:
                got.add("net")
        for name, flag in (("mount", CLONE_NEWNS), ("ipc", CLONE_NEWIPC), ("pid", CLONE_NEWPID)):
            if self.libc.unshare(flag) == 0:
                got.add(name)
        return got

    def _tmpfs_jail(self) -> None:
        """A read-only tmpfs, in this worker's mount namespace, holding only the library
        folders bind-mounted read-only. On disk the jail is an empty folder (the mount point):
        nothing to clean up but that folder, whatever kills the worker. Where a mount is
        refused, nothing stays mounted and `libraries` stays "none"."""
        mount, jail = self.libc.mount, self.jail.encode()
        if mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
            return
        if mount(b"tmpfs", jail, b"tmpfs", MS_NOSUID | MS_NODEV, b"size=64k,mode=755") != 0:
            return
        ok = True
        for d in _library_dirs():
            target = (self.jail + d).encode()
            os.makedirs(target, exist_ok=True)
            flags = os.statvfs(d).f_flag
            keep = MS_NOSUID | MS_NODEV | sum(ms for st, ms in _LOCKED if flags & st)
            ro = MS_BIND | MS_REMOUNT | MS_RDONLY | keep
            if mount(d.encode(), target, None, MS_BIND | MS_REC, None) or mount(
                None, target, None, ro, None
            ):
                ok = False
                break
        os.chmod(self.jail, 0o555)
        ro_jail = MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV
        if ok and mount(b"tmpfs", jail, b"tmpfs", ro_jail, None) == 0:
            self.libraries = "read-only mount"
        else:
            self.libc.umount2(jail, 2)  # MNT_DETACH: the library mounts go with it

    def _empty_jail(self) -> None:
        """An empty folder, read-only for the program's uid (root without CAP_SYS_ADMIN:
        chroot and setuid may still be permitted)."""
        os.chmod(self.jail, 0o555)
        self.libraries = "preloaded only"

    def _remove_jail(self) -> None:
        if self.jail:
            self.libc.umount2(self.jail.encode(), 2)  # MNT_DETACH; fails harmlessly if unmounted
            try:
                os.rmdir(self.jail)
            except OSError:
                pass
        self.jail = None
        self.libraries = "none"

    def reap(self) -> None:
        """Collect the children killed since the last reply (SIGKILLed, so this is quick), and
        any orphan (a PID namespace's init inherits them)."""
        for pid in self.unreaped:
            os.waitpid(pid, 0)
        self.unreaped.clear()
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            pass

    def _probe(self, uid: int) -> tuple[bool, bool, bool]:
        """Find out in a throwaway child whether chroot and switching uid are permitted here
        (root without CAP_SYS_CHROOT or CAP_SETUID, as in many containers, cannot), and
        whether that uid can then read the library folders (not where Python lies under a
        home folder of mode 0700, such as pyenv's under /root)."""
        dirs = _library_dirs()  # as this process sees them (isdir() is False where unreadable)
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                if not self.jail:
                    raise OSError("no jail")
                os.chroot(self.jail)
            except OSError:
                code |= 1
            try:
                os.setgroups([])
                os.setresgid(uid, uid, uid)
                os.setresuid(uid, uid, uid)
            except OSError:
                os._exit(code | 2)
            try:
                for d in dirs if code & 1 else ():
                    os.listdir(d)
            except OSError:
                code |= 4
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 3
        return not code & 1, not code & 2, not code & 4

    # ---- child side -------------------------------------------------------------------
    def _confine(self) -> None:
        """In the child, after `_seal` (inherited): its own Landlock domain, another uid where
        permitted, no capability left, and its own small seccomp filter (no fork)."""
        libc, prctl = self.libc, self.libc.prctl
        if self.landlock_fd >= 0:
            if libc.syscall(LANDLOCK_RESTRICT_SELF, self.landlock_fd, 0):
                raise OSError("landlock_restrict_self failed")
            os.close(self.landlock_fd)
        if self.uid is not None:
            os.setgroups([])
            os.setresgid(self.uid, self.uid, self.uid)
            os.setresuid(self.uid, self.uid, self.uid)
        header = (ctypes.c_uint32 * 2)(_CAP_VERSION_3, 0)
        if libc.capset(header, (ctypes.c_uint32 * 6)()) != 0:
            raise OSError("capset failed")
        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # (setuid cleared it)
        if self.child_bpf:
            _load_filter(libc, self.child_bpf)

    def _child(self, code: str, grids: list, start: int, wfd: int, cpu_s: int) -> None:
        """Runs in the forked child; never returns."""
        try:
            os.setsid()
            for fd in (0, 1, 2):
                os.dup2(self.devnull, fd)
            keep = sorted({wfd, self.landlock_fd} - {-1})
            low = 3
            for fd in keep:
                os.closerange(low, fd)
                low = fd + 1
            os.closerange(low, 65536)
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes fail with EFBIG instead
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
                signal.signal(sig, signal.SIG_DFL)
            lim = resource.setrlimit
            lim(resource.RLIMIT_AS, (self.base_vm + self.memory_bytes,) * 2)
            lim(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
            lim(resource.RLIMIT_FSIZE, (0, 0))
            lim(resource.RLIMIT_CORE, (0, 0))
            lim(resource.RLIMIT_NPROC, (1, 1))  # no fork, no threads: nothing outlives it
            self._confine()
            os.environ.clear()
            os.environ.update(CHILD_ENV)
        except BaseException:
            os._exit(70)
        write, dumps, validate = os.write, json.dumps, validate_grid

        def put(data: bytes) -> None:
            while data:
                data = data[write(wfd, data) :]

        def send(i: int, status: str, output=None, etype=None, msg=None) -> None:
            line = dumps({"i": i, "s": status, "o": output, "t": etype, "e": msg}) + "\n"
            data = line.encode()
            if len(data) > RESULT_CAP:
                data = (dumps({"i": i, "s": "invalid", "e": "result too large"}) + "\n").encode()
            put(data)

        def describe(exc: BaseException) -> tuple[str, str]:
            if isinstance(exc, ModuleNotFoundError):  # its own category: not the model's bug
                why = f"module {exc.name!r} is not available in the sandbox (only {AVAILABLE})"
                return "ModuleNotAvailable", why[:500]
            return type(exc).__name__, str(exc)[:500]

        try:
            # A real module in sys.modules: @dataclass, pickle and typing look the program up
            module = types.ModuleType("__arc_program__")
            sys.modules["__arc_program__"] = module
            namespace = module.__dict__
            exec(compile(code, "<program>", "exec"), namespace)
            transform = namespace.get("transform")
            if not callable(transform):
                raise NameError("the program defines no transform() function")
        except BaseException as exc:  # definition failed: every grid fails the same way
            status = "memory" if isinstance(exc, MemoryError) else "error"
            etype, msg = describe(exc)
            put((dumps({"c": status, "t": etype, "e": msg}) + "\n").encode())
            os._exit(0)
        put(b'{"c": "ok"}\n')  # compiled: the worker starts the first grid's clock now
        for i in range(start, len(grids)):
            try:
                out = transform(grids[i])
                grid, why = validate(out)
                if grid is None:
                    send(i, "invalid", None, "InvalidOutput", why)
                else:
                    send(i, "ok", grid, None, None)
            except MemoryError as exc:
                send(i, "memory", None, *describe(exc))
            except BaseException as exc:  # SystemExit and KeyboardInterrupt included
                send(i, "error", None, *describe(exc))
        os._exit(0)

    # ---- worker side ------------------------------------------------------------------
    def run(self, code: str, grids: list, timeout: float, compile_timeout: float) -> list[dict]:
        results: list[dict] = []
        while len(results) < len(grids):
            results.extend(self._run_from(code, grids, len(results), timeout, compile_timeout))
        return results

    def _run_from(
        self, code: str, grids: list, start: int, timeout: float, compile_timeout: float
    ) -> list[dict]:
        """Fork a child for grids[start:]; return results up to the first that kills it.

        The child first compiles the program and runs its top level, under `compile_timeout`;
        when that fails (or times out), every remaining grid gets the same result at once."""
        rfd, wfd = os.pipe()
        cpu_s = math.ceil(compile_timeout + timeout * (len(grids) - start)) + 2
        pid = os.fork()
        if pid == 0:
            os.close(rfd)
            self._child(code, grids, start, wfd, cpu_s)
        os.close(wfd)
        out: list[dict] = []
        buf = b""
        poller = select.poll()
        poller.register(rfd, select.POLLIN | select.POLLHUP)
        t_grid = time.perf_counter()
        deadline = t_grid + compile_timeout
        compiling = True  # until the child's first line: compile() and the top level

        def fail_all(r: dict) -> None:  # the program failed before any grid ran
            out.extend({**r, "duration": 0.0} for _ in range(start + len(out), len(grids)))

        eof = killed = False
        try:
            while start + len(out) < len(grids):
                if b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if compiling:
                        compiling = False
                        failed = _compiled(line)
                        if failed:
                            fail_all(failed)
                            break
                    else:
                        duration = time.perf_counter() - t_grid
                        out.append(self._parse(line, start + len(out), duration))
                    t_grid = time.perf_counter()
                    deadline = t_grid + timeout
                    continue
                if eof:
                    break
                left = deadline - time.perf_counter()
                if left <= 0 or not poller.poll(math.ceil(max(left, 0) * 1000)):
                    if time.perf_counter() >= deadline:
                        killed = True
                        if compiling:
                            why = (
                                f"compile timed out after {compile_timeout:g} s (compiling the "
                                "program and running its top level)"
                            )
                            fail_all(_result("timeout", None, "Timeout", why))
                            break
                        out.append(_result("timeout", None, "Timeout", f"exceeded {timeout} s"))
                        out[-1]["duration"] = time.perf_counter() - t_grid
                        break
                    continue
                chunk = os.read(rfd, 65536)
                if not chunk:
                    eof = True
                buf += chunk
                if len(buf) > RESULT_CAP + 1024 and b"\n" not in buf:
                    killed = True
                    r = _result("invalid", None, "InvalidOutput", "result too large")
                    if compiling:
                        fail_all(r)
                    else:
                        out.append(r)
                    break
        finally:
            os.close(rfd)
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if start + len(out) >= len(grids) or killed:
            # Every grid is answered: reap after the reply is sent (tearing down a forked
            # address space takes about a millisecond, off the critical path that way).
            self.unreaped.append(pid)
        else:  # the child died without answering this grid: its exit status says why
            _, status = os.waitpid(pid, 0)
            r = _death(status)
            if compiling:  # it would die again in a new child: every grid gets the reason
                r["error"] = f"while compiling or running the top level: {r['error']}"
                fail_all(r)
            else:
                r["duration"] = time.perf_counter() - t_grid
                out.append(r)
        return out

    def _parse(self, line: bytes, index: int, duration: float) -> dict:
        try:
            msg = json.loads(line)
            if msg.get("i") != index:
                raise ValueError("result out of order")
            status = msg["s"]
            if status == "ok":
                grid, why = validate_grid(msg.get("o"))
                r = _result("ok", grid) if grid else _result("invalid", None, "InvalidOutput", why)
            elif status in ("error", "memory", "invalid"):
                r = _result(
                    status, None, str(msg.get("t") or "")[:100], str(msg.get("e") or "")[:500]
                )
            else:
                raise ValueError(f"unknown status {status!r:.20}")
        except Exception as exc:
            r = _result("invalid", None, "InvalidOutput", f"malformed result from program: {exc}")
        r["duration"] = duration
        return r


def _compiled(line: bytes) -> dict | None:
    """None when the child's first line says the program compiled, else every grid's result."""
    try:
        msg = json.loads(line)
        status = msg["c"]
        if status == "ok":
            return None
        if status not in ("error", "memory"):
            raise ValueError(f"unknown compile status {status!r:.20}")
        return _result(status, None, str(msg.get("t") or "")[:100], str(msg.get("e") or "")[:500])
    except Exception as exc:
        return _result("invalid", None, "InvalidOutput", f"malformed result from program: {exc}")


def _result(status: str, output=None, etype: str | None = None, error: str | None = None) -> dict:
    return {"status": status, "output": output, "error_type": etype, "error": error}


def _death(status: int) -> dict:
    """Classify a child that ended without sending the current grid's result."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGXCPU:
            return _result("timeout", None, "Timeout", "CPU time limit exceeded")
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        return _result("error", None, "Crash", f"program killed by {name}")
    code = os.WEXITSTATUS(status)
    if code == 70:
        return _result("error", None, "SandboxError", "the sandbox could not be set up")
    return _result("error", None, "Exit", f"program exited with code {code}")


def _read_exact(n: int) -> bytes:
    chunks, left = [], n
    while left:
        chunk = os.read(0, min(left, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _next_request() -> dict | None:
    """Read exactly one request (its size line, then its body) and nothing after it; None at
    the end of input. Nothing is read ahead, so a later program stays in the pipe, out of the
    reach of the child forked for this one."""
    header = b""
    while not header.endswith(b"\n"):
        byte = os.read(0, 1)
        if not byte:
            return None
        header += byte
        if len(header) > 20:
            raise ValueError("malformed request header")
    size = int(header)
    if not 0 < size <= MAX_REQUEST:
        raise ValueError(f"request of {size} bytes")
    return json.loads(_read_exact(size))


def _answer(worker: Worker, req: dict) -> bytes:
    try:
        results = worker.run(
            req["code"], req["grids"], float(req["timeout"]), float(req["compile_timeout"])
        )
        return (json.dumps({"results": results}) + "\n").encode()
    except Exception as exc:  # a worker bug, reported rather than hanging the pool
        return (json.dumps({"error": f"{type(exc).__name__}: {exc}"}) + "\n").encode()


def _write_all(data: bytes) -> None:
    while data:
        data = data[os.write(1, data) :]


def serve(worker: Worker) -> None:
    """Answer requests until stdin closes. Nothing of a request or its reply outlives its turn
    of the loop: the next child is forked from a state holding neither."""
    _write_all(
        (
            json.dumps({"ready": True, "isolation": worker.isolation, "jail": worker.jail}) + "\n"
        ).encode()
    )
    while True:
        req = _next_request()
        if req is None:  # the pool closed our stdin, or its process is gone (even kill -9)
            return
        _write_all(_answer(worker, req))
        del req
        worker.reap()


def _zygote_or_wait(jail: str) -> None:
    """Fork the process that sets up the sandbox and serves (after unshare(CLONE_NEWPID), the
    namespace's init, which signals from inside cannot reach), and wait for it here. It dies
    with this process (PDEATHSIG), and every child with it; when it ends, this process removes
    the jail (unmounted first) and exits with its code."""
    alive_r, alive_w = os.pipe()  # this process holds the write end until it dies
    pid = os.fork()
    if pid == 0:
        os.close(alive_w)
        _libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if select.select([alive_r], [], [], 0)[0]:  # EOF: the parent died before that
            os._exit(1)
        os.close(alive_r)
        return
    os.close(alive_r)
    os.close(0)
    os.close(1)
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
    _libc().umount2(jail.encode(), 2)  # MNT_DETACH; fails harmlessly where nothing is mounted
    try:
        os.rmdir(jail)
    except OSError:
        pass
    os._exit(os.waitstatus_to_exitcode(status) & 0xFF)


def main() -> None:
    config = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    worker = Worker(config)
    del config
    serve(worker)


if __name__ == "__main__":
    main()
