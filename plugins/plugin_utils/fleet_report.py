# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The fleet report: every host's enclave_info result and inventory values, judged.

Built on the controller (filter ``opencontracts.enclave.fleet_report``) from the
result the module ``enclave_info`` registered on each host and from the host's
inventory variables; rendered as a text table (:func:`render_table`) and as a
self-contained HTML page (``fleet_report_html.render_html``). The JSON schema
is documented field by field in ``docs/fleet-report.md``; :data:`SCHEMA_VERSION`
changes whenever a field changes meaning or disappears.

One row per host and enclave kind (``oracle`` for hosts of group ``oracles``,
``registry`` for group ``registries``; a host in both groups has two rows). The
verdict of a row:

* ``down``: nothing of this kind serves: the host is unreachable, was not
  checked, nitro-cli is missing or fails, or no enclave of the kind is RUNNING;
* ``degraded``: the enclave runs but is not fit to serve users: debug mode,
  PCR0 not permitted (or no measurement, or no permitted list), a probed port
  refuses TCP connections, the service unit is not active (the enclave is not
  supervised), its attestation failed (oracles probed with ``fleet_report_attest``);
* ``serving``: none of the above.

``reasons`` lists every finding in that order (the cause of ``down`` first);
``notes`` holds facts worth reading that do not change the verdict (an
installed image that differs from the running one, an invalid inventory value).

