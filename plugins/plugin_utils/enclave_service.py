# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The enclave_service role's logic besides its input rules: how its unit tells the service's enclaves, and its
result (what its health gate's stages registered, combined into one fact).

The stages (roles/enclave_service/tasks/health.yml) are the restart handler, the module enclave_health,
the attestation probe, which verifies the document it gets (module attestation_probe with allowed_pcr0),
and the registry's quote, which the module registry_quote judges. A stage that did not run registered a
skipped result, or nothing (the restart handler): :func:`service_result` takes either, and never fails on
a missing value.

:func:`summary_lines` is the end of playbooks/oracle.yml: one line per host from its ``<kind>_service_result``.

Public API: :func:`enclave_selector`, :func:`restarted`, :func:`service_result`, :func:`summary_lines`.
"""

from collections.abc import Mapping

from ansible_collections.opencontracts.enclave.plugins.module_utils.registry_quote import registered_verdict
from ansible_collections.opencontracts.enclave.plugins.plugin_utils.oracle_inputs import OracleInputError, format_opn

NOT_SERVED = "not served in this run (failed, unreachable or not reached by the rollout)"


def enclave_selector(enclave_name, pcr0s):
    """How the unit's helper (service_enclave.py terminate) tells the service's enclaves: ``--name NAME`` when the
    operator names the enclave, else ``--pcr0 P`` for every PCR0 the service may have served (lowercase, each once,
    in order; empty ones left out)."""
    if enclave_name:
        return "--name %s" % enclave_name
    seen = []
    for value in pcr0s or []:
        value = str(value or "").lower()
        if value and value not in seen:
            seen.append(value)
    return "--pcr0 " + " --pcr0 ".join(seen)


def _get(value, *path, default=None):
    """``value[path[0]][path[1]]...``, or ``default`` when a key along the path is missing (a null stays null)."""
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return default
        value = value[key]
    return value


def restarted(restart):
    """Whether the restart handler ran in this run (in check mode it reports changed, or skips a unit that is not
    installed yet: both mean the service would be started). ``restart`` is its registered result, or nothing."""
    return bool(_get(restart, "changed", default=False) or _get(restart, "skipped", default=False))


def attested(probe):
    """``verified``, ``busy``, or ``not_checked`` (the stage is off or was skipped); a failed check failed the host."""
    if _get(probe, "verification", "verified", default=False):
        return "verified"
    return _get(probe, "status", default="not_checked")


def service_result(stages, context):
    """The fact enclave_service_result (see the role's README) from the stages' registered results.

    stages: ``{restart, health, attest_probe, registry_quote}``, each a registered result or nothing;
    context: ``{kind, check_mode, enclave_name, unit, settings, optional_settings, registry_quote_url}`` (the serve
    script's settings, and those it may lack). An oracle's result also has ``price_wei``, ``provider`` and
    ``registry``, its settings PRICE, PROVIDER and REGISTRY.
    """
    stages = stages if isinstance(stages, Mapping) else {}
    context = context if isinstance(context, Mapping) else {}
    health = stages.get("health")
    settings = context.get("settings") or {}
    result = {
        "state": _get(health, "enclave", "state", default="PENDING" if context.get("check_mode") else "UNKNOWN"),
        "healthy": _get(health, "healthy", default=False),
        "enclave_id": _get(health, "enclave", "id"),
        "enclave_name": _get(health, "enclave", "name", default=context.get("enclave_name") or None),
        "flags": _get(health, "enclave", "flags"),
        "pcr0": _get(health, "pcr0"),
        "pcr0_permitted": _get(health, "pcr0_permitted", default=False),
        "matched_pcr0": _get(health, "matched_pcr0"),
        "attested": attested(stages.get("attest_probe")),
        "port_open": _get(health, "port_open", default=False),
        # The registry's verdict on this oracle (the module's): state registered, not_quoted, degraded or not_checked.
        "registry_quote": registered_verdict(stages.get("registry_quote"),
                                             registry="the registry %s" % context.get("registry_quote_url")),
        "restarted": restarted(stages.get("restart")),
        "unit": context.get("unit"),
        "settings": dict(settings, **(context.get("optional_settings") or {})),
    }
    if context.get("kind") == "oracle":
        result.update(price_wei=settings.get("PRICE"), provider=settings.get("PROVIDER"), registry=settings.get("REGISTRY"))
    return result


def _summary_line(result, kind):
    line = "%s %s, PCR0 %s (%s...)" % (result.get("state"), result.get("enclave_id") or "-",
                                       "permitted" if result.get("pcr0_permitted") else "NOT PERMITTED",
                                       (result.get("pcr0") or "unknown")[:16])
    if kind == "oracle":
        try:
            line += ", price %s" % format_opn(result.get("price_wei"))
        except OracleInputError:
            line += ", price %s" % result.get("price_wei")
    if result.get("flags") == "DEBUG_MODE":
        line += ", DEBUG MODE"
    if result.get("restarted"):
        line += ", restarted"
    return line


def summary_lines(hosts, hostvars, kind):
    """One line per host: ``host: STATE enclave-id, PCR0 permitted (first 16 hex...)[, price][, DEBUG MODE][, restarted]``
    from its ``<kind>_service_result``, or that it was not served in this run (no result)."""
    lines = []
    for host in hosts or []:
        variables = hostvars[host] if host in hostvars else {}
        result = variables.get("%s_service_result" % kind)
        lines.append("%s: %s" % (host, _summary_line(result, kind) if isinstance(result, Mapping) else NOT_SERVED))
    return lines
