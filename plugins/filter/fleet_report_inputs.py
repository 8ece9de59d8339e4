# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The fleet_report role's preflight and probe filters; the logic is in ``plugins/plugin_utils/fleet_report_inputs.py``.

Each filter imports its code when it runs: to find one filter, Ansible imports every filter file of the
collection in each worker process it forks.
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError


def fleet_report_input_errors(settings):
    """Every bad fleet_report setting, one message each."""
    if not isinstance(settings, Mapping):
        raise AnsibleFilterError("opencontracts.enclave.fleet_report_input_errors: expects a dictionary of settings, got %r"
                                 % type(settings).__name__)
    from ansible_collections.opencontracts.enclave.plugins.plugin_utils.fleet_report_inputs import input_errors

    return input_errors(settings)


def fleet_report_probe_arguments(group_names, settings):
    """The kinds, image paths and services enclave_info probes on a host in ``group_names``."""
    if not isinstance(settings, Mapping):
        raise AnsibleFilterError("opencontracts.enclave.fleet_report_probe_arguments: expects a dictionary of settings, "
                                 "got %r" % type(settings).__name__)
    from ansible_collections.opencontracts.enclave.plugins.plugin_utils.fleet_report_inputs import probe_arguments

    return probe_arguments(list(group_names or []), settings)


class FilterModule(object):
    """The fleet_report role's preflight and probe filters."""

    def filters(self):
        return {"fleet_report_input_errors": fleet_report_input_errors,
                "fleet_report_probe_arguments": fleet_report_probe_arguments}