Public API: :func:`build_report`, :func:`collect_inputs`, :func:`judge_host`,
:func:`fleet_totals`, :func:`render_table`, :func:`format_duration`,
:func:`short_hex`, :func:`sort_problems_first` and the constants
:data:`SCHEMA`, :data:`SCHEMA_VERSION`, :data:`VERDICTS`, :data:`DEFAULT_OPTIONS`.
"""

import datetime

from collections.abc import Mapping

from ansible_collections.opencontracts.enclave.plugins.module_utils.service_enclave import PCR0_RE, select_enclaves
from ansible_collections.opencontracts.enclave.plugins.plugin_utils.fleet_report_attestation import (
    ATTESTED,
    judge_attestation,
)
from ansible_collections.opencontracts.enclave.plugins.plugin_utils.oracle_inputs import (
    MissingKeccakLibrary,
    OracleInputError,
    format_opn,
    parse_no_demand_timeout,
    parse_price,
    parse_registry,
    to_checksum_address,
)
from ansible_collections.opencontracts.enclave.plugins.module_utils.registry_quote import STATES as QUOTE_STATES
from ansible_collections.opencontracts.enclave.plugins.module_utils.registry_quote import verdict_of_result

SCHEMA = "opencontracts.enclave/fleet-report"
SCHEMA_VERSION = 1
VERDICTS = ("down", "degraded", "serving")
KINDS = ("oracle", "registry")

DEFAULT_OPTIONS = {
    # Inventory group of each kind.
    "groups": {"oracle": "oracles", "registry": "registries"},
    # The name each kind's enclave runs under (nitro-cli run-enclave --enclave-name); empty: the enclave that runs
    # the served (or installed) image, by PCR0.
    "enclave_names": {"oracle": "", "registry": ""},
    # The unit that keeps each kind's enclave up.
    "services": {"oracle": "opencontracts-oracle.service", "registry": "opencontracts-registry.service"},
    # Where each kind's image is installed.
    "eif_paths": {"oracle": "/opt/opencontracts/oracle.eif", "registry": "/opt/opencontracts/registry.eif"},
    # The copy of it the serve script loads (roles oracle_service / registry_service put it there).
    "served_eif_paths": {
        "oracle": "/opt/opencontracts/enclave-protocol/oracle_enclave/oracle_enclave.eif",
        "registry": "/opt/opencontracts/enclave-protocol/registry_enclave/registry_enclave.eif",
    },
    # The host variable that holds the registered enclave_info result.
    "result_var": "__fleet_report_info",
    # The host variable that holds the registered attestation_probe result, with its verification (oracles).
    "attest_probe_var": "__fleet_report_attest_probe",
    # The host variable that holds the registered registry_quote result (oracles), which names the registry's
    # address (url) and the oracle's as the registry knows it (address).
    "registry_quote_var": "__fleet_report_registry_quote",
}

# Inventory variables read for oracle rows.
VAR_PROVIDER = "oracle_service_provider"
VAR_REGISTRY = "oracle_service_registry"
VAR_PRICE = "oracle_service_price"
VAR_TIMEOUT = "oracle_service_no_demand_timeout"
VAR_DEBUG = {"oracle": "oracle_service_debug_mode", "registry": "registry_service_debug_mode"}
VAR_PERMITTED = "enclave_build_permitted_pcr0"


class FleetReportError(ValueError):
    """The input cannot make a report (a programming or configuration error, not a host's state)."""


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------

def short_hex(value, head=12):
    """``ba19b0568898…`` for long hex strings; short ones unchanged."""
    if not value:
        return ""
    value = str(value)
    return value if len(value) <= head + 1 else value[:head] + "\u2026"


def format_duration(seconds):
    """``3d 4h``, ``2h 5m``, ``4m 10s``, ``12s``; empty for None."""
    if seconds is None:
        return ""
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return "%dd %dh" % (days, hours)
    if hours:
        return "%dh %dm" % (hours, minutes)
    if minutes:
        return "%dm %ds" % (minutes, secs)
    return "%ds" % secs


def _first_line(text, limit=500):
    lines = str(text or "").strip().splitlines()
    line = lines[0].strip() if lines else ""
    return line if len(line) <= limit else line[:limit] + "..."


def _lower_list(values):
    if isinstance(values, str) or not isinstance(values, (list, tuple)):
        return None
    return [str(v).strip().lower() for v in values if v is not None]


def _merge_options(options):
    merged = {}
    for key, value in DEFAULT_OPTIONS.items():
        merged[key] = dict(value) if isinstance(value, dict) else value
    for key, value in (options or {}).items():
        if key not in DEFAULT_OPTIONS:
            raise FleetReportError("unknown report option %r (known: %s)" % (key, ", ".join(sorted(DEFAULT_OPTIONS))))
        if isinstance(merged[key], dict):
            if not isinstance(value, Mapping):
                raise FleetReportError("report option %s must be a mapping of kind to value" % key)
            merged[key].update(value)
        else:
            merged[key] = value
    return merged


# --------------------------------------------------------------------------
# From hostvars to the builder's input
# --------------------------------------------------------------------------

def _kinds_of(host, groups, options, result):
    kinds = [kind for kind in KINDS if host in (groups.get(options["groups"].get(kind)) or [])]
    if kinds:
        return kinds, None
    # Not in any group of the report: tell from what the host runs.
    seen = []
    if isinstance(result, Mapping):
        names = [e.get("name") for e in result.get("enclaves") or [] if isinstance(e, Mapping)]
        units = dict((s.get("unit"), s) for s in result.get("services") or [] if isinstance(s, Mapping))
        for kind in KINDS:
            unit = units.get(options["services"].get(kind)) or {}
            if options["enclave_names"].get(kind) in names or unit.get("load_state") == "loaded":
                seen.append(kind)
    note = "in neither group %s: reported as %s" % (
        " nor ".join(options["groups"][k] for k in KINDS), " and ".join(seen or ["oracle"]))
    return seen or ["oracle"], note


def collect_inputs(hostnames, hostvars, groups, options=None, permitted_defaults=None):
    """The builder's input for ``hostnames`` from Ansible's ``hostvars`` and ``groups``.

    ``permitted_defaults``: the permitted PCR0 lists by kind used when a host has
    no ``enclave_build_permitted_pcr0`` (the role enclave_build's defaults).
    """
    options = _merge_options(options)
    if isinstance(hostnames, str):
        hostnames = [hostnames]
    groups = groups or {}
    inputs = []
    seen = set()
    for host in hostnames or []:
        host = str(host)
        if host in seen:
            continue
        seen.add(host)
        try:
            variables = hostvars[host]
        except KeyError:
            variables = {}
        variables = variables if isinstance(variables, Mapping) else {}
        result = variables.get(options["result_var"])
        kinds, note = _kinds_of(host, groups, options, result)
        permitted_by_kind = variables.get(VAR_PERMITTED)
        if not isinstance(permitted_by_kind, Mapping):
            permitted_by_kind = permitted_defaults or {}
        for kind in kinds:
            entry = {
                "host": host,
                "kind": kind,
                "result": result,
                "permitted_pcr0": permitted_by_kind.get(kind),
                "enclave_name": options["enclave_names"].get(kind),
                "service": options["services"].get(kind),
                "eif_path": options["eif_paths"].get(kind),
                "served_eif_path": (options.get("served_eif_paths") or {}).get(kind),
                "debug_mode_allowed": variables.get(VAR_DEBUG[kind]),
                "notes": [note] if note else [],
            }
            if kind == "oracle":
                entry.update({
                    "provider": variables.get(VAR_PROVIDER),
                    "registry": variables.get(VAR_REGISTRY),
                    "price": variables.get(VAR_PRICE),
                    "no_demand_timeout": variables.get(VAR_TIMEOUT),
                    "attest_probe": variables.get(options["attest_probe_var"]),
                    "registry_quote": variables.get(options["registry_quote_var"]),
                })
            inputs.append(entry)
    return inputs


# --------------------------------------------------------------------------
# One row
# --------------------------------------------------------------------------

def _oracle_settings(entry, row, notes):
    provider = entry.get("provider")
    if provider is not None:
        try:
            row["provider"] = to_checksum_address(provider)
        except OracleInputError as error:
            row["provider"] = str(provider)
            notes.append("%s: %s" % (VAR_PROVIDER, error))
        except MissingKeccakLibrary:
            row["provider"] = str(provider).strip()
    else:
        notes.append("%s is not set" % VAR_PROVIDER)
    registry = entry.get("registry")
    if registry is not None:
        try:
            row["registry"] = parse_registry(registry)
        except OracleInputError as error:
            row["registry"] = str(registry)
            notes.append("%s: %s" % (VAR_REGISTRY, error))
    else:
        notes.append("%s is not set" % VAR_REGISTRY)
    price = entry.get("price")
    if price is not None:
        try:
            wei = parse_price(price)
        except OracleInputError as error:
            notes.append("%s: %s" % (VAR_PRICE, error))
        else:
            row["price_wei"] = str(wei)
            row["price_opn"] = format_opn(wei)
    else:
        notes.append("%s is not set" % VAR_PRICE)
    try:
        timeout = parse_no_demand_timeout(entry.get("no_demand_timeout"))
    except OracleInputError as error:
        notes.append("%s: %s" % (VAR_TIMEOUT, error))
    else:
        row["no_demand_timeout"] = timeout if timeout != "" else None
        row["runs_forever"] = timeout == ""


def _image_pcr0s(entry, result):
    """The PCR0 values of the served copy and of the installed image (measured, else as recorded), lowercase."""
    found = []
    for path in (entry.get("served_eif_path"), entry.get("eif_path")):
        for facts in result.get("eifs") or []:
            if not (path and isinstance(facts, Mapping) and facts.get("path") == path):
                continue
            record = (facts.get("record") or {}).get("measurements") or {}
            for pcr0 in ((facts.get("measurements") or {}).get("PCR0"), record.get("PCR0")):
                pcr0 = str(pcr0 or "").strip().lower()
                if PCR0_RE.match(pcr0) and pcr0 not in found:
                    found.append(pcr0)
    return found


def _select_enclave(entry, enclaves, single_kind, result=None):
    """The kind's enclave: by its name when one is configured, else the one running the served (or installed) image."""
    wanted = entry.get("enclave_name")
    if wanted:
        found = [e for e in enclaves if e.get("name") == wanted]
        other = "runs under the name %s, not %s" % ("%s", wanted)
    else:
        pcr0s = _image_pcr0s(entry, result or {})
        found = select_enclaves(enclaves, pcr0=pcr0s, name_key="name", measurements_key="measurements") if pcr0s else []
        other = "(%s) does not run the installed image" % "%s"
    if found:
        running = [e for e in found if e.get("state") == "RUNNING"]
        return (running or found)[0], None
    if single_kind and len(enclaves) == 1:
        enclave = enclaves[0]
        return enclave, "the only enclave on the host %s: taken as the %s enclave" % (
            other % enclave.get("name"), entry["kind"])
    return None, None


def _service_findings(entry, result, running, reasons, notes):
    unit = entry.get("service")
    services = [s for s in result.get("services") or [] if isinstance(s, Mapping)]
    found = [s for s in services if s.get("unit") == unit]
    if not unit:
        return None
    if not found:
        notes.append("service %s was not probed" % unit)
        return None
    facts = found[0]
    service = {
        "unit": unit,
        "load_state": facts.get("load_state"),
        "active_state": facts.get("active_state"),
        "sub_state": facts.get("sub_state"),
        "active_since": facts.get("active_since"),
        "uptime_seconds": facts.get("uptime_seconds"),
        "restarts": facts.get("restarts"),
        "result": facts.get("result"),
        "journal": list(facts.get("journal") or []),
    }
    supervision = "" if not running else ": the running enclave is not supervised"
    if facts.get("error"):
        notes.append("cannot read the state of %s: %s" % (unit, _first_line(facts["error"])))
    elif facts.get("load_state") == "not-found":
        reasons.append("service %s is not installed%s" % (unit, supervision))
    elif facts.get("active_state") != "active":
        state = "%s (%s)" % (facts.get("active_state"), facts.get("sub_state")) if facts.get("sub_state") else str(facts.get("active_state"))
        if facts.get("result") and facts.get("result") != "success":
            state += ", last result %s" % facts["result"]
        gave_up, last_words = _journal_reason(service["journal"])
        if gave_up:
            state += ": systemd stopped restarting it (too many starts in its start limit interval)"
        reasons.append("service %s is %s%s%s" % (unit, state, supervision, ("; journal: %s" % last_words) if last_words else ""))
    return service


def _journal_reason(lines):
    """(whether systemd gave up restarting the unit, the service's own last journal line or "").

    ``lines`` are enclave_info's "<identifier>: <message>" journal lines; systemd's own are "systemd: ...".
    """
    systemd = [line for line in lines if line.startswith("systemd: ")]
    own = [line for line in lines if not line.startswith("systemd: ")]
    gave_up = any("Start request repeated too quickly" in line for line in systemd)
    return gave_up, (own[-1].split(": ", 1)[-1].strip() if own else "")


def _port_findings(result, reasons):
    ports = []
    for probe in result.get("ports") or []:
        if not isinstance(probe, Mapping):
            continue
        ports.append({"port": probe.get("port"), "open": bool(probe.get("open")), "error": probe.get("error")})
        if not probe.get("open"):
            why = _first_line(probe.get("error")) or "closed"
            reasons.append("port %s does not accept TCP connections (%s)" % (probe.get("port"), why))
    return ports


def _eif_findings(entry, result, enclave, reasons, notes):
    path = entry.get("eif_path")
    facts = [e for e in result.get("eifs") or [] if isinstance(e, Mapping) and e.get("path") == path]
    if not path or not facts:
        return None
    facts = facts[0]
    measured = (facts.get("measurements") or {}).get("PCR0")
    recorded = ((facts.get("record") or {}).get("measurements") or {}).get("PCR0")
    pcr0 = measured or recorded
    running = ((enclave or {}).get("measurements") or {}).get("PCR0")
    installed = {
        "path": path,
        "exists": bool(facts.get("exists")),
        "pcr0": pcr0,
        "measured": bool(facts.get("measured")),
        "crc_ok": facts.get("crc_ok") if facts.get("measured") else None,
        "matches_record": facts.get("record_matches"),
        "matches_running": (pcr0 == running) if (pcr0 and running) else None,
    }
    # A damaged image does not stop the running enclave, but its next start (a crash, a reboot) would fail
    # or run something else: degraded, and the next playbook run replaces it.
    repair = "; the next start of the enclave would fail or run another image: run the playbook again to replace it"
    if facts.get("error"):
        notes.append("installed image: %s" % _first_line(facts["error"]))
    if facts.get("exists") and installed["crc_ok"] is False:
        reasons.append("the installed image %s is corrupt: its CRC does not match its content%s" % (path, repair))
    if facts.get("exists") and facts.get("record_matches") is False:
        reasons.append("the installed image %s does not match its install record (PCR0 %s recorded, %s measured)%s" % (
            path, short_hex(recorded), short_hex(measured), repair))
    installed["served_copy"] = _served_copy_findings(entry, result, pcr0, reasons)
    if installed["matches_running"] is False:
        notes.append("the installed image %s (PCR0 %s) is not the one running (PCR0 %s): a restart would change the enclave" % (
            path, short_hex(pcr0), short_hex(running)))
    return installed


def _served_copy_findings(entry, result, installed_pcr0, reasons):
    """The copy of the installed image that the serve script loads at the enclave's next start."""
    path = entry.get("served_eif_path")
    facts = [e for e in result.get("eifs") or [] if isinstance(e, Mapping) and e.get("path") == path]
    if not path or not facts or not facts[0].get("exists"):
        return None
    facts = facts[0]
    pcr0 = (facts.get("measurements") or {}).get("PCR0")
    copy = {
        "path": path,
        "crc_ok": facts.get("crc_ok") if facts.get("measured") else None,
        "pcr0": pcr0,
        "matches_installed": (pcr0 == installed_pcr0) if (pcr0 and installed_pcr0) else None,
    }
    repair = "; the next start of the enclave would fail or run another image: run the playbook again to replace it"
    if copy["crc_ok"] is False:
        reasons.append("the served copy %s of the image is corrupt: its CRC does not match its content%s" % (path, repair))
    elif copy["matches_installed"] is False:
        reasons.append("the served copy %s of the image (PCR0 %s) is not the installed image (PCR0 %s)%s" % (
            path, short_hex(pcr0), short_hex(installed_pcr0), repair))
    return copy


def _empty_row(entry):
    row = {
        "host": entry["host"],
        "kind": entry["kind"],
        "verdict": None,
        "reasons": [],
        "notes": [],
        "reachable": None,
        "checked_at": None,
        "nitro_cli_version": None,
        "enclave": None,
        "debug_mode": None,
        "pcr0": None,
        "pcr0_permitted": None,
        "pcr0_permitted_index": None,
        "permitted_pcr0_count": 0,
        "installed_eif": None,
        "service": None,
        "ports": [],
        "ports_open": None,
    }
    if entry["kind"] == "oracle":
        row.update({"provider": None, "registry": None, "price_wei": None, "price_opn": None,
                    "no_demand_timeout": None, "runs_forever": None, "attested": "not_checked", "attestation": None,
                    "registry_quote": None})
    return row


def _attestation_findings(entry, row, now, degraded, notes):
    row["attested"], row["attestation"] = judge_attestation(entry.get("attest_probe"), now)
    if row["attested"] == "failed":
        degraded.append("attestation failed: %s" % row["attestation"]["reason"])
    elif row["attested"] == "busy":
        notes.append("attestation not checked: the oracle was busy with a user's session")


def _registry_quote_findings(entry, row, degraded, notes):
    """The registry's verdict on this oracle (fleet_report_registry_quote), when its quote was asked."""
    result = entry.get("registry_quote")
    if not isinstance(result, Mapping) or result.get("skipped"):
        return
    url = result.get("url")
    verdict = verdict_of_result(result, result.get("address") or entry["host"], row.get("price_wei") or "",
                                provider=row.get("provider"), registry=("the registry %s" % url) if url else "the registry",
                                busy=row.get("attested") == "busy")
    row["registry_quote"] = dict((key, verdict[key]) for key in (
        "state", "registered", "quoted_price_wei", "sent_to", "sent_to_price_wei", "summary"))
    row["registry_quote"]["url"] = url
    degraded.extend(verdict["problems"])
    notes.extend(verdict["notes"])


def judge_host(entry, single_kind=True, now=None):
    """The report row of one (host, kind) input entry (see :func:`collect_inputs`).

    ``now``: the report's time (a UTC datetime), from which attestation ages are counted.
    """
    row = _empty_row(entry)
    notes = list(entry.get("notes") or [])
    down = []
    degraded = []
    permitted = _lower_list(entry.get("permitted_pcr0"))
    row["permitted_pcr0_count"] = len(permitted or [])
    if entry["kind"] == "oracle":
        _oracle_settings(entry, row, notes)

    result = entry.get("result")
    if not isinstance(result, Mapping) or result.get("skipped") and "enclaves" not in result:
        down.append("not checked: there is no enclave_info result for this host (it failed or was skipped earlier in "
                    "this run, or was not in the play)")
    elif result.get("unreachable"):
        row["reachable"] = False
        message = _first_line(result.get("msg"))
        if message.startswith("Task failed: "):  # ansible-core 2.19 prefixes every task error
            message = message[len("Task failed: "):]
        down.append("unreachable: %s" % (message or "the host could not be contacted"))
    elif result.get("failed") or "enclaves" not in result:
        row["reachable"] = True
        down.append("enclave_info failed: %s" % (_first_line(result.get("msg")) or "no result"))
    else:
        row["reachable"] = True
        row["checked_at"] = result.get("checked_at")
        nitro_cli = result.get("nitro_cli") or {}
        row["nitro_cli_version"] = nitro_cli.get("version")
        enclaves = [e for e in result.get("enclaves") or [] if isinstance(e, Mapping)]
        enclave = None
        if not nitro_cli.get("available"):
            down.append("nitro-cli is not installed")
        elif nitro_cli.get("error"):
            down.append("nitro-cli describe-enclaves failed: %s" % _first_line(nitro_cli["error"]))
        else:
            enclave, note = _select_enclave(entry, enclaves, single_kind, result)
            if note:
                notes.append(note)
            if enclave is None:
                others = ", ".join("%s (%s)" % (e.get("name"), e.get("state")) for e in enclaves)
                wanted = (("enclave name %s" % entry["enclave_name"]) if entry.get("enclave_name")
                          else "none runs the installed image")
                down.append("no %s enclave runs (%s; %s)" % (
                    entry["kind"], wanted, ("other enclaves: " + others) if others else "no enclave at all"))
            elif enclave.get("state") != "RUNNING":
                down.append("enclave %s is %s, not RUNNING" % (enclave.get("name"), enclave.get("state")))
        running = enclave is not None and enclave.get("state") == "RUNNING"
        if enclave is not None:
            row["enclave"] = dict((key, enclave.get(key)) for key in (
                "name", "id", "state", "flags", "cid", "cpu_count", "memory_mib", "process_id"))
            row["debug_mode"] = enclave.get("flags") == "DEBUG_MODE"
            row["pcr0"] = (enclave.get("measurements") or {}).get("PCR0")
            if row["pcr0"] and permitted is not None:
                row["pcr0_permitted"] = row["pcr0"] in permitted
                row["pcr0_permitted_index"] = permitted.index(row["pcr0"]) if row["pcr0_permitted"] else None
        if running:
            flags = enclave.get("flags")
            if flags == "DEBUG_MODE":
                allowed = " (allowed by %s)" % VAR_DEBUG[entry["kind"]] if entry.get("debug_mode_allowed") in (True, "true", "True") else ""
                degraded.append("debug mode%s: the enclave attests with all-zero PCRs, so the registry and users' clients "
                                "reject it" % allowed)
            elif flags != "NONE":
                degraded.append("unexpected enclave flags %s (expected NONE)" % flags)
            if not row["pcr0"]:
                degraded.append("nitro-cli reports no PCR0 for enclave %s" % enclave.get("name"))
            elif permitted is None:
                degraded.append("no permitted PCR0 list for %s enclaves (%s.%s)" % (entry["kind"], VAR_PERMITTED, entry["kind"]))
            elif not row["pcr0_permitted"]:
                degraded.append("PCR0 %s is not permitted (%d permitted value%s for %s)" % (
                    row["pcr0"], len(permitted), "" if len(permitted) == 1 else "s", entry["kind"]))
        row["installed_eif"] = _eif_findings(entry, result, enclave if running else None, degraded, notes)
        service_reasons = []
        row["service"] = _service_findings(entry, result, running, service_reasons, notes)
        port_reasons = []
        row["ports"] = _port_findings(result, port_reasons)
        row["ports_open"] = all(p["open"] for p in row["ports"]) if row["ports"] else None
        (down if down else degraded).extend(service_reasons + port_reasons)
        if entry["kind"] == "oracle":
            _attestation_findings(entry, row, now or datetime.datetime.now(datetime.timezone.utc), degraded, notes)
            _registry_quote_findings(entry, row, degraded, notes)
        for note in result.get("notes") or []:
            if note and not any(note in reason for reason in down) and "no enclave is running" not in note:
                notes.append(_first_line(note))

    row["verdict"] = "down" if down else ("degraded" if degraded else "serving")
    row["reasons"] = down + degraded
    row["notes"] = notes
    return row


# --------------------------------------------------------------------------
# The fleet
# --------------------------------------------------------------------------

def _median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) // 2


