"""The emulated enclave: a long-running process per enclave started by `nitro-cli run-enclave`.

Run as `python3 -m nitro_emulator.enclave --launch <enclaves/ID.launch>`. It reads the
launch spec (JSON written by nitro-cli), writes boot messages to its console log,
serves every configured port on an emulated vsock endpoint (a unix socket at
/run/nitro_emulator/vsock/<cid>/<port>.sock) and, when tcp_bind is set, on host TCP,
then reports readiness in enclaves/ID.ready. SIGTERM (terminate-enclave) stops it.

With run_image_command set and an image command `python3 <script>`, it runs that program instead
(run_image_command below) and serves nothing itself.

Each connection gets one JSON object {"enclave_name", "enclave_id", "cid", "port"}:
as an HTTP/1.1 200 response when the client sent an HTTP request line, else as one line.
An HTTP request to upgrade to WebSocket gets the oracle's client protocol instead
(client_protocol.py: `get_attestation` answered with an attestation document, or `busy`).
The emulator's attestation CA (attestation.ensure_ca) is created when the enclave boots.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback

from . import cpio, eif, paths

try:
    from . import nsm
    NSM_ERROR = None
except ImportError as exc:  # the host lacks python3-cryptography
    nsm = None
    NSM_ERROR = str(exc)

try:
    from . import client_protocol
    CLIENT_PROTOCOL_ERROR = None
except ImportError as exc:  # the host lacks python3-websockets or python3-cryptography
    client_protocol = None
    CLIENT_PROTOCOL_ERROR = str(exc)

HTTP_REQUEST = re.compile(rb"^[A-Z]+ \S+ HTTP/\d(?:\.\d)?\r?$")


class Console:
    """The enclave's console log, with kernel-style timestamps."""

    def __init__(self, path):
        self.started = time.monotonic()
        self.handle = open(path, "a", encoding="utf-8", buffering=1)  # pylint: disable=consider-using-with
        self.lock = threading.Lock()

    def write(self, message):
        elapsed = time.monotonic() - self.started
        with self.lock:
            self.handle.write("[%5d.%06d] %s\n" % (int(elapsed), int(elapsed * 1000000) % 1000000, message))


def write_ready(path, data):
    paths.write_file_atomic(path, json.dumps(data) + "\n", 0o664)


def _read_request(conn):
    """Whatever the client sends first: up to the end of the HTTP headers, or one line."""
    conn.settimeout(1.0)
    data = b""
    try:
        while len(data) < 65536:
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
            first_line = data.split(b"\n", 1)[0]
            if b"\n" in data and not HTTP_REQUEST.match(first_line):
                break
            if b"\r\n\r\n" in data or b"\n\n" in data:
                break
    except (socket.timeout, OSError):
        pass
    return data


def handle_connection(conn, spec, port, console, transport, oracle=None):
    try:
        request = _read_request(conn)
        first_line = request.split(b"\n", 1)[0]
        if oracle is not None and HTTP_REQUEST.match(first_line) and client_protocol.is_websocket(request):
            oracle.serve(conn, request, port, transport)
            return
        body = json.dumps({"enclave_name": spec["name"], "enclave_id": spec["enclave_id"], "cid": spec["cid"], "port": port}) + "\n"
        if HTTP_REQUEST.match(first_line):
            console.write("nitro-emulator: %s request on port %d: %s" % (transport, port, first_line.decode("latin-1").strip()))
            head = ("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n"
                    "Server: nitro-emulator-enclave\r\n\r\n" % len(body))
            payload = head.encode("ascii") + (b"" if first_line.startswith(b"HEAD ") else body.encode("utf-8"))
        else:
            console.write("nitro-emulator: %s connection on port %d" % (transport, port))
            payload = body.encode("utf-8")
        conn.sendall(payload)
    except OSError:
        pass
    finally:
        try:
            conn.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        conn.close()


def serve(listener, spec, port, console, transport, stopping, oracle=None):
    while not stopping.is_set():
        try:
            conn, _address = listener.accept()
        except OSError:
            if stopping.is_set():
                return
            time.sleep(0.05)
            continue
        threading.Thread(target=handle_connection, args=(conn, spec, port, console, transport, oracle), daemon=True).start()


