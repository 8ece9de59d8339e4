# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters enclave_service_result and enclave_service_restarted: the enclave_service role's health gate, combined.

The logic lives in ``plugins/plugin_utils/enclave_service_health.py``; each filter is documented in the YAML file of
its name beside this one.
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.opencontracts.enclave.plugins.plugin_utils import enclave_service_health


def enclave_service_result(stages, context):
    """The fact enclave_service_result from what the health gate's stages registered."""
    for name, value in (("stages", stages), ("context", context)):
        if not isinstance(value, dict):
            raise AnsibleFilterError("opencontracts.enclave.enclave_service_result: %s must be a dictionary, got %s"
                                     % (name, type(value).__name__))
    return enclave_service_health.service_result(stages, context)


def enclave_service_restarted(restart):
    """Whether the restart handler ran in this run (its registered result, or nothing)."""
    return enclave_service_health.restarted(restart)


class FilterModule:
    def filters(self):
        return {"enclave_service_result": enclave_service_result, "enclave_service_restarted": enclave_service_restarted}
