# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What an enclave host runs, read without changing anything (module ``enclave_info``).

Four read-only probes, each reported even when another one fails:

* enclaves: ``nitro-cli describe-enclaves`` (through :mod:`nitro_cli`), normalised
  to snake_case keys and lowercase PCRs (:func:`normalize_enclave`);
* installed images: each EIF file is measured with :mod:`eif` (the library of
  ``pcr_verify``) and its install record (``<eif>.json``, written by the role
  ``enclave_build``) is read (:func:`eif_facts`);
* service units: ``systemctl show -p ...`` (:func:`service_facts`), with the
  uptime computed from ``ActiveEnterTimestampMonotonic`` and the host's
  monotonic clock (the clock systemd stamps it with);
* TCP ports: a connect with a short timeout (:func:`probe_port`).

A host without nitro-cli, with no enclave, without a unit or without an EIF is
a normal answer (``available: false``, an empty list, ``load_state: not-found``,
``exists: false``), never an exception: the fleet report decides what it means.

Public API: :func:`gather`, :func:`normalize_enclave`, :func:`parse_systemctl_show`,
:func:`service_facts`, :func:`uptime_seconds`, :func:`eif_facts`, :func:`probe_port`,
:func:`validate_params` and the constants :data:`SYSTEMCTL_PROPERTIES`,
:data:`DEFAULT_EIF_PATHS`, :data:`DEFAULT_SERVICES`, :data:`DEFAULT_PORTS`.
"""

import datetime
import errno
import json
import os
import re
import socket
import time

from ansible_collections.opencontracts.enclave.plugins.module_utils.eif import EifError, measure, open_regular
from ansible_collections.opencontracts.enclave.plugins.module_utils.nitro_cli import (
    NITRO_CLI_ENV,
    NitroCliError,
    NitroCliNotFoundError,
    describe_enclaves,
    find_nitro_cli,
    run_nitro_cli,
)

DEFAULT_EIF_PATHS = ["/opt/opencontracts/oracle.eif", "/opt/opencontracts/registry.eif"]
DEFAULT_SERVICES = ["opencontracts-oracle.service", "opencontracts-registry.service"]
DEFAULT_PORTS = [8080]
DEFAULT_PORT_HOST = "127.0.0.1"
DEFAULT_PORT_TIMEOUT = 2.0
DEFAULT_JOURNAL_LINES = 10
MAX_JOURNAL_LINES = 200
MAX_PORT_TIMEOUT = 60.0

# What `systemctl show` is asked for, in this order.
SYSTEMCTL_PROPERTIES = (
    "Id", "LoadState", "ActiveState", "SubState", "UnitFileState", "Result", "MainPID", "NRestarts",
    "InvocationID", "ActiveEnterTimestamp", "ActiveEnterTimestampMonotonic",
)
# The keys of the install record that are reported (the record is written by the role enclave_build).
RECORD_KEYS = ("kind", "sha256", "size", "measurements", "matched_pcr0", "permitted", "method", "commit", "repo_version")
MAX_RECORD_SIZE = 1024 * 1024

_UNIT_RE = re.compile(r"^[A-Za-z0-9:_.@\\-]+$")
_PCR_KEY_RE = re.compile(r"^PCR\d+$", re.IGNORECASE)


class EnclaveInfoError(ValueError):
    """A bad module argument; the message says which and why."""


# --------------------------------------------------------------------------
# Arguments
# --------------------------------------------------------------------------

def validate_params(params):
    """Check the module's arguments; raise :class:`EnclaveInfoError` naming the bad one."""
    for index, unit in enumerate(params.get("services") or []):
        if not unit or unit.startswith("-") or not _UNIT_RE.match(unit):
            raise EnclaveInfoError("services[%d]: %r is not a systemd unit name (letters, digits and :_.@\\- only, "
                                   "not starting with -)" % (index, unit))
    for index, port in enumerate(params.get("ports") or []):
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise EnclaveInfoError("ports[%d]: %r is not a TCP port number (1-65535)" % (index, port))
    timeout = params.get("port_timeout")
    if timeout is not None and not 0 < float(timeout) <= MAX_PORT_TIMEOUT:
        raise EnclaveInfoError("port_timeout: %r must be more than 0 and at most %d seconds" % (timeout, MAX_PORT_TIMEOUT))
    for index, path in enumerate(params.get("eif_paths") or []):
        if not path or not os.path.isabs(path):
            raise EnclaveInfoError("eif_paths[%d]: %r is not an absolute path" % (index, path))
    lines = params.get("journal_lines")
    if lines is not None and (isinstance(lines, bool) or not 0 <= int(lines) <= MAX_JOURNAL_LINES):
        raise EnclaveInfoError("journal_lines: %r must be from 0 to %d" % (lines, MAX_JOURNAL_LINES))
    if not (params.get("port_host") or "").strip():
        raise EnclaveInfoError("port_host: give the address to probe, e.g. 127.0.0.1")


