# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The fleet_report role's input rules and probe arguments (controller only)."""

from collections.abc import Mapping, Sequence

from ansible_collections.opencontracts.enclave.plugins.plugin_utils import attestation_inputs

KINDS = ("oracle", "registry")


def _is_list(value):
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def _number(value, kind=float):
    try:
        return kind(value)
    except (TypeError, ValueError):
        return None


def input_errors(settings):
    """Every bad fleet_report_* setting in ``settings`` (variable name -> value), one message each."""
    errors = []
    hosts = settings.get("fleet_report_hosts")
    if not _is_list(hosts):
        errors.append("fleet_report_hosts must be a list of host names (got %r)" % (hosts,))
    if not str(settings.get("fleet_report_dir") or ""):
        errors.append("fleet_report_dir must name a folder on the controller")
    groups = settings.get("fleet_report_groups")
    if not isinstance(groups, Mapping) or not groups or set(groups) - set(KINDS):
        errors.append("fleet_report_groups must map oracle and/or registry to inventory groups (got %r)" % (groups,))
    for name in ("fleet_report_enclave_names", "fleet_report_services"):
        if not isinstance(settings.get(name), Mapping):
            errors.append("%s must be a mapping by kind (oracle, registry) (got %r)" % (name, settings.get(name)))
    for name, required in (("fleet_report_eif_paths", True), ("fleet_report_served_eif_paths", False)):
        paths = settings.get(name)
        if not isinstance(paths, Mapping):
            errors.append("%s must be a mapping by kind (oracle, registry) of absolute paths (got %r)" % (name, paths))
            continue
        relative = [path for path in paths.values() if (path or required) and not str(path or "").startswith("/")]
        if relative:
            errors.append("%s must hold absolute paths; these are not: %s" % (name, relative))
    ports = settings.get("fleet_report_ports")
    if not _is_list(ports) or any(_number(port, int) is None or not 1 <= _number(port, int) <= 65535 for port in ports):
        errors.append("fleet_report_ports must be a list of TCP ports 1-65535 (got %r)" % (ports,))
    timeout = _number(settings.get("fleet_report_port_timeout"))
    if timeout is None or not 0 < timeout <= 60:
        errors.append("fleet_report_port_timeout must be more than 0 and at most 60 seconds (got %r)"
                      % (settings.get("fleet_report_port_timeout"),))
    lines = _number(settings.get("fleet_report_journal_lines"), int)
    if lines is None or not 0 <= lines <= 200:
        errors.append("fleet_report_journal_lines must be 0-200 (got %r)" % (settings.get("fleet_report_journal_lines"),))
    errors.extend(attest_errors(settings))
    # The registry's address and the oracle's are per host (from oracle_service_registry): a bad one is reported
    # on the oracle's row, as the quote that could not be asked.
    errors.extend(attestation_inputs.registry_quote_errors(settings, "fleet_report_"))
    return errors


def attest_errors(settings):
    """The bad attestation and metrics settings (fleet_report_attest*, fleet_report_metrics_path)."""
    errors = attestation_inputs.attest_errors(settings, "fleet_report_")
    path = settings.get("fleet_report_metrics_path")
    if path and (not str(path).startswith("/") or not str(path).endswith(".prom")):
        errors.append("fleet_report_metrics_path must be empty or an absolute path ending in .prom "
                      "(node_exporter's textfile collector reads only those) (got %r)" % (path,))
    return errors


def probe_arguments(group_names, settings):
    """What enclave_info probes on a host: ``{kinds, eif_paths, services}``.

    The kinds are those whose group (``fleet_report_groups``) the host is in, every kind when it is
    in none; the image paths are the installed then the served ones of those kinds (empty ones
    left out), the services those of those kinds.
    """
    groups = settings.get("fleet_report_groups") or {}
    kinds = [kind for kind, group in groups.items() if group in group_names] or list(groups)

    def of_kinds(name):
        values = settings.get(name) or {}
        return [values[kind] for kind in kinds if values.get(kind)]

    return {"kinds": kinds,
            "eif_paths": of_kinds("fleet_report_eif_paths") + of_kinds("fleet_report_served_eif_paths"),
            "services": of_kinds("fleet_report_services")}
