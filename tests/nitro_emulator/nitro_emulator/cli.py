"""nitro-cli: build, describe, run, describe, console and terminate emulated enclaves.

JSON goes to stdout (pretty-printed, 2 spaces, like serde_json), progress text to
stderr, failures are `[ Enn ]` blocks with exit status nn (see errors.py).
"""

import argparse
import datetime
import io
import json
import math
import os
import platform
import random
import re
import shutil
import signal
import subprocess
import sys
import time

from . import cpio, eif, errors, machine as machine_mod, paths, state
from .errors import NitroCliError

# dockerstore, signing and tarfile are imported by the commands that use them (building, describing an
# image, a signed image's PCR8): serve scripts call describe-enclaves every few seconds, and the real
# nitro-cli is a native program whose start costs the host next to nothing.

MIB = 1 << 20
MAX_ENCLAVES = 4
FIRST_AUTO_CID = 16
MAX_CID = (1 << 32) - 2
READY_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
OUTPUT_KEYS = ("EnclaveName", "EnclaveID", "ProcessID", "EnclaveCID", "NumberOfCPUs", "CPUIDs", "MemoryMiB")
PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ACTIONS = {
    "build-enclave": "Build Enclave",
    "describe-eif": "Describe EIF",
    "run-enclave": "Run Enclave",
    "describe-enclaves": "Describe Enclaves",
    "terminate-enclave": "Terminate Enclave",
    "console": "Enclave Console",
}


def emit(value):
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def say(message):
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


# --- arguments ---------------------------------------------------------------------------

class Parser(argparse.ArgumentParser):
    """argparse with nitro-cli's program name; usage errors exit 2 with the message on stderr."""


def build_parser(version):
    parser = Parser(prog="nitro-cli", description="CLI for enclave lifetime management (Nitro Enclaves emulator)")
    parser.add_argument("-V", "--version", action="version", version="Nitro CLI %s" % version)
    commands = parser.add_subparsers(dest="command", metavar="<command>")
    commands.required = True

    run = commands.add_parser("run-enclave", help="Starts a new enclave")
    run.add_argument("--config", help="Config file containing the enclave's arguments (JSON)")
    run.add_argument("--eif-path", help="Path pointing to a prebuilt Eif image")
    run.add_argument("--memory", help="Memory to allocate for the enclave in MB")
    cpus = run.add_mutually_exclusive_group()
    cpus.add_argument("--cpu-count", help="Number of CPUs")
    cpus.add_argument("--cpu-ids", nargs="+", help="List of CPU IDs")
    run.add_argument("--enclave-cid", help="CID to use for the enclave")
    run.add_argument("--enclave-name", help="Custom name assigned to the enclave")
    run.add_argument("--debug-mode", action="store_true", help="Starts enclave in debug-mode")
    run.add_argument("--attach-console", action="store_true", help="Attach the enclave console (requires --debug-mode)")

    build = commands.add_parser("build-enclave", help="Builds an enclave image and saves it to a file")
    build.add_argument("--docker-uri", required=True, help="Uri pointing to an existing docker container or to be created locally")
    build.add_argument("--docker-dir", help="Local path to a directory containing a Dockerfile")
    build.add_argument("--output-file", required=True, help="Location where the Enclave Image should be saved")
    build.add_argument("--signing-certificate", help="Local path to developer's X509 signing certificate")
    build.add_argument("--private-key", help="Local path to developer's EC private key")
    build.add_argument("--name", dest="img_name", help="Name for enclave image")
    build.add_argument("--version", dest="img_version", help="Version of the enclave image")
    build.add_argument("--metadata", help="Path to JSON containing the custom metadata provided by the user")

    describe_eif = commands.add_parser("describe-eif", help="Returns information about the EIF found at a given path")
    describe_eif.add_argument("--eif-path", required=True, help="Path to the EIF to describe")

    commands.add_parser("describe-enclaves", help="Returns a list of the running enclaves")

    terminate = commands.add_parser("terminate-enclave", help="Terminates an enclave")
    which = terminate.add_mutually_exclusive_group(required=True)
    which.add_argument("--enclave-id", help="Enclave ID, used to uniquely identify an enclave")
    which.add_argument("--enclave-name", help="Enclave name, used to uniquely identify an enclave")
    which.add_argument("--all", action="store_true", help="Terminate all running enclaves")

    console = commands.add_parser("console", help="Connect to the enclave console")
    which = console.add_mutually_exclusive_group(required=True)
    which.add_argument("--enclave-id", help="Enclave ID, used to uniquely identify an enclave")
    which.add_argument("--enclave-name", help="Enclave name, used to uniquely identify an enclave")
    console.add_argument("--disconnect-timeout", help="The time in seconds after the console disconnects from the enclave")
    return parser, run