# --------------------------------------------------------------------------
# Enclaves
# --------------------------------------------------------------------------

def _int_or_none(value):
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def normalize_measurements(raw):
    """``{"PCR0": hex, ...}`` from nitro-cli's ``Measurements`` (drops HashAlgorithm; lowercase hex)."""
    measurements = {}
    if isinstance(raw, dict):
        for key, value in raw.items():
            if _PCR_KEY_RE.match(str(key)) and isinstance(value, str):
                measurements[str(key).upper()] = value.strip().lower()
    return measurements


def normalize_enclave(entry):
    """One element of ``describe-enclaves`` with snake_case keys."""
    entry = entry if isinstance(entry, dict) else {}
    cpu_ids = entry.get("CPUIDs")
    return {
        "name": entry.get("EnclaveName"),
        "id": entry.get("EnclaveID"),
        "process_id": _int_or_none(entry.get("ProcessID")),
        "cid": _int_or_none(entry.get("EnclaveCID")),
        "state": entry.get("State"),
        "flags": entry.get("Flags"),
        "cpu_count": _int_or_none(entry.get("NumberOfCPUs")),
        "cpu_ids": [c for c in (_int_or_none(cpu) for cpu in cpu_ids) if c is not None] if isinstance(cpu_ids, list) else [],
        "memory_mib": _int_or_none(entry.get("MemoryMiB")),
        "measurements": normalize_measurements(entry.get("Measurements")),
    }


def nitro_cli_facts(module, binary=None):
    """``(nitro_cli, enclaves)``: whether nitro-cli is there, its version, and the enclaves it lists."""
    facts = {"available": False, "path": None, "version": None, "error": None, "hint": None}
    try:
        path = find_nitro_cli(module, binary)
    except NitroCliNotFoundError as exc:
        facts["error"] = exc.message
        facts["hint"] = exc.hint
        return facts, []
    facts["path"] = path
    if binary and not os.path.exists(binary):
        facts["error"] = "nitro-cli is not installed at %s (nitro_cli_path)" % binary
        return facts, []
    facts["available"] = True
    try:
        rc, stdout, dummy = run_nitro_cli(module, ["--version"], parse_json=False, binary=path)
        match = re.search(r"(\d+\.\d+(?:\.\d+)?)", stdout or "")
        if rc == 0 and match:
            facts["version"] = match.group(1)
    except NitroCliError:
        pass
    try:
        enclaves = [normalize_enclave(entry) for entry in describe_enclaves(module, binary=path)]
    except NitroCliError as exc:
        facts["error"] = exc.message
        facts["hint"] = exc.hint
        return facts, []
    return facts, enclaves


# --------------------------------------------------------------------------
# Installed images
# --------------------------------------------------------------------------

def _read_record(path):
    """The install record next to an EIF: (dict or None, error or None)."""
    try:
        if os.path.getsize(path) > MAX_RECORD_SIZE:
            return None, "%s is larger than %d bytes" % (path, MAX_RECORD_SIZE)
        with open_regular(path) as handle:
            value = json.loads(handle.read(MAX_RECORD_SIZE + 1).decode("utf-8"))
    except EifError:
        return None, "%s is not a regular file" % path
    except (IOError, OSError) as exc:
        if getattr(exc, "errno", None) == errno.ENOENT:
            return None, None
        return None, "cannot read %s: %s" % (path, exc.strerror or exc)
    except ValueError as exc:
        return None, "%s is not JSON: %s" % (path, exc)
    if not isinstance(value, dict):
        return None, "%s is not a JSON object" % path
    record = dict((key, value.get(key)) for key in RECORD_KEYS if key in value)
    if "measurements" in record:
        record["measurements"] = normalize_measurements(record["measurements"])
    if "size" in record:
        record["size"] = _int_or_none(record["size"])
    return record, None


