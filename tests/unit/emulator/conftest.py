"""Fixtures for the Nitro host emulator tests.

Every test drives the emulator's executables as subprocesses with
NITRO_EMULATOR_ROOT pointing at its own temporary directory, so nothing needs
root, containers or the real /run, /etc and /var. The tests never import the
emulator: they only see what a user of nitro-cli, the allocator and docker sees.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
EMULATOR_DIR = os.path.join(REPO_ROOT, "tests", "nitro_emulator")
BLOBS_DIR = os.path.join(EMULATOR_DIR, "blobs")
PROGRAMS = ("nitro-cli", "nitro-enclaves-allocator", "docker", "dockerd", "lscpu")

DEFAULT_ALLOCATOR_YAML = "---\nmemory_mib: 512\ncpu_count: 2\n"


def free_port():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


class Emulator:
    """One emulated host under a temporary root."""

    def __init__(self, root, pycache=None):
        self.root = str(root)
        self.env = dict(os.environ)
        for name in ("NOTIFY_SOCKET", "NITRO_CLI_BLOBS", "NITRO_CLI_ARTIFACTS", "PYTHONDONTWRITEBYTECODE"):
            self.env.pop(name, None)
        if pycache:
            # Compile the emulator once per test session, outside the source tree.
            self.env["PYTHONPYCACHEPREFIX"] = str(pycache)
        self.env.update({
            "NITRO_EMULATOR_ROOT": self.root,
            "NITRO_CLI_BLOBS": BLOBS_DIR,
            "NITRO_CLI_ARTIFACTS": os.path.join(self.root, "artifacts"),
        })
        self.dockerd_proc = None
        # No host TCP unless a test asks for it: the enclave only serves its emulated vsock sockets.
        self.machine("[enclave]\nports = 8080\ntcp_bind =\n")

    # --- files under the root ---
    def path(self, logical):
        return self.root + logical

    def write(self, logical, text):
        path = self.path(logical)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        mode = "wb" if isinstance(text, bytes) else "w"
        with open(path, mode) as handle:
            handle.write(text)
        return path

    def read(self, logical):
        with open(self.path(logical), encoding="utf-8") as handle:
            return handle.read()

    def exists(self, logical):
        return os.path.exists(self.path(logical))

    def machine(self, text):
        self.write("/etc/nitro_emulator/machine.conf", text)

    def allocator_yaml(self, text):
        self.write("/etc/nitro_enclaves/allocator.yaml", text)

    # --- programs ---
    def run(self, program, *args, stdin_data=None, env=None, timeout=60):
        assert program in PROGRAMS
        return subprocess.run(
            [sys.executable, os.path.join(EMULATOR_DIR, program)] + [str(arg) for arg in args],
            input=stdin_data, stdin=None if stdin_data is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env or self.env, timeout=timeout, check=False)

    def cli(self, *args, **kwargs):
        return Result(self.run("nitro-cli", *args, **kwargs))

    def allocator(self):
        return Result(self.run("nitro-enclaves-allocator"))

    def docker(self, *args, **kwargs):
        return Result(self.run("docker", *args, **kwargs))

    def allocate(self, text=DEFAULT_ALLOCATOR_YAML):
        self.allocator_yaml(text)
        result = self.allocator()
        assert result.rc == 0, result.stdout
        return result

    def start_dockerd(self):
        sock = self.path("/run/docker.sock")
        self.dockerd_proc = subprocess.Popen(  # pylint: disable=consider-using-with
            [sys.executable, os.path.join(EMULATOR_DIR, "dockerd")], env=self.env,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if os.path.exists(sock):
                return
            assert self.dockerd_proc.poll() is None, "dockerd exited"
            time.sleep(0.02)
        raise AssertionError("dockerd did not create %s" % sock)

    def stop_dockerd(self):
        if self.dockerd_proc is not None and self.dockerd_proc.poll() is None:
            self.dockerd_proc.terminate()
            self.dockerd_proc.wait(10)
        self.dockerd_proc = None

    def build_image(self, tag, files, dockerfile="FROM scratch\nCOPY . /app\nCMD [\"/app/run.sh\"]\n"):
        context = os.path.join(self.root, "contexts", tag.replace(":", "_").replace("/", "_"))
        os.makedirs(context, exist_ok=True)
        with open(os.path.join(context, "Dockerfile"), "w") as handle:
            handle.write(dockerfile)
        for name, data in files.items():
            full = os.path.join(context, name)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "wb" if isinstance(data, bytes) else "w") as handle:
                handle.write(data)
        result = self.docker("build", "-t", tag, context)
        assert result.rc == 0, result.stderr
        return context

    def build_eif(self, tag, output, *extra):
        result = self.cli("build-enclave", "--docker-uri", tag, "--output-file", output, *extra)
        assert result.rc == 0, result.stderr
        return result.json()["Measurements"]

    def enclave_records(self):
        folder = self.path("/run/nitro_emulator/enclaves")
        if not os.path.isdir(folder):
            return []
        records = []
        for name in os.listdir(folder):
            if name.endswith(".json"):
                with open(os.path.join(folder, name), encoding="utf-8") as handle:
                    records.append(json.load(handle))
        return records

    def cleanup(self):
        """Terminate every enclave (through nitro-cli, then by PID as a safety net) and stop dockerd."""
        pids = [record.get("ProcessID") for record in self.enclave_records()]
        try:
            self.run("nitro-cli", "terminate-enclave", "--all", timeout=30)
        finally:
            for pid in pids:
                if isinstance(pid, int) and pid > 0:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
            self.stop_dockerd()


class Result:
    """A finished command: rc, stdout, stderr (text)."""

    def __init__(self, proc):
        self.rc = proc.returncode
        self.stdout = proc.stdout.decode("utf-8", "replace")
        self.stderr = proc.stderr.decode("utf-8", "replace")
        self.raw_stdout = proc.stdout

    def json(self):
        return json.loads(self.stdout)

    def __repr__(self):
        return "Result(rc=%r, stdout=%r, stderr=%r)" % (self.rc, self.stdout[-2000:], self.stderr[-2000:])


@pytest.fixture
def free_tcp_port():
    """A TCP port nothing listens on at the moment, on 127.0.0.1."""
    return free_port()


@pytest.fixture
def emu(tmp_path, pycache_dir):
    emulator = Emulator(tmp_path / "root", pycache_dir)
    yield emulator
    emulator.cleanup()


@pytest.fixture(scope="session")
def pycache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("pycache")


@pytest.fixture
def make_emulator(tmp_path, pycache_dir):
    """Factory for more emulated hosts in one test; all are cleaned up afterwards."""
    made = []

    def make(name):
        emulator = Emulator(tmp_path / name, pycache_dir)
        made.append(emulator)
        return emulator

    yield make
    for emulator in made:
        emulator.cleanup()


@pytest.fixture
def docker_emu(emu):
    """An emulated host whose stand-in docker daemon runs."""
    emu.start_dockerd()
    return emu


def _build_app(emulator):
    emulator.build_image("app:1", {"run.sh": "#!/bin/sh\necho hello\n"})
    output = os.path.join(emulator.root, "app.eif")
    return output, emulator.build_eif("app:1", output)


@pytest.fixture
def built_eif(docker_emu):
    """A host with the default reservation (512 MiB, CPUs 1,9), a running dockerd and app.eif built here from image app:1."""
    docker_emu.allocate()
    output, measurements = _build_app(docker_emu)
    return docker_emu, output, measurements


@pytest.fixture(scope="session")
def shared_eif(tmp_path_factory, pycache_dir):
    """app.eif (image app:1), built once per session on a host of its own."""
    builder = Emulator(tmp_path_factory.mktemp("builder"), pycache_dir)
    try:
        builder.start_dockerd()
        output, measurements = _build_app(builder)
    finally:
        builder.cleanup()
    return output, measurements


@pytest.fixture
def app_eif(emu, shared_eif):
    """A host with the default reservation (512 MiB, CPUs 1,9) and the session's app.eif (no docker daemon)."""
    emu.allocate()
    return emu, shared_eif[0], shared_eif[1]


@pytest.fixture(scope="session")
def vsock_library(tmp_path_factory):
    """The emulator's vsock library (vsock/nitro-vsock.c), compiled like install.yml does."""
    output = str(tmp_path_factory.mktemp("vsock") / "libnitro-vsock.so")
    subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-s", "-Wall", "-Werror", "-o", output,
                    os.path.join(EMULATOR_DIR, "vsock", "nitro-vsock.c"), "-ldl"], check=True)
    return output


@pytest.fixture
def vsock_emu(pycache_dir, vsock_library):
    """An emulated host whose root is short enough for unix socket addresses, with the vsock library
    preloaded into the programs it runs (env) and the runtime folders systemd-tmpfiles would create."""
    root = tempfile.mkdtemp(prefix="nv", dir="/tmp")
    emulator = Emulator(root, pycache_dir)
    os.makedirs(emulator.path("/run/nitro_emulator/vsock"))
    emulator.env["LD_PRELOAD"] = vsock_library
    emulator.env.pop("NITRO_EMULATOR_VSOCK_CID", None)
    yield emulator
    emulator.cleanup()
    shutil.rmtree(root, ignore_errors=True)