def parse_uint(name, text, minimum=0):
    value = str(text).strip()
    if not re.match(r"^[0-9]+$", value) or int(value) < minimum:
        raise NitroCliError(3, name, text)
    return int(value)


def run_options(args, run_parser):
    """The run-enclave options from the command line or from --config."""
    if args.config:
        given = [flag for flag, value in (("--eif-path", args.eif_path), ("--memory", args.memory), ("--cpu-count", args.cpu_count),
                                          ("--cpu-ids", args.cpu_ids), ("--enclave-cid", args.enclave_cid),
                                          ("--enclave-name", args.enclave_name)) if value]
        if given:
            run_parser.error("the argument '--config <config>' cannot be used with '%s'" % given[0])
        return options_from_config(args.config, args)
    missing = [flag for flag, value in (("--eif-path", args.eif_path), ("--memory", args.memory)) if not value]
    if not args.cpu_count and not args.cpu_ids:
        missing.append("--cpu-count <cpu-count> | --cpu-ids <cpu-ids>...")
    if missing:
        run_parser.error("the following required arguments were not provided: %s" % ", ".join(missing))
    if args.attach_console and not args.debug_mode:
        run_parser.error("the argument '--attach-console' requires '--debug-mode'")
    return {
        "eif_path": args.eif_path,
        "memory_mib": parse_uint("memory", args.memory),
        "cpu_count": parse_uint("cpu-count", args.cpu_count) if args.cpu_count else None,
        "cpu_ids": [parse_uint("cpu-ids", cpu) for cpu in args.cpu_ids] if args.cpu_ids else None,
        "enclave_cid": parse_cid(args.enclave_cid),
        "enclave_name": args.enclave_name,
        "debug_mode": bool(args.debug_mode),
        "attach_console": bool(args.attach_console),
    }


def parse_cid(value):
    if value is None:
        return None
    cid = parse_uint("enclave-cid", value)
    if cid == 0:
        say("The enclave CID will be auto-generated as the provided CID is 0")
        return None
    if cid < 4 or cid > MAX_CID:
        # 1 (local), 2 (host) and 3 (the parent instance) are well-known CIDs; 2^32-1 is VMADDR_CID_ANY.
        raise NitroCliError(3, "enclave-cid", value)
    return cid


def options_from_config(path, args):
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError:
        raise errors.file_error(path, "Open")
    try:
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
    except ValueError as exc:
        raise NitroCliError(17, text="Serde error. Such error appears when serializing / deserializing a command or response fails.",
                            detail="Invalid run configuration %s: %s" % (path, exc))
    for key in ("eif_path", "memory_mib"):
        if key not in data:
            raise NitroCliError(1, key)
    if ("cpu_count" in data) == ("cpu_ids" in data):
        if "cpu_count" in data:
            raise NitroCliError(2, "cpu_count", "cpu_ids")
        raise NitroCliError(1, "cpu_count")

    def integer(key):
        value = data.get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise NitroCliError(3, key, value)
        return value

    cpu_ids = data.get("cpu_ids")
    if cpu_ids is not None and (not isinstance(cpu_ids, list) or not all(isinstance(cpu, int) and cpu >= 0 for cpu in cpu_ids)):
        raise NitroCliError(3, "cpu_ids", cpu_ids)
    debug = bool(data.get("debug_mode", False)) or bool(args.debug_mode)
    if args.attach_console and not debug:
        raise NitroCliError(1, "debug-mode")
    return {
        "eif_path": str(data["eif_path"]),
        "memory_mib": integer("memory_mib"),
        "cpu_count": integer("cpu_count") if "cpu_count" in data else None,
        "cpu_ids": cpu_ids,
        "enclave_cid": parse_cid(data["enclave_cid"]) if data.get("enclave_cid") is not None else None,
        "enclave_name": data.get("enclave_name"),
        "debug_mode": debug,
        "attach_console": bool(args.attach_console),
    }


# --- run-enclave --------------------------------------------------------------------------

def check_device(machine):
    """/dev/nitro_enclaves: exists when the driver is loaded and the allocator set it up; mode 0660 root:ne."""
    usable = machine.driver and state.read_reservation() is not None
    if not usable or (os.geteuid() != 0 and not paths.user_in_group("ne")):
        raise errors.file_error(paths.DEVICE, "Open")


