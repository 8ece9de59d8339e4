# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters that build and render the fleet report.

The logic lives in ``plugins/plugin_utils/fleet_report.py`` (the report and the text
table) and ``plugins/plugin_utils/fleet_report_html.py`` (the HTML page); each filter is
documented in the YAML file of its name beside this one. The JSON schema is described
in ``docs/fleet-report.md``.

Each filter imports its code when it runs: to find one filter, Ansible imports every filter file of the
collection in each worker process it forks.
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError


def _check_report(name, report):
    if not isinstance(report, Mapping) or "hosts" not in report or "totals" not in report:
        raise AnsibleFilterError("opencontracts.enclave.%s: the input must be a report made by the filter "
                                 "opencontracts.enclave.fleet_report" % name)


def fleet_report(hostnames, hostvars, groups, options=None, permitted_defaults=None, generated_at=None, title=None):
    """The fleet report (a dict) for ``hostnames``, from their ``hostvars`` and the inventory's ``groups``."""
    from ansible_collections.opencontracts.enclave.plugins.plugin_utils.fleet_report import FleetReportError, build_report, collect_inputs

    try:
        inputs = collect_inputs(hostnames, hostvars, groups, options=options, permitted_defaults=permitted_defaults)
        return build_report(inputs, generated_at=generated_at, title=title)
    except FleetReportError as error:
        raise AnsibleFilterError("opencontracts.enclave.fleet_report: %s" % error) from None


def fleet_report_table(report):
    """The report as a plain-text table followed by the fleet totals."""
    from ansible_collections.opencontracts.enclave.plugins.plugin_utils.fleet_report import render_table

    _check_report("fleet_report_table", report)
    return render_table(report)


def fleet_report_html(report):
    """The report as a self-contained HTML page."""
    from ansible_collections.opencontracts.enclave.plugins.plugin_utils.fleet_report_html import render_html

    _check_report("fleet_report_html", report)
    return render_html(report)


def fleet_report_attestation_archive(report, hostvars, existing="", probe_var="__fleet_report_attest_probe"):
    """The text of attestations-<date>.jsonl: ``existing``, then a line per oracle whose attestation verified."""
    from ansible_collections.opencontracts.enclave.plugins.plugin_utils.fleet_report_attestation import archive_records, archive_text

    _check_report("fleet_report_attestation_archive", report)
    records = archive_records(report["hosts"], hostvars, probe_var, report.get("generated_at"))
    return archive_text(existing, records)


class FilterModule(object):
    """The fleet report filters of opencontracts.enclave."""

    def filters(self):
        return {
            "fleet_report": fleet_report,
            "fleet_report_table": fleet_report_table,
            "fleet_report_html": fleet_report_html,
            "fleet_report_attestation_archive": fleet_report_attestation_archive,
        }