def boot(spec, console):
    """Print the boot messages a Nitro enclave kernel would."""
    console.write("Linux version %s (nitro-emulator) #1 SMP (emulated: no Nitro hypervisor on this host)" % spec["kernel_version"])
    console.write("Command line: %s" % spec["cmdline"])
    console.write("x86/fpu: Supporting XSAVE feature 0x001: 'x87 floating point registers'")
    console.write("smp: Brought up 1 node, %d CPUs" % len(spec["cpu_ids"]))
    console.write("Memory: %dK available" % (spec["memory_mib"] * 1024))
    console.write("nsm: loading out-of-tree module taints kernel.")
    console.write("random: crng init done")
    console.write("nitro-emulator: enclave %s (%s) running with vsock CID %d, %d vCPUs, %d MiB"
                  % (spec["name"], spec["enclave_id"], spec["cid"], len(spec["cpu_ids"]), spec["memory_mib"]))


PYTHONS = ("python", "python3")


def image_command(spec):
    """The image's command when the emulator can run it: ``python3 <script> [args]`` with the script in the
    image. Returns (argv, env, entries of the application ramdisk) or None (then the built-in server runs)."""
    if not spec.get("run_image_command") or not spec.get("eif_path"):
        return None
    parsed = eif.read(spec["eif_path"])
    for section_type, data in parsed.sections:
        if section_type != eif.RAMDISK:
            continue
        entries = {name: (mode, body) for name, mode, body in cpio.read(data)}
        if "cmd" not in entries:
            continue
        argv = [line for line in entries["cmd"][1].decode("utf-8").split("\n") if line]
        env = [line for line in entries["env"][1].decode("utf-8").split("\n") if "=" in line] if "env" in entries else []
        if len(argv) >= 2 and os.path.basename(argv[0]).rstrip("0123456789.") in PYTHONS \
                and "rootfs/" + argv[1].lstrip("/") in entries:
            return argv, env, entries
        return None
    return None


def extract_rootfs(entries, target):
    """Write the image's root file system (rootfs/ of the application ramdisk) under target."""
    os.makedirs(target, mode=0o755, exist_ok=True)
    for name, (mode, body) in sorted(entries.items()):
        if not name.startswith("rootfs/"):
            continue
        path = os.path.join(target, name[len("rootfs/"):])
        kind = mode & 0o170000
        if kind == cpio.MODE_DIR:
            os.makedirs(path, mode=0o755, exist_ok=True)
        elif kind == cpio.MODE_SYMLINK:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            os.symlink(body.decode("utf-8"), path)
        elif kind == cpio.MODE_FILE:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as handle:
                handle.write(body)
            os.chmod(path, mode & 0o755)


