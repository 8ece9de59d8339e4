# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters of the role enclave_service besides its input rules: enclave_service_selector (how its unit tells the
service's enclaves), enclave_service_result and enclave_service_restarted (its health gate, combined),
enclave_service_summary (one line per host of a playbook's end).

The logic lives in ``plugins/plugin_utils/enclave_service.py``; each filter is documented in the YAML file of
its name beside this one. Each filter imports its code when it runs: to find one filter, Ansible imports
every filter file of the collection in each worker process it forks.
"""

from ansible.errors import AnsibleFilterError


def _enclave_service():
    """plugins/plugin_utils/enclave_service.py, imported on first use."""
    from ansible_collections.opencontracts.enclave.plugins.plugin_utils import enclave_service
    return enclave_service


def enclave_service_result(stages, context):
    """The fact enclave_service_result from what the health gate's stages registered."""
    for name, value in (("stages", stages), ("context", context)):
        if not isinstance(value, dict):
            raise AnsibleFilterError("opencontracts.enclave.enclave_service_result: %s must be a dictionary, got %s"
                                     % (name, type(value).__name__))
    return _enclave_service().service_result(stages, context)


def enclave_service_selector(pcr0s, enclave_name):
    """The unit helper's arguments that tell the service's enclaves: by name, else by PCR0."""
    if not isinstance(pcr0s, list):
        raise AnsibleFilterError("opencontracts.enclave.enclave_service_selector: the PCR0 values must be a list, got %s"
                                 % type(pcr0s).__name__)
    return _enclave_service().enclave_selector(enclave_name, pcr0s)


def enclave_service_summary(hosts, hostvars, kind):
    """One line per host from its <kind>_service_result (the end of playbooks/oracle.yml)."""
    if kind not in ("oracle", "registry"):
        raise AnsibleFilterError("opencontracts.enclave.enclave_service_summary: kind must be oracle or registry, got %r"
                                 % (kind,))
    return _enclave_service().summary_lines(hosts, hostvars, kind)


def enclave_service_restarted(restart):
    """Whether the restart handler ran in this run (its registered result, or nothing)."""
    return _enclave_service().restarted(restart)


class FilterModule:
    def filters(self):
        return {
            "enclave_service_result": enclave_service_result,
            "enclave_service_restarted": enclave_service_restarted,
            "enclave_service_selector": enclave_service_selector,
            "enclave_service_summary": enclave_service_summary,
        }
