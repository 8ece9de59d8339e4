# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The enclave_service role's preflight filter (documented in enclave_service_input_errors.yml beside this file).

The rules live in ``plugins/plugin_utils/enclave_service_inputs.py``. Each filter imports its code when
it runs: to find one filter, Ansible imports every filter file of the collection in each worker process
it forks.
"""

from ansible.errors import AnsibleFilterError


def enclave_service_input_errors(inputs, facts=None, check_mode=False):
    """Every problem of one host's enclave_service inputs, one message per bad value."""
    if not isinstance(inputs, dict):
        raise AnsibleFilterError("opencontracts.enclave.enclave_service_input_errors: the input must be a dictionary,"
                                 " got %s" % type(inputs).__name__)
    from ansible_collections.opencontracts.enclave.plugins.plugin_utils.enclave_service_inputs import input_errors

    return input_errors(inputs, facts=facts, check_mode=bool(check_mode))


class FilterModule(object):
    """The enclave_service role's preflight filter."""

    def filters(self):
        return {"enclave_service_input_errors": enclave_service_input_errors}
