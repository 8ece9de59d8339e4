"""dockerd: the stand-in Docker daemon.

It owns /run/docker.sock (a real listening unix socket, mode 0660, group docker
when that group exists), accepts connections and closes them, writes its PID to
/run/docker.pid and removes both on SIGTERM/SIGINT. Under systemd (Type=notify)
it reports READY=1 once the socket listens. The docker stand-in only checks that
this socket answers; images live in files (see dockerstore.py).
"""

import grp
import os
import signal
import socket
import sys

from . import paths


def notify_systemd(message):
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        sock.connect(address)
        sock.sendall(message.encode("ascii"))
    except OSError:
        pass
    finally:
        sock.close()


def socket_answers(path):
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1)
    try:
        with paths.unix_address(path) as address:
            probe.connect(address)
        return True
    except OSError:
        return False
    finally:
        probe.close()


def main(argv=None):
    del argv  # dockerd's many options are accepted by the unit file only
    sock_path = paths.host(paths.DOCKER_SOCK)
    pid_path = paths.host(paths.DOCKER_PID)
    os.makedirs(os.path.dirname(sock_path), exist_ok=True)
    if os.path.exists(sock_path):
        if socket_answers(sock_path):
            sys.stderr.write("failed to start daemon: pid file found, ensure docker is not running or delete %s\n" % paths.DOCKER_PID)
            return 1
        os.unlink(sock_path)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with paths.unix_address(sock_path) as address:
        server.bind(address)
    os.chmod(sock_path, 0o660)
    try:
        gid = grp.getgrnam("docker").gr_gid
        os.chown(sock_path, 0, gid)
    except (KeyError, PermissionError):
        pass
    server.listen(128)
    with open(pid_path, "w", encoding="utf-8") as handle:
        handle.write("%d\n" % os.getpid())
    stopping = []

    def on_signal(_signum, _frame):
        stopping.append(True)
        server.close()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    sys.stderr.write("nitro-emulator dockerd: API listen on %s\n" % paths.DOCKER_SOCK)
    sys.stderr.flush()
    notify_systemd("READY=1\nSTATUS=Nitro emulator docker stand-in: listening on %s\n" % paths.DOCKER_SOCK)
    try:
        while not stopping:
            try:
                conn, _address = server.accept()
            except OSError:
                continue
            conn.close()
    finally:
        for path in (sock_path, pid_path):
            try:
                os.unlink(path)
            except OSError:
                pass
    sys.stderr.write("nitro-emulator dockerd: stopped\n")
    return 0
