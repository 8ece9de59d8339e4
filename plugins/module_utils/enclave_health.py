# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The health gate of a served enclave: RUNNING, not in debug mode, a permitted PCR0, its port open.

An oracle or registry enclave is healthy when ``nitro-cli describe-enclaves`` lists it in
state ``RUNNING`` with flags ``NONE`` (``DEBUG_MODE`` only when explicitly allowed), its PCR0 is one
of the permitted values, and its service port on the parent instance accepts TCP connections.
:func:`wait_healthy` checks that repeatedly until it holds or a time limit passes. A PCR0 outside the
allow-list and an unwanted debug mode are final: waiting longer cannot fix them, so the gate fails at
once. Everything else (not listed yet, still booting, port not open yet, nitro-cli busy) is retried.

The enclave is the service's by its name when one is given (the serve script's ``--enclave-name``),
else by what it runs: the served image's PCR0 (module_utils.service_enclave). The upstream serve
script may start it without a name, and nitro-cli then names it after the EIF file.

The probe only opens and closes a TCP connection; it sends nothing (an oracle serves one user
session at a time, so a protocol-level probe could occupy it).

Public API: :func:`judge_enclave`, :func:`probe_tcp`, :func:`check_once`, :func:`wait_healthy`,
:func:`journal_tail`, :func:`normalize_allowed` and :class:`HealthReport`.
"""

import socket
import time

from ansible_collections.opencontracts.enclave.plugins.module_utils.eif import normalize_pcr
from ansible_collections.opencontracts.enclave.plugins.module_utils.nitro_cli import (
    NITRO_CLI_ENV,
    NitroCliError,
    NitroCliNotFoundError,
    describe_enclaves,
    enclave_summary,
)
from ansible_collections.opencontracts.enclave.plugins.module_utils.service_enclave import (
    describe_wanted,
    select_enclaves,
)


def normalize_allowed(values):
    """The allow-list as lowercase PCR0 values; raise ValueError when it is empty or has a bad entry."""
    if not values:
        raise ValueError("allowed_pcr0 is empty: give the PCR0 values the protocol permits")
    return [normalize_pcr(value, "allowed_pcr0[%d]" % index) for index, value in enumerate(values)]


class HealthReport:
    """The outcome of one check: ``problems`` (empty when healthy), ``final`` (no use waiting) and the facts."""

    def __init__(self):
        self.problems = []
        self.final = False
        self.enclave = None
        self.measurements = {}
        self.matched_pcr0 = None
        self.debug_mode = False
        self.port_open = False
        self.port_error = None

    @property
    def healthy(self):
        return not self.problems

    def facts(self):
        return {
            "enclave": self.enclave,
            "measurements": self.measurements,
            "pcr0": self.measurements.get("PCR0"),
            "matched_pcr0": self.matched_pcr0,
            "pcr0_permitted": self.matched_pcr0 is not None,
            "debug_mode": self.debug_mode,
            "port_open": self.port_open,
        }


def judge_enclave(report, enclaves, name, allowed, allow_debug_mode, served_pcr0=""):
    """Add to ``report`` what ``describe-enclaves`` (a list) says about the service's enclave.

    The service's enclave is the one called ``name`` when ``name`` is not empty, else the one whose PCR0 is
    ``served_pcr0`` (see :func:`select_enclaves`).
    """
    wanted = describe_wanted(name, served_pcr0)
    found = select_enclaves(enclaves, name, served_pcr0)
    if not found:
        listed = ", ".join("%s (%s, PCR0 %s...)" % (e.get("EnclaveName"), e.get("State"),
                                                    str((e.get("Measurements") or {}).get("PCR0") or "none")[:16].lower())
                           for e in enclaves if isinstance(e, dict))
        report.problems.append("%s is not in nitro-cli describe-enclaves (enclaves: %s)" % (wanted, listed or "none"))
        return
    if len(found) > 1:
        report.problems.append("%d enclaves are %s; expected one (%s)" % (
            len(found), wanted, ", ".join("%s %s" % (e.get("EnclaveName"), e.get("EnclaveID")) for e in found)))
        report.final = True
        return
    entry = found[0]
    report.enclave = enclave_summary(entry)
    subject = "enclave %s (%s)" % (report.enclave["name"], report.enclave["id"])
    measurements = {}
    for key, value in (entry.get("Measurements") or {}).items():
        if isinstance(value, str):
            measurements[str(key).upper()] = value.strip().lower()
    report.measurements = measurements
    if report.enclave["state"] != "RUNNING":
        report.problems.append("%s is in state %s, not RUNNING" % (subject, report.enclave["state"]))
    flags = report.enclave["flags"]
    report.debug_mode = flags == "DEBUG_MODE"
    if report.debug_mode and not allow_debug_mode:
        report.problems.append("%s runs in debug mode: it attests with all-zero PCRs, so the registry and users reject it; "
                               "serve it without --debug-mode (or allow debug mode explicitly, never in production)" % subject)
        report.final = True
    elif flags not in ("NONE", "DEBUG_MODE"):
        report.problems.append("%s has unexpected flags %s" % (subject, flags))
    pcr0 = measurements.get("PCR0")
    if pcr0 is None:
        report.problems.append("nitro-cli describe-enclaves reports no PCR0 for %s (nitro-cli too old?)" % subject)
        report.final = True
    elif pcr0 in allowed:
        report.matched_pcr0 = pcr0
    else:
        report.problems.append("the PCR0 of %s is %s, which is not one of the permitted values (%s): the protocol refuses "
                               "this enclave" % (subject, pcr0, ", ".join(allowed)))
        report.final = True


def probe_tcp(host, port, timeout=3.0):
    """Return (True, None) when ``host:port`` accepts a TCP connection, else (False, reason). Sends nothing."""
    try:
        infos = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
    except socket.gaierror as exc:
        return False, "cannot resolve %s: %s" % (host, exc)
    reason = "no address"
    for family, kind, proto, dummy, address in infos:
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(timeout)
            sock.connect(address)
            return True, None
        except (socket.error, OSError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc) or exc.__class__.__name__
        finally:
            sock.close()
    return False, reason


def check_once(module, name, allowed, allow_debug_mode, host, port, probe=probe_tcp, served_pcr0=""):
    """One health check; returns a :class:`HealthReport`. nitro-cli missing is final, other nitro-cli errors are not."""
    report = HealthReport()
    try:
        enclaves = describe_enclaves(module)
    except NitroCliNotFoundError as exc:
        report.problems.append(str(exc))
        report.final = True
        return report
    except NitroCliError as exc:
        report.problems.append("nitro-cli describe-enclaves failed: %s" % exc)
        enclaves = None
    if enclaves is not None:
        judge_enclave(report, enclaves, name, allowed, allow_debug_mode, served_pcr0)
    report.port_open, report.port_error = probe(host, port)
    if not report.port_open:
        report.problems.append("port %s on %s does not accept TCP connections (%s)" % (port, host, report.port_error))
    return report


def wait_healthy(module, name, allowed, allow_debug_mode, host, port, timeout, interval,
                 probe=probe_tcp, clock=time.time, sleep=time.sleep, served_pcr0=""):
    """Check until healthy, a final problem, or ``timeout`` seconds; return (report, seconds waited, checks made)."""
    start = clock()
    checks = 0
    while True:
        report = check_once(module, name, allowed, allow_debug_mode, host, port, probe=probe, served_pcr0=served_pcr0)
        checks += 1
        waited = clock() - start
        if report.healthy or report.final or waited + interval > timeout:
            return report, round(waited, 1), checks
        sleep(interval)


def journal_tail(module, unit, lines):
    """The last ``lines`` lines of the unit's journal (a list of strings; one explanatory line when unreadable)."""
    journalctl = module.get_bin_path("journalctl", required=False)
    if not journalctl:
        return ["(journalctl is not installed: no journal to show)"]
    argv = [journalctl, "--unit", unit, "--lines", str(int(lines)), "--no-pager", "--output", "short-iso", "--quiet"]
    try:
        rc, stdout, stderr = module.run_command(argv, environ_update=dict(NITRO_CLI_ENV), check_rc=False)
    except OSError as exc:
        return ["(cannot run journalctl: %s)" % exc]
    if rc != 0:
        return ["(journalctl failed with exit status %s: %s)" % (rc, (stderr or stdout).strip())]
    return stdout.splitlines()[-int(lines):] if lines else []