def fleet_totals(rows):
    """The fleet totals of report rows (see docs/fleet-report.md, ``totals``)."""
    totals = {
        "hosts": len(set(row["host"] for row in rows)),
        "rows": len(rows),
        "serving": 0,
        "degraded": 0,
        "down": 0,
        "by_kind": {},
    }
    for row in rows:
        totals[row["verdict"]] += 1
        kind = totals["by_kind"].setdefault(row["kind"], {"rows": 0, "serving": 0, "degraded": 0, "down": 0})
        kind["rows"] += 1
        kind[row["verdict"]] += 1
    serving_prices = [(int(row["price_wei"]), row["host"]) for row in rows
                      if row["kind"] == "oracle" and row["verdict"] == "serving" and row.get("price_wei") is not None]
    price = {"basis": "serving oracles", "count": len(serving_prices), "cheapest_wei": None, "cheapest_opn": None,
             "cheapest_hosts": [], "median_wei": None, "median_opn": None}
    if serving_prices:
        cheapest = min(value for value, _host in serving_prices)
        median = _median([value for value, _host in serving_prices])
        price.update(cheapest_wei=str(cheapest), cheapest_opn=format_opn(cheapest),
                     cheapest_hosts=sorted(host for value, host in serving_prices if value == cheapest),
                     median_wei=str(median), median_opn=format_opn(median))
    totals["price"] = price

    def hosts_where(predicate):
        hosts = sorted(set(row["host"] for row in rows if predicate(row)))
        return {"count": len(hosts), "hosts": hosts}

    totals["pcr0_not_permitted"] = hosts_where(lambda row: row["pcr0_permitted"] is False)
    totals["debug_mode"] = hosts_where(lambda row: row["debug_mode"] is True)
    totals["unreachable"] = hosts_where(lambda row: row["reachable"] is False)
    totals["not_checked"] = hosts_where(lambda row: row["reachable"] is None)
    oracles = [row for row in rows if row["kind"] == "oracle"]
    totals["attested"] = dict((status, sum(1 for row in oracles if row.get("attested") == status)) for status in ATTESTED)
    totals["attestation_failed"] = hosts_where(lambda row: row.get("attested") == "failed")
    states = [(row.get("registry_quote") or {}).get("state", "not_checked") for row in oracles]
    totals["registry_quote"] = dict((state, states.count(state)) for state in QUOTE_STATES)
    # What each registry asked answered: where it sends users (one line per registry address).
    quotes = {}
    for row in oracles:
        quote = row.get("registry_quote") or {}
        if quote.get("url") and quote.get("summary") and quote["summary"] != "no quote":
            quotes.setdefault(quote["url"], quote["summary"])
    totals["registry_quotes"] = [{"registry": url, "summary": quotes[url]} for url in sorted(quotes)]
    return totals


