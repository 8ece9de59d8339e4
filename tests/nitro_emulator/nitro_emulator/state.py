"""Volatile emulator state under /run/nitro_emulator.

- allocator.json: the reservation made by nitro-enclaves-allocator
  {"memory_mib": int, "requested_memory_mib": int, "cpu_ids": [int], "cpu_pool": "1,9", "mode": "cpu_count"|"cpu_pool", "time": iso}
- enclaves/<enclave-id>.json: one running enclave (see cli.run_enclave for the keys)
- enclaves/<enclave-id>.console: its console log
- vsock/<cid>/<port>.sock: the emulated vsock endpoints of that enclave
"""

import contextlib
import fcntl
import glob
import json
import os
import shutil
import shutil

from . import paths

DIR_MODE = 0o2775
FILE_MODE = 0o664


def ensure_run_dirs():
    for logical in (paths.RUN_DIR, paths.ENCLAVES_DIR, paths.VSOCK_DIR):
        path = paths.ensure_dir(logical, DIR_MODE)
        _try_chmod(path, DIR_MODE)


def _try_chmod(path, mode):
    try:
        if os.stat(path).st_uid == os.geteuid():
            os.chmod(path, mode)
    except OSError:
        pass


@contextlib.contextmanager
def locked(logical, blocking=True):
    """Hold an flock on a lock file; yields False instead of blocking when blocking=False and it is taken."""
    ensure_run_dirs()
    path = paths.host(logical)
    fd = paths.open_shared(path, os.O_RDWR, FILE_MODE)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def state_lock():
    return locked(paths.STATE_LOCK)


# --- the allocator's reservation ------------------------------------------------

def read_reservation():
    try:
        with open(paths.host(paths.RESERVATION_FILE), encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or "memory_mib" not in data or "cpu_ids" not in data:
        return None
    return data


def write_reservation(data):
    ensure_run_dirs()
    paths.write_file_atomic(paths.host(paths.RESERVATION_FILE), json.dumps(data, indent=2) + "\n", 0o644)


def remove_reservation():
    try:
        os.unlink(paths.host(paths.RESERVATION_FILE))
    except FileNotFoundError:
        pass


# --- processes ------------------------------------------------------------------

def process_start_time(pid):
    """The start time of a live process (clock ticks since boot), None when it is gone or a zombie."""
    try:
        with open("/proc/%d/stat" % pid, encoding="utf-8", errors="replace") as handle:
            stat = handle.read()
    except (OSError, ValueError):
        if not os.path.isdir("/proc/self"):
            return _kill0(pid)
        return None
    fields = stat[stat.rfind(")") + 2:].split()
    if not fields or fields[0] in ("Z", "X"):
        return None
    return fields[19]


def _kill0(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return "unknown"
    return "unknown"


def is_alive(record):
    pid = record.get("ProcessID")
    if not isinstance(pid, int) or pid <= 0:
        return False
    started = process_start_time(pid)
    if started is None:
        return False
    expected = record.get("process_start_time")
    return expected in (None, "unknown") or started in ("unknown", expected)


# --- enclave records ----------------------------------------------------------------

def enclave_file(enclave_id, suffix=".json"):
    return os.path.join(paths.host(paths.ENCLAVES_DIR), enclave_id + suffix)


def vsock_dir(cid):
    return os.path.join(paths.host(paths.VSOCK_DIR), str(cid))


def write_enclave(record):
    ensure_run_dirs()
    paths.write_file_atomic(enclave_file(record["EnclaveID"]), json.dumps(record, indent=2) + "\n", FILE_MODE)


def remove_enclave_files(record):
    """Forget an enclave: its record, launch files, console log and vsock endpoints."""
    enclave_id = record["EnclaveID"]
    for suffix in (".json", ".launch", ".ready", ".console", ".nsm"):
        try:
            os.unlink(enclave_file(enclave_id, suffix))
        except OSError:
            pass
    shutil.rmtree(enclave_file(enclave_id, ".rootfs"), ignore_errors=True)
    cid = record.get("EnclaveCID")
    if cid is not None:
        shutil.rmtree(vsock_dir(cid), ignore_errors=True)


def _read_records():
    records = []
    for path in sorted(glob.glob(os.path.join(paths.host(paths.ENCLAVES_DIR), "*.json"))):
        try:
            with open(path, encoding="utf-8") as handle:
                record = json.load(handle)
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and record.get("EnclaveID"):
            records.append(record)
    return records


def running_enclaves(cleanup=True):
    """Records of enclaves whose process is alive, oldest first; dead ones are forgotten."""
    alive = []
    for record in _read_records():
        if is_alive(record):
            alive.append(record)
        elif cleanup:
            remove_enclave_files(record)
    alive.sort(key=lambda rec: (rec.get("start_time", ""), rec["EnclaveID"]))
    return alive