def run_image_command(spec, console, stopping, command):
    """Run the image's Python program under this host's python3, as the enclave's init would run it.

    Its file system is the image's (extracted under spec["rootfs"]; absolute paths of the command are
    mapped there), its environment the image's, plus NITRO_EMULATOR_VSOCK_CID (its AF_VSOCK sockets
    are at the enclave's CID through the vsock library), NITRO_EMULATOR_PCR0 (what NSM would report)
    and NITRO_EMULATOR_NSM (the NSM stand-in's unix socket, nsm.py: the program's attestation
    documents). Its output goes to the console. When it exits, the enclave powers down.
    """
    argv, image_env, entries = command
    extract_rootfs(entries, spec["rootfs"])
    env = dict(line.split("=", 1) for line in image_env)
    for name in ("PATH", "LD_PRELOAD", "NITRO_EMULATOR_ROOT", "PYTHONPYCACHEPREFIX"):
        if os.environ.get(name):
            env[name] = os.environ[name]
    env.update({"NITRO_EMULATOR_VSOCK_CID": str(spec["cid"]), "NITRO_EMULATOR_PCR0": spec.get("pcr0") or "",
                "NITRO_EMULATOR_ROOTFS": spec["rootfs"], "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"})
    module = start_nsm(spec, console, stopping)
    if module is not None:
        env["NITRO_EMULATOR_NSM"] = module.path
    args = [sys.executable, os.path.join(spec["rootfs"], argv[1].lstrip("/"))] + argv[2:]
    console.write("nitro-emulator: running the image's command %s" % " ".join(argv))
    program = subprocess.Popen(args, cwd=spec["rootfs"], env=env, stdin=subprocess.DEVNULL,  # pylint: disable=consider-using-with
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def pump():
        for line in program.stdout:
            console.write(line.decode("utf-8", "replace").rstrip("\n"))

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        while program.poll() is None and not stopping.wait(0.2):
            pass
    finally:
        if module is not None:
            module.stop()
    if program.poll() is None:
        program.terminate()
        try:
            program.wait(5)
        except subprocess.TimeoutExpired:
            program.kill()
            program.wait()
    else:
        reader.join(2)
        console.write("nitro-emulator: the image's command exited with status %d" % program.returncode)
    return program.returncode


def start_nsm(spec, console, stopping):
    """The NSM stand-in (nsm.py) for the image's program, or None when the host lacks its libraries."""
    if nsm is None or not spec.get("nsm"):
        console.write("nitro-emulator: no NSM attestation for the image's program (%s)" % (NSM_ERROR or "no socket path"))
        return None
    root = nsm.attestation.ensure_ca()
    console.write("nitro-emulator: NSM attestation under the emulator's root %s" % root)
    module = nsm.Nsm(spec, console, spec["nsm"])
    module.start(stopping)
    return module


def start_oracle(spec, console):
    """The client protocol's state, with the emulator's CA in place; None when the host lacks its libraries."""
    if client_protocol is None:
        console.write("nitro-emulator: no WebSocket client protocol (%s)" % CLIENT_PROTOCOL_ERROR)
        return None
    root = client_protocol.attestation.ensure_ca()
    console.write("nitro-emulator: NSM attestation under the emulator's root %s" % root)
    return client_protocol.Oracle(spec, console)


def open_listeners(spec, console):
    listeners = []
    vsock_dir = spec["vsock_dir"]
    os.makedirs(vsock_dir, mode=0o755, exist_ok=True)
    bound_tcp = []
    for port in spec["ports"]:
        path = os.path.join(vsock_dir, "%d.sock" % port)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with paths.unix_address(path) as address:
            unix.bind(address)
        os.chmod(path, 0o666)
        unix.listen(64)
        listeners.append((unix, port, "vsock"))
        console.write("nitro-emulator: listening on vsock port %d (emulated at %s)" % (port, path))
        if spec.get("tcp_bind"):
            tcp = socket.socket(socket.AF_INET6 if ":" in spec["tcp_bind"] else socket.AF_INET, socket.SOCK_STREAM)
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                tcp.bind((spec["tcp_bind"], port))
                tcp.listen(64)
            except OSError as exc:
                tcp.close()
                console.write("nitro-emulator: host TCP %s:%d unavailable (%s); serving vsock only" % (spec["tcp_bind"], port, exc.strerror or exc))
                continue
            listeners.append((tcp, port, "tcp"))
            bound_tcp.append(port)
            console.write("nitro-emulator: also listening on host TCP %s:%d" % (spec["tcp_bind"], port))
    return listeners, bound_tcp


def run(spec):
    console = Console(spec["console"])
    # What runs inside the enclave is at the enclave's CID: the vsock library binds VMADDR_CID_ANY there.
    os.environ["NITRO_EMULATOR_VSOCK_CID"] = str(spec["cid"])
    write_ready(spec["ready"], {"state": "booting", "pid": os.getpid()})
    stopping = threading.Event()

    def on_signal(_signum, _frame):
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    boot(spec, console)
    if spec.get("boot_failure"):
        console.write("Kernel panic - not syncing: emulated boot failure ([enclave] boot_failure = true)")
        write_ready(spec["ready"], {"state": "failed", "pid": os.getpid(), "reason": "emulated boot failure"})
        return 1
    command = image_command(spec)
    if command is not None:
        write_ready(spec["ready"], {"state": "running", "pid": os.getpid(), "tcp_ports": []})
        try:
            run_image_command(spec, console, stopping, command)
        finally:
            console.write("reboot: Power down")
            shutil.rmtree(spec["rootfs"], ignore_errors=True)
        return 0
    oracle = start_oracle(spec, console)
    listeners, bound_tcp = open_listeners(spec, console)
    for listener, port, transport in listeners:
        threading.Thread(target=serve, args=(listener, spec, port, console, transport, stopping, oracle), daemon=True).start()
    write_ready(spec["ready"], {"state": "running", "pid": os.getpid(), "tcp_ports": bound_tcp})
    while not stopping.wait(1.0):
        pass
    console.write("reboot: Power down")
    for listener, port, transport in listeners:
        listener.close()
        if transport == "vsock":
            try:
                os.unlink(os.path.join(spec["vsock_dir"], "%d.sock" % port))
            except OSError:
                pass
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="nitro-emulator-enclave")
    parser.add_argument("--launch", required=True, help="launch spec written by nitro-cli run-enclave")
    args = parser.parse_args(argv)
    with open(args.launch, encoding="utf-8") as handle:
        spec = json.load(handle)
    try:
        return run(spec)
    except Exception:  # pylint: disable=broad-except
        with open(spec["console"], "a", encoding="utf-8") as handle:
            handle.write("nitro-emulator: enclave process crashed:\n" + traceback.format_exc())
        return 1


if __name__ == "__main__":
    sys.exit(main())