def _utc_now_text():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_report(inputs, generated_at=None, title=None):
    """The report (a JSON-ready dict) from :func:`collect_inputs`-shaped entries."""
    if not isinstance(inputs, (list, tuple)):
        raise FleetReportError("the report needs a list of host entries; got %s" % type(inputs).__name__)
    kinds_per_host = {}
    for entry in inputs:
        if not isinstance(entry, Mapping) or not entry.get("host") or entry.get("kind") not in KINDS:
            raise FleetReportError("every host entry needs a host and a kind (%s); got %r" % (" or ".join(KINDS), entry))
        kinds_per_host.setdefault(entry["host"], set()).add(entry["kind"])
    generated_at = generated_at or _utc_now_text()
    try:
        now = datetime.datetime.strptime(generated_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        raise FleetReportError("generated_at must be a UTC time like 2026-11-27T09:14:05Z; got %r" % generated_at) from None
    rows = [judge_host(entry, single_kind=len(kinds_per_host[entry["host"]]) == 1, now=now) for entry in inputs]
    rows.sort(key=lambda row: (row["host"], row["kind"]))
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "title": title or "Open Contracts fleet report",
        "generated_at": generated_at,
        "hosts": rows,
        "totals": fleet_totals(rows),
    }


def sort_problems_first(rows):
    """Rows ordered down, degraded, serving; by host and kind within each."""
    order = dict((verdict, index) for index, verdict in enumerate(VERDICTS))
    return sorted(rows, key=lambda row: (order.get(row.get("verdict"), -1), row.get("host"), row.get("kind")))