def eif_facts(path, measure_file=True):
    """What is at ``path``: existence, size, measurements (when asked) and the install record."""
    facts = {
        "path": path, "exists": False, "size": None, "mtime": None, "measured": False, "measurements": {},
        "crc_ok": None, "eif_version": None, "is_signed": None, "record": None, "record_path": path + ".json",
        "record_matches": None, "error": None,
    }
    record, record_error = _read_record(path + ".json")
    facts["record"] = record
    try:
        stat = os.stat(path)
    except (IOError, OSError) as exc:
        if getattr(exc, "errno", None) != errno.ENOENT:
            facts["error"] = "cannot read %s: %s" % (path, exc.strerror or exc)
        elif record_error:
            facts["error"] = record_error
        return facts
    if not os.path.isfile(path):
        facts["error"] = "%s is not a regular file" % path
        return facts
    facts["exists"] = True
    facts["size"] = stat.st_size
    facts["mtime"] = datetime.datetime.fromtimestamp(stat.st_mtime, _UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    errors = [record_error] if record_error else []
    if measure_file:
        try:
            measurement = measure(path, require_crc=False)
        except EifError as exc:
            errors.insert(0, "cannot measure %s: %s" % (path, exc.reason))
        except (IOError, OSError) as exc:
            errors.insert(0, "cannot read %s: %s" % (path, exc.strerror or exc))
        else:
            facts.update(measured=True, measurements=dict(measurement.measurements), crc_ok=measurement.crc_ok,
                         eif_version=measurement.version, is_signed=measurement.is_signed)
            recorded = (record or {}).get("measurements") or {}
            if recorded.get("PCR0"):
                facts["record_matches"] = recorded.get("PCR0") == measurement.measurements.get("PCR0")
    if errors:
        facts["error"] = "; ".join(errors)
    return facts


# --------------------------------------------------------------------------
# Service units
# --------------------------------------------------------------------------

class _Utc(datetime.tzinfo):
    def utcoffset(self, dt):
        return datetime.timedelta(0)

    def tzname(self, dt):
        return "UTC"

    def dst(self, dt):
        return datetime.timedelta(0)


_UTC = _Utc()


def _UTC_NOW():  # pylint: disable=invalid-name
    return datetime.datetime.now(_UTC)


def monotonic_usec():
    """CLOCK_MONOTONIC in microseconds: the clock of systemd's ``*TimestampMonotonic`` properties."""
    if hasattr(time, "clock_gettime") and hasattr(time, "CLOCK_MONOTONIC"):
        return int(time.clock_gettime(time.CLOCK_MONOTONIC) * 1000000)
    return int(time.monotonic() * 1000000)


def parse_systemctl_show(text):
    """``Key=Value`` lines as a dict (values keep any further ``=``)."""
    properties = {}
    for line in (text or "").splitlines():
        if "=" in line:
            key, value = line.split("=", 1)
            properties[key.strip()] = value.strip()
    return properties


def uptime_seconds(properties, now_usec):
    """Whole seconds since the unit became active, or None when it is not active."""
    if properties.get("ActiveState") not in ("active", "reloading"):
        return None
    entered = _int_or_none(properties.get("ActiveEnterTimestampMonotonic"))
    if not entered or now_usec is None:
        return None
    return max(0, (int(now_usec) - entered) // 1000000)


def _journal_line(text):
    """One ``journalctl --output json`` entry as "<identifier>: <message>" (None for an unreadable entry)."""
    try:
        entry = json.loads(text)
    except ValueError:
        return None
    if not isinstance(entry, dict):
        return None
    message = entry.get("MESSAGE")
    if isinstance(message, list):  # journald stores non-UTF-8 messages as a byte array
        message = bytes(b for b in message if isinstance(b, int) and 0 <= b < 256).decode("utf-8", "replace")
    if not isinstance(message, str) or not message.strip():
        return None
    identifier = entry.get("SYSLOG_IDENTIFIER") or entry.get("_COMM") or "?"
    return "%s: %s" % (identifier, message.rstrip())


def journal_tail(module, unit, lines):
    """The unit's last ``lines`` journal messages, oldest first, each "<identifier>: <message>" so that
    the service's own words (its SyslogIdentifier) and systemd's can be told apart; [] when unreadable."""
    journalctl = module.get_bin_path("journalctl", required=False)
    if not journalctl or lines <= 0:
        return []
    argv = [journalctl, "--unit", unit, "--lines", str(lines), "--no-pager", "--output", "json", "--quiet"]
    try:
        rc, stdout, _stderr = module.run_command(argv, environ_update=dict(NITRO_CLI_ENV), check_rc=False)
    except OSError:
        return []
    if rc != 0:
        return []
    entries = [_journal_line(text) for text in stdout.splitlines() if text.strip()]
    return [entry for entry in entries if entry][-lines:]


def service_facts(module, unit, systemctl, now_usec, journal_lines=DEFAULT_JOURNAL_LINES):
    """The state of one unit from ``systemctl show`` (never raises for a missing unit).

    A loaded unit that is not active also gets its last ``journal_lines`` journal lines: why it stopped.
    """
    facts = {
        "unit": unit, "load_state": None, "active_state": None, "sub_state": None, "unit_file_state": None,
        "result": None, "main_pid": None, "restarts": None, "invocation_id": None, "active_since": None,
        "uptime_seconds": None, "journal": None, "error": None,
    }
    if not systemctl:
        facts["error"] = "systemctl is not installed (the host does not run systemd)"
        return facts
    argv = [systemctl, "show", "--no-pager", "--property=" + ",".join(SYSTEMCTL_PROPERTIES), "--", unit]
    try:
        rc, stdout, stderr = module.run_command(argv, environ_update=dict(NITRO_CLI_ENV), check_rc=False)
    except OSError as exc:
        facts["error"] = "cannot run %s: %s" % (systemctl, exc)
        return facts
    if rc != 0:
        text = (stderr or stdout or "").strip().splitlines()
        facts["error"] = "systemctl show %s failed (exit status %s): %s" % (unit, rc, text[0] if text else "no output")
        return facts
    properties = parse_systemctl_show(stdout)
    facts.update(
        load_state=properties.get("LoadState") or None,
        active_state=properties.get("ActiveState") or None,
        sub_state=properties.get("SubState") or None,
        unit_file_state=properties.get("UnitFileState") or None,
        result=properties.get("Result") or None,
        main_pid=_int_or_none(properties.get("MainPID")),
        restarts=_int_or_none(properties.get("NRestarts")),
        invocation_id=properties.get("InvocationID") or None,
        active_since=properties.get("ActiveEnterTimestamp") or None,
        uptime_seconds=uptime_seconds(properties, now_usec),
    )
    if facts["load_state"] == "loaded" and facts["active_state"] not in ("active", "activating", "reloading"):
        facts["journal"] = journal_tail(module, unit, journal_lines)
    return facts


# --------------------------------------------------------------------------
# TCP ports
# --------------------------------------------------------------------------

def probe_port(host, port, timeout, connect=None):
    """Whether ``host:port`` accepts a TCP connection within ``timeout`` seconds."""
    connect = connect or socket.create_connection
    started = time.time()
    facts = {"host": host, "port": port, "open": False, "error": None, "seconds": None}
    try:
        sock = connect((host, port), timeout)
    except socket.timeout:
        facts["error"] = "no answer within %s seconds" % timeout
    except (IOError, OSError) as exc:
        facts["error"] = exc.strerror or str(exc)
    else:
        facts["open"] = True
        try:
            sock.close()
        except (IOError, OSError):
            pass
    facts["seconds"] = round(time.time() - started, 3)
    return facts


# --------------------------------------------------------------------------
# Everything
# --------------------------------------------------------------------------

def gather(module, params, now_usec=None, connect=None, clock=None):
    """The module's result (without ``changed``) for validated ``params``.

    ``now_usec`` (the monotonic clock), ``connect`` (socket.create_connection)
    and ``clock`` (a callable returning an aware UTC datetime) are there for tests.
    """
    checked_at = (clock or _UTC_NOW)().strftime("%Y-%m-%dT%H:%M:%SZ")
    notes = []
    nitro_cli, enclaves = nitro_cli_facts(module, params.get("nitro_cli_path"))
    if not nitro_cli["available"]:
        notes.append(nitro_cli["error"])
    elif nitro_cli["error"]:
        notes.append(nitro_cli["error"])
    elif not enclaves:
        notes.append("no enclave is running (nitro-cli describe-enclaves lists none)")

    eifs = [eif_facts(path, params.get("measure_eifs", True)) for path in params.get("eif_paths") or []]

    systemctl = module.get_bin_path("systemctl", required=False)
    now = monotonic_usec() if now_usec is None else now_usec
    journal_lines = int(params.get("journal_lines", DEFAULT_JOURNAL_LINES) or 0)
    services = [service_facts(module, unit, systemctl, now, journal_lines) for unit in params.get("services") or []]

    timeout = float(params.get("port_timeout") or DEFAULT_PORT_TIMEOUT)
    host = (params.get("port_host") or DEFAULT_PORT_HOST).strip()
    ports = [probe_port(host, port, timeout, connect) for port in params.get("ports") or []]

    return {
        "checked_at": checked_at,
        "nitro_cli": nitro_cli,
        "enclaves": enclaves,
        "eifs": eifs,
        "services": services,
        "ports": ports,
        "notes": notes,
    }