def pick_cpus(machine, reservation, running, cpu_count, cpu_ids):
    pool = [int(cpu) for cpu in reservation["cpu_ids"]]
    used = {cpu for record in running for cpu in record.get("CPUIDs", [])}
    free = [cpu for cpu in pool if cpu not in used]
    if cpu_ids is not None:
        repeated = sorted({cpu for cpu in cpu_ids if cpu_ids.count(cpu) > 1})
        if repeated:
            raise NitroCliError(20, "cpu-ids", ", ".join(str(cpu) for cpu in repeated))
        for cpu in cpu_ids:
            if cpu not in free:
                raise NitroCliError(21, "cpu-ids", cpu)
        for cpu in cpu_ids:
            missing = [sibling for sibling in machine.siblings(cpu) if sibling not in cpu_ids]
            if missing:
                raise NitroCliError(29, detail="NE_ADD_VCPU: CPU %d is not a full core: its sibling(s) %s must be in the enclave too"
                                    % (cpu, ", ".join(str(sibling) for sibling in missing)))
        return list(cpu_ids)
    if cpu_count > len(free):
        raise NitroCliError(22, "cpu-count", cpu_count)
    if cpu_count == 0 or cpu_count % machine.threads_per_core:
        raise NitroCliError(29, detail="NE_ADD_VCPU: %d CPUs cannot be made of full cores (%d threads per core)"
                            % (cpu_count, machine.threads_per_core))
    chosen = []
    seen_cores = []
    for cpu in pool:
        core = machine.core_of(cpu)
        if core in seen_cores:
            continue
        seen_cores.append(core)
        threads = [other for other in pool if machine.core_of(other) == core]
        if len(threads) == machine.threads_per_core and all(thread in free for thread in threads):
            chosen.extend(threads)
        if len(chosen) >= cpu_count:
            return chosen[:cpu_count]
    raise NitroCliError(22, "cpu-count", cpu_count)


def pick_cid(requested, running):
    used = {record.get("EnclaveCID") for record in running}
    if requested is not None:
        if requested in used:
            owner = [record["EnclaveID"] for record in running if record.get("EnclaveCID") == requested][0]
            raise NitroCliError(29, detail="NE_START_ENCLAVE: CID %d is already used by enclave %s" % (requested, owner))
        return requested
    cid = FIRST_AUTO_CID
    while cid in used:
        cid += 1
    return cid


def new_enclave_name(requested, eif_path, names):
    """nitro-cli's naming (new_enclave_name in its lib.rs): the given --enclave-name, else the EIF's file name
    with every trailing ".eif" removed (the EIF's metadata does not matter); a name already in use gets
    "_1", "_2", ... appended, it is never refused."""
    name = requested
    if not name:
        name = eif_path.split("/")[-1]
        while name.endswith(".eif"):
            name = name[:-len(".eif")]
    result, index = name, 0
    while result in names:
        index += 1
        result = "%s_%d" % (name, index)
    return result


def eif_identity(path):
    """(parsed EIF or None, parse error text or None, metadata dict)."""
    try:
        parsed = eif.read(path)
    except (OSError, eif.EifError) as exc:
        return None, str(exc), {}
    metadata = {}
    raw = parsed.first(eif.METADATA)
    if raw:
        try:
            metadata = json.loads(raw.decode("utf-8"))
        except ValueError:
            metadata = {}
    return parsed, None, metadata if isinstance(metadata, dict) else {}


def eif_measurements(parsed):
    measurements = dict(parsed.measurements)
    signature = parsed.first(eif.SIGNATURE)
    if signature is not None:
        from . import signing  # pylint: disable=import-outside-toplevel
        try:
            cert_pem, _cose = signing.read_signature_section(signature)
            measurements["PCR8"] = eif.pcr_value([signing.pem_to_der(cert_pem)])
        except signing.SigningError:
            pass
    return measurements


def use_systemd():
    return (not paths.emulator_root() and os.geteuid() == 0 and os.path.isdir("/run/systemd/system")
            and shutil.which("systemd-run") is not None)