# --------------------------------------------------------------------------
# The text table
# --------------------------------------------------------------------------

def _pcr0_cell(row):
    if not row.get("pcr0"):
        return "-"
    if row.get("pcr0_permitted") is True:
        return "%s permitted #%d" % (short_hex(row["pcr0"]), row["pcr0_permitted_index"] + 1)
    if row.get("pcr0_permitted") is False:
        return "%s NOT PERMITTED" % short_hex(row["pcr0"])
    return "%s (no list)" % short_hex(row["pcr0"])


def _enclave_cell(row):
    enclave = row.get("enclave")
    if not enclave:
        return "-"
    text = str(enclave.get("state"))
    if enclave.get("flags") and enclave.get("flags") != "NONE":
        text += " " + str(enclave["flags"])
    return text


def _service_cell(row):
    service = row.get("service")
    if not service:
        return "-"
    if service.get("load_state") == "not-found":
        return "not installed"
    if service.get("active_state") == "active":
        return "active %s" % format_duration(service.get("uptime_seconds"))
    return str(service.get("active_state") or service.get("load_state") or "-")


def _attested_cell(row):
    if row["kind"] != "oracle":
        return "-"
    attested = row.get("attested") or "not_checked"
    if attested == "not_checked":
        return "-"
    if attested == "verified" and (row.get("attestation") or {}).get("age_seconds") is not None:
        return "verified %s" % format_duration(max(row["attestation"]["age_seconds"], 0))
    return attested


