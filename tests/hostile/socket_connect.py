"""Reach the runner's side over the network with plain socket(): TCP, UDP, unix sockets.

Connects (and sends the token) to the test's listeners: TCP on 127.0.0.1, ::1 and this
machine's own address, UDP on 127.0.0.1, a path unix socket and an abstract unix socket; and
lists network interfaces (anything but `lo` means the host's network is visible).
Row 0 (leaks): one flag per target connected; the test also checks from outside that no
listener received a connection or a datagram.
Contained: every flag 0 and nothing arrives.
"""

import socket

CONFIG: dict = {}  # filled in by tests/sandbox_modes.py
CASE = ""  # filled in by tests/sandbox_modes.py
LEAKS = ("tcp-127.0.0.1", "tcp-::1", "tcp-own-address", "udp-127.0.0.1", "unix-path",
         "unix-abstract", "host-interfaces-visible")  # fmt: skip


def _connect(family, kind, addr):
    try:
        s = socket.socket(family, kind)
    except OSError:
        return 0
    try:
        s.settimeout(0.5)
        s.connect(addr)
        s.send(b"leak " + CONFIG["token"].encode())
        return 1
    except OSError:
        return 0
    finally:
        s.close()


def transform(grid):
    net = CONFIG["net"][CASE]
    inet, inet6, unix = socket.AF_INET, socket.AF_INET6, socket.AF_UNIX
    stream, dgram = socket.SOCK_STREAM, socket.SOCK_DGRAM
    flags = [
        _connect(inet, stream, ("127.0.0.1", net["tcp_lo"])),
        _connect(inet6, stream, ("::1", net["tcp_lo6"])) if net.get("tcp_lo6") else 0,
        _connect(inet, stream, (net["own_ip"], net["tcp_own"])),
        _connect(inet, dgram, ("127.0.0.1", net["udp_lo"])),
        _connect(unix, stream, net["unix_path"]),
        _connect(unix, stream, "\0" + net["unix_abstract"]),
    ]
    try:
        names = [n for _, n in socket.if_nameindex()]
    except OSError:
        names = []
    flags.append(int(any(n != "lo" for n in names)))
    return [flags]