def daemonize(command, env):
    """Start command fully detached: double fork, new session, no inherited descriptors."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            os.setsid()
            if os.fork() != 0:
                os._exit(0)
            os.chdir("/")
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            os.closerange(3, 65536)
            signal.signal(signal.SIGHUP, signal.SIG_IGN)
            os.execve(command[0], command, env)
        finally:
            os._exit(127)
    os.waitpid(pid, 0)


def spawn_enclave(launch_path, unit):
    command = [sys.executable, "-m", "nitro_emulator.enclave", "--launch", launch_path]
    if use_systemd():
        proc = subprocess.run(["systemd-run", "--unit=" + unit, "--collect", "--quiet", "--setenv=PYTHONPATH=" + PACKAGE_PARENT,
                               "--description=Nitro Enclaves emulator: enclave " + unit] + command,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, check=False)
        if proc.returncode != 0:
            raise NitroCliError(5, detail="systemd-run failed: %s" % proc.stderr.decode("utf-8", "replace").strip())
        return unit
    env = dict(os.environ)
    env["PYTHONPATH"] = PACKAGE_PARENT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    daemonize(command, env)
    return None


def read_json(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def wait_ready(ready_path):
    """The enclave's ready report; raises E36 when it fails or does not come up in time."""
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        ready = read_json(ready_path)
        if ready:
            if ready.get("state") == "running":
                return ready
            if ready.get("state") == "failed":
                raise NitroCliError(36, detail="Waiting on enclave to boot failed: %s" % ready.get("reason", "boot failure"))
            if state.process_start_time(ready["pid"]) is None:
                raise NitroCliError(36, detail="Waiting on enclave to boot failed: the enclave process exited")
        time.sleep(0.02)
    raise NitroCliError(36, detail="Waiting on enclave to boot failed with error VsockTimeoutError")