def _ports_cell(row):
    if not row.get("ports"):
        return "-"
    return " ".join("%s %s" % (p["port"], "open" if p["open"] else "closed") for p in row["ports"])


def table_rows(report):
    """The table's cells, problems first: a list of lists of strings, headers first."""
    header = ["HOST", "KIND", "VERDICT", "ENCLAVE", "PCR0", "ATTESTED", "PRICE", "PROVIDER", "REGISTRY", "TIMEOUT", "SERVICE", "PORTS", "REASONS"]
    lines = [header]
    for row in sort_problems_first(report.get("hosts") or []):
        timeout = "-"
        if row["kind"] == "oracle":
            timeout = "forever" if row.get("runs_forever") else ("%ss" % row["no_demand_timeout"] if row.get("no_demand_timeout") else "-")
        lines.append([
            row["host"], row["kind"], row["verdict"], _enclave_cell(row), _pcr0_cell(row), _attested_cell(row),
            row.get("price_opn") or "-", short_hex(row.get("provider"), 10) or "-", row.get("registry") or "-", timeout,
            _service_cell(row), _ports_cell(row), "; ".join(row.get("reasons") or []) or "-",
        ])
    return lines


def render_table(report):
    """The report as plain text: one line per row (problems first), then the fleet totals."""
    lines = table_rows(report)
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]) - 1)]
    out = []
    for line in lines:
        cells = [cell.ljust(width) for cell, width in zip(line[:-1], widths)] + [line[-1]]
        out.append("  ".join(cells).rstrip())
    totals = report.get("totals") or {}
    price = totals.get("price") or {}
    out.append("")
    out.append("%d serving, %d degraded, %d down (%d host%s)" % (
        totals.get("serving", 0), totals.get("degraded", 0), totals.get("down", 0), totals.get("hosts", 0),
        "" if totals.get("hosts") == 1 else "s"))
    if price.get("count"):
        out.append("price of %d serving oracle%s: cheapest %s (%s wei; %s), median %s (%s wei)" % (
            price["count"], "" if price["count"] == 1 else "s", price["cheapest_opn"], price["cheapest_wei"],
            ", ".join(price["cheapest_hosts"]), price["median_opn"], price["median_wei"]))
    else:
        out.append("price: no oracle is serving")
    for key, label in (("pcr0_not_permitted", "PCR0 not permitted"), ("debug_mode", "debug mode"),
                       ("unreachable", "unreachable"), ("not_checked", "not checked")):
        item = totals.get(key) or {}
        out.append("%s: %d%s" % (label, item.get("count", 0), (" (%s)" % ", ".join(item["hosts"])) if item.get("hosts") else ""))
    quoted = totals.get("registry_quote") or {}
    if any(quoted.get(state) for state in ("registered", "not_quoted", "degraded")):
        out.append("registry's quote of the oracles: %d registered, %d not quoted, %d degraded, %d not checked" % (
            quoted.get("registered", 0), quoted.get("not_quoted", 0), quoted.get("degraded", 0), quoted.get("not_checked", 0)))
    for item in totals.get("registry_quotes") or []:
        out.append("registry %s: %s" % (item["registry"], item["summary"]))
    attested = totals.get("attested") or {}
    if any(attested.get(status) for status in ("verified", "failed", "busy")):
        failed = totals.get("attestation_failed") or {}
        out.append("attestation of the oracles: %d verified, %d failed%s, %d busy, %d not checked" % (
            attested.get("verified", 0), attested.get("failed", 0),
            (" (%s)" % ", ".join(failed["hosts"])) if failed.get("hosts") else "", attested.get("busy", 0),
            attested.get("not_checked", 0)))
    return "\n".join(out) + "\n"