def kill_process(pid, start_time=None, unit=None):
    """Stop an enclave process: systemctl stop for a unit, else SIGTERM, a grace period, then SIGKILL."""
    if unit:
        subprocess.run(["systemctl", "stop", unit], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    record = {"ProcessID": pid, "process_start_time": start_time}
    for sig, grace in ((signal.SIGTERM, STOP_TIMEOUT), (signal.SIGKILL, 2.0)):
        if not state.is_alive(record):
            return
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        except PermissionError:
            raise NitroCliError(11, detail="Failed to connect to specific enclave process: Permission denied (os error 13)")
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and state.is_alive(record):
            time.sleep(0.02)


def kernel_version(blobs):
    try:
        with open(os.path.join(blobs, "bzImage.config"), encoding="utf-8", errors="replace") as handle:
            for line in handle:
                match = re.match(r"#\s*Linux/\S+\s+(\S+)\s+Kernel Configuration", line)
                if match:
                    return match.group(1)
    except OSError:
        pass
    return "4.14"


def launch(machine, opts, cid, name, parsed):
    """Start the enclave process and wait until it serves its ports; return its record."""
    enclave_id = "%s-enc%s" % (machine.instance_id, os.urandom(8).hex())
    unit = "nitro-enclave-" + enclave_id.rsplit("-enc", 1)[1]
    cmdline = parsed.first(eif.CMDLINE).decode("utf-8", "replace").strip()
    spec = {
        "enclave_id": enclave_id,
        "name": name,
        "cid": cid,
        "cpu_ids": opts["cpus"],
        "memory_mib": opts["memory_mib"],
        "debug_mode": opts["debug_mode"],
        "ports": machine.ports,
        "tcp_bind": machine.tcp_bind,
        "boot_failure": machine.boot_failure,
        "run_image_command": machine.run_image_command,
        "eif_path": os.path.abspath(opts["eif_path"]),
        "pcr0": eif_measurements(parsed).get("PCR0"),
        "rootfs": state.enclave_file(enclave_id, ".rootfs"),
        "console": state.enclave_file(enclave_id, ".console"),
        "ready": state.enclave_file(enclave_id, ".ready"),
        "nsm": state.enclave_file(enclave_id, ".nsm"),
        "vsock_dir": state.vsock_dir(cid),
        "cmdline": cmdline,
        "kernel_version": kernel_version(paths.blobs_dir()),
        # What the enclave's NSM reports in its attestation documents.
        "measurements": eif_measurements(parsed),
    }
    launch_path = state.enclave_file(enclave_id, ".launch")
    paths.write_file_atomic(launch_path, json.dumps(spec, indent=2) + "\n", state.FILE_MODE)
    base = {"EnclaveID": enclave_id, "EnclaveCID": cid}
    try:
        unit = spawn_enclave(launch_path, unit)
        try:
            ready = wait_ready(spec["ready"])
        except NitroCliError:
            ready = read_json(spec["ready"]) or {}
            if ready.get("pid"):
                kill_process(ready["pid"], unit=unit)
            elif unit:
                kill_process(0, unit=unit)
            raise
    except NitroCliError:
        state.remove_enclave_files(base)
        raise
    pid = ready["pid"]
    record = {
        "EnclaveName": name,
        "EnclaveID": enclave_id,
        "ProcessID": pid,
        "EnclaveCID": cid,
        "NumberOfCPUs": len(opts["cpus"]),
        "CPUIDs": opts["cpus"],
        "MemoryMiB": opts["memory_mib"],
        "State": "RUNNING",
        "Flags": "DEBUG_MODE" if opts["debug_mode"] else "NONE",
        "Measurements": spec["measurements"],
        "eif_path": os.path.abspath(opts["eif_path"]),
        "ports": machine.ports,
        "tcp_bind": machine.tcp_bind,
        "tcp_ports": ready.get("tcp_ports", []),
        "vsock_dir": spec["vsock_dir"],
        "console": spec["console"],
        "systemd_unit": unit,
        "process_start_time": state.process_start_time(pid),
        "start_time": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "uid": os.geteuid(),
    }
    state.write_enclave(record)
    for suffix in (".launch", ".ready"):
        try:
            os.unlink(state.enclave_file(enclave_id, suffix))
        except FileNotFoundError:
            pass
    return record


def run_enclave(machine, opts):
    check_device(machine)
    eif_path = opts["eif_path"]
    try:
        with open(eif_path, "rb"):
            pass
        size = os.path.getsize(eif_path)
    except OSError:
        raise errors.file_error(eif_path, "Open")
    say("Start allocating memory...")
    memory = opts["memory_mib"]
    if memory == 0:
        raise NitroCliError(26, "memory", 0, text=errors.MEMORY_ZERO_TEXT)
    if memory * MIB < 4 * size:
        raise NitroCliError(26, "memory", memory, int(math.ceil(4 * size / float(MIB))))
    with state.locked(paths.LAUNCH_LOCK, blocking=False) as acquired:
        if not acquired:
            raise NitroCliError(36, detail="Another enclave is being launched on this host right now: launch enclaves one at a time")
        with state.state_lock():
            running = state.running_enclaves()
            reservation = state.read_reservation()
            if reservation is None:
                raise errors.file_error(paths.DEVICE, "Open")
            available = int(reservation["memory_mib"]) - sum(int(record.get("MemoryMiB", 0)) for record in running)
            if memory > available:
                raise NitroCliError(27, "memory", memory)
            opts["cpus"] = pick_cpus(machine, reservation, running, opts["cpu_count"], opts["cpu_ids"])
            if len(running) >= MAX_ENCLAVES:
                raise NitroCliError(28, detail="NE_CREATE_VM: at most %d enclaves can run on one parent instance" % MAX_ENCLAVES)
            cid = pick_cid(opts["enclave_cid"], running)
            parsed, parse_error, dummy = eif_identity(eif_path)
            name = new_enclave_name(opts["enclave_name"], eif_path, [record.get("EnclaveName") for record in running])
            if parsed is None:
                raise NitroCliError(35, detail="Invalid EIF %s: %s" % (eif_path, parse_error))
            record = launch(machine, opts, cid, name, parsed)
    say("Started enclave with enclave-cid: %d, memory: %d MiB, cpu-ids: [%s]"
        % (record["EnclaveCID"], record["MemoryMiB"], ", ".join(str(cpu) for cpu in record["CPUIDs"])))
    emit({key: record[key] for key in OUTPUT_KEYS})
    if opts["attach_console"]:
        follow_console(record, None)
    return 0


# --- describe / terminate / console ------------------------------------------------------------

def describe(record):
    result = {key: record[key] for key in OUTPUT_KEYS}
    result["State"] = "RUNNING"
    result["Flags"] = record.get("Flags", "NONE")
    result["Measurements"] = record.get("Measurements", {})
    return result


def find_enclave(enclave_id=None, name=None):
    running = state.running_enclaves()
    if enclave_id is not None:
        for record in running:
            if record["EnclaveID"] == enclave_id:
                return record
        raise NitroCliError(11, detail="Failed to connect to specific enclave process: No such file or directory (os error 2)")
    for record in running:
        if record.get("EnclaveName") == name:
            return record
    raise NitroCliError(58, detail="No running enclave is named '%s'." % name)


def terminate(record):
    kill_process(record["ProcessID"], record.get("process_start_time"), record.get("systemd_unit"))
    state.remove_enclave_files(record)
    say("Successfully terminated enclave %s." % record["EnclaveID"])
    return {"EnclaveName": record.get("EnclaveName"), "EnclaveID": record["EnclaveID"], "Terminated": True}


def terminate_enclave(args):
    with state.state_lock():
        if args.all:
            emit([terminate(record) for record in state.running_enclaves()])
            return 0
        emit(terminate(find_enclave(args.enclave_id, args.enclave_name)))
    return 0


def follow_console(record, timeout):
    """Copy the console log to stdout until the enclave ends or timeout seconds pass."""
    deadline = None if timeout is None else time.monotonic() + timeout
    offset = 0
    while True:
        try:
            with open(record["console"], "rb") as handle:
                handle.seek(offset)
                chunk = handle.read()
        except OSError:
            chunk = b""
        if chunk:
            offset += len(chunk)
            sys.stdout.write(chunk.decode("utf-8", "replace"))
            sys.stdout.flush()
        if not state.is_alive(record) or (deadline is not None and time.monotonic() >= deadline):
            return
        time.sleep(0.1)


def console(args):
    record = find_enclave(args.enclave_id, args.enclave_name)
    timeout = None
    if args.disconnect_timeout is not None:
        timeout = parse_uint("disconnect-timeout", args.disconnect_timeout)
    if record.get("Flags") != "DEBUG_MODE":
        raise NitroCliError(44, detail="The enclave %s was not started with --debug-mode: its console is not available." % record["EnclaveID"])
    say("Connecting to the console for enclave %d..." % record["EnclaveCID"])
    say("Successfully connected to the console.")
    follow_console(record, timeout)
    return 0


# --- build-enclave -------------------------------------------------------------------------------

def split_uri(uri):
    """(image name, image version) from a docker URI: repository and tag."""
    last = uri.rsplit("/", 1)[-1]
    if ":" in last:
        repo, tag = uri.rsplit(":", 1)
        return repo, tag
    return uri, "latest"


def read_blob(blobs, name):
    path = os.path.join(blobs, name)
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        raise NitroCliError(48, detail="Could not open the %s blob: %s" % (name, path))


def bootstrap_ramdisk(blobs):
    archive = cpio.Archive()
    archive.add_dir("dev")
    archive.add_file("init", read_blob(blobs, "init"), 0o755)
    archive.add_file("nsm.ko", read_blob(blobs, "nsm.ko"), 0o644)
    return archive.to_bytes()


def padding_ramdisk(mib):
    """A third ramdisk holding /padding, MiB of bytes: what a large image (a browser, an X server) adds to an
    EIF. A real ramdisk (newc cpio), so PCR0 and PCR2 cover it like every other ramdisk. The bytes are
    pseudo-random from a fixed seed: the same on every host (so is PCR0) and, like the compressed files of a
    real image, not made smaller by a transport's compression (ssh -C)."""
    generator = random.Random(mib)
    archive = cpio.Archive()
    archive.add_file("padding", b"".join(generator.randbytes(1024 * 1024) for _mib in range(mib)), 0o644)
    return archive.to_bytes()


def _rootfs_entries(layers):
    """The merged file system of the image layers: {path: (kind, data, mode)}, whiteouts applied."""
    import tarfile  # pylint: disable=import-outside-toplevel

    entries = {}
    for layer in layers:
        with tarfile.open(fileobj=io.BytesIO(layer), mode="r:*") as archive:
            for member in archive.getmembers():
                name = os.path.normpath("/" + member.name).lstrip("/")
                if not name or name == ".":
                    continue
                base = os.path.basename(name)
                parent = os.path.dirname(name)
                if base == ".wh..wh..opq":
                    for key in [key for key in entries if key.startswith(parent + "/")]:
                        del entries[key]
                    continue
                if base.startswith(".wh."):
                    target = os.path.join(parent, base[4:])
                    for key in [key for key in entries if key == target or key.startswith(target + "/")]:
                        del entries[key]
                    continue
                mode = member.mode & 0o7777
                if member.isdir():
                    entries[name] = ("dir", b"", mode)
                elif member.issym():
                    entries[name] = ("symlink", member.linkname.encode("utf-8"), mode)
                elif member.islnk():
                    target = os.path.normpath("/" + member.linkname).lstrip("/")
                    if target in entries:
                        entries[name] = entries[target]
                elif member.isfile():
                    entries[name] = ("file", archive.extractfile(member).read(), mode)
    return entries


def application_ramdisk(config, layers):
    """The second ramdisk: cmd, env and the image's root file system, deterministically."""
    settings = config.get("config") or {}
    command = (settings.get("Entrypoint") or []) + (settings.get("Cmd") or [])
    archive = cpio.Archive()
    archive.add_file("cmd", ("\n".join(command) + "\n").encode("utf-8"))
    archive.add_file("env", ("\n".join(settings.get("Env") or []) + "\n").encode("utf-8"))
    archive.add_dir("rootfs")
    entries = _rootfs_entries(layers)
    for name in list(entries):
        parent = os.path.dirname(name)
        while parent and parent not in entries:
            entries[parent] = ("dir", b"", 0o755)
            parent = os.path.dirname(parent)
    for name in sorted(entries):
        kind, data, mode = entries[name]
        path = "rootfs/" + name
        if kind == "dir":
            archive.add_dir(path, mode)
        elif kind == "symlink":
            archive.add_symlink(path, data.decode("utf-8"))
        else:
            archive.add_file(path, data, mode)
    return archive.to_bytes()


def artifacts_dir():
    path = os.environ.get("NITRO_CLI_ARTIFACTS")
    if not path:
        home = os.environ.get("HOME")
        if not home:
            raise NitroCliError(51)
        path = os.path.join(home, ".nitro_cli")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        raise errors.file_error(path, "Create")
    return path


def read_input_file(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        raise errors.file_error(path, "Open")


def build_enclave(machine, args):
    from . import dockerstore, signing  # pylint: disable=import-outside-toplevel

    artifacts = artifacts_dir()
    blobs = paths.blobs_dir()
    if not os.path.isdir(blobs):
        raise NitroCliError(52, detail="Blobs directory not found: %s" % blobs)
    if bool(args.signing_certificate) != bool(args.private_key):
        raise NitroCliError(1, "private-key" if args.signing_certificate else "signing-certificate")
    cert_pem = read_input_file(args.signing_certificate) if args.signing_certificate else None
    if args.private_key:
        read_input_file(args.private_key)
    custom = {}
    if args.metadata:
        try:
            custom = json.loads(read_input_file(args.metadata).decode("utf-8"))
            if not isinstance(custom, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            raise NitroCliError(48, detail="Invalid custom metadata %s: %s" % (args.metadata, exc))
    daemon_problem = dockerstore.daemon_error()
    if daemon_problem:
        raise NitroCliError(49 if args.docker_dir else 50, detail=daemon_problem)
    say("Start building the Enclave Image...")
    if machine.build_seconds > 0:
        time.sleep(machine.build_seconds)
    store = dockerstore.Store()
    try:
        if args.docker_dir:
            record = store.build(args.docker_dir, None, [args.docker_uri], io.StringIO())
        else:
            record = store.resolve(args.docker_uri)
            if record is None:
                raise NitroCliError(50, detail="Docker image %s is not in the local image store and cannot be pulled: "
                                    "no registry is reachable from this (emulated) host" % args.docker_uri)
            say("Using the locally available Docker image...")
    except dockerstore.DockerError as exc:
        raise NitroCliError(49 if args.docker_dir else 50, detail=str(exc))
    config = store.config(record)
    layers = [store.blob(layer) for layer in record["Layers"]]

    kernel = read_blob(blobs, "bzImage")
    cmdline = read_blob(blobs, "cmdline").rstrip(b"\r\n\t \0")
    ramdisks = [bootstrap_ramdisk(blobs), application_ramdisk(config, layers)]
    with open(os.path.join(artifacts, "%s.ramdisk" % record["Id"].split(":", 1)[1][:12]), "wb") as handle:
        handle.write(ramdisks[1])  # like nitro-cli, keep the last intermediate artifact around
    if machine.build_padding_mib:
        ramdisks.append(padding_ramdisk(machine.build_padding_mib))
    measured = [(eif.KERNEL, kernel), (eif.CMDLINE, cmdline)] + [(eif.RAMDISK, ramdisk) for ramdisk in ramdisks]
    measurements = eif.measure(measured)
    name, version = split_uri(args.docker_uri)
    inspect = store.inspect(record)
    metadata = {
        "ImageName": args.img_name or name,
        "ImageVersion": args.img_version or version,
        "BuildMetadata": {
            "BuildTime": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "BuildTool": "nitro-cli",
            "BuildToolVersion": machine.cli_version,
            "OperatingSystem": platform.system(),
            "KernelVersion": kernel_version(blobs),
        },
        "DockerInfo": {key: inspect[key] for key in ("Id", "RepoTags", "RepoDigests", "Created", "Architecture", "Os", "Config", "RootFS")},
        "CustomMetadata": custom,
    }
    sections = [(eif.KERNEL, kernel), (eif.CMDLINE, cmdline),
                (eif.METADATA, json.dumps(metadata, sort_keys=False).encode("utf-8"))]
    sections += [(eif.RAMDISK, ramdisk) for ramdisk in ramdisks]
    if cert_pem is not None:
        try:
            signature, pcr8 = signing.build_signature_section(cert_pem, args.private_key, measurements["PCR0"])
        except signing.SigningError as exc:
            raise NitroCliError(48, detail="Signing failed: %s" % exc)
        sections.append((eif.SIGNATURE, signature))
        measurements["PCR8"] = pcr8
    data = eif.serialize(sections)
    output = args.output_file
    try:
        paths.write_file_atomic(output, data, 0o644)
    except OSError:
        raise errors.file_error(output, "Open")
    log_build(args.docker_uri, output, measurements["PCR0"], record["Id"], cert_pem is not None)
    say("Enclave Image successfully created.")
    emit({"Measurements": measurements})
    return 0


def log_build(uri, output, pcr0, image_id, signed):
    """Append one JSON line per successful build to /var/lib/nitro_emulator/build-enclave.log."""
    line = {"time": datetime.datetime.now(datetime.timezone.utc).isoformat(), "docker_uri": uri,
            "output_file": os.path.abspath(output), "PCR0": pcr0, "image_id": image_id, "signed": signed}
    try:
        paths.ensure_dir(paths.LIB_DIR, state.DIR_MODE)
        fd = paths.open_shared(paths.host(paths.BUILD_LOG), os.O_WRONLY | os.O_APPEND, state.FILE_MODE)
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(line) + "\n")
    except OSError as exc:
        say("nitro-emulator: warning: could not record the build in %s: %s" % (paths.BUILD_LOG, exc))


# --- describe-eif -----------------------------------------------------------------------------------

def describe_eif(args):
    data = read_input_file(args.eif_path)
    try:
        parsed = eif.parse(data)
    except eif.EifError as exc:
        raise NitroCliError(35, detail="Invalid EIF %s: %s" % (args.eif_path, exc))
    result = {
        "EifVersion": parsed.version,
        "Measurements": eif_measurements(parsed),
        "IsSigned": parsed.first(eif.SIGNATURE) is not None,
        "CheckCRC": parsed.crc_ok,
    }
    raw = parsed.first(eif.METADATA)
    if raw is not None:
        try:
            metadata = json.loads(raw.decode("utf-8"))
        except ValueError:
            metadata = None
        if isinstance(metadata, dict):
            result["ImageName"] = metadata.get("ImageName")
            result["ImageVersion"] = metadata.get("ImageVersion")
            flat = dict(metadata.get("BuildMetadata") or {})
            flat["DockerInfo"] = metadata.get("DockerInfo")
            if isinstance(metadata.get("CustomMetadata"), dict):
                flat.update(metadata["CustomMetadata"])
            result["Metadata"] = flat
    if result["IsSigned"]:
        from . import signing  # pylint: disable=import-outside-toplevel
        try:
            cert_pem, cose = signing.read_signature_section(parsed.first(eif.SIGNATURE))
            result["SigningCertificate"] = signing.certificate_info(cert_pem)
            result["SignatureCheck"] = signing.verify(cert_pem, cose, parsed.measurements["PCR0"])
        except signing.SigningError:
            result["SigningCertificate"] = {}
            result["SignatureCheck"] = False
    emit(result)
    return 0


# --- entry point -----------------------------------------------------------------------------------------

def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    try:
        machine = machine_mod.load()
    except machine_mod.MachineConfigError as exc:
        say("nitro-emulator: invalid %s: %s" % (paths.MACHINE_CONF, exc))
        return 1
    parser, run_parser = build_parser(machine.cli_version)
    args = parser.parse_args(argv)
    try:
        if args.command == "run-enclave":
            return run_enclave(machine, run_options(args, run_parser))
        if args.command == "build-enclave":
            return build_enclave(machine, args)
        if args.command == "describe-eif":
            return describe_eif(args)
        if args.command == "describe-enclaves":
            emit([describe(record) for record in state.running_enclaves()])
            return 0
        if args.command == "terminate-enclave":
            return terminate_enclave(args)
        return console(args)
    except NitroCliError as exc:
        if args.command == "run-enclave":
            return errors.report_run_failure(exc)
        errors.report(exc, ACTIONS[args.command])
        return exc.code
    except KeyboardInterrupt:
        return 130
