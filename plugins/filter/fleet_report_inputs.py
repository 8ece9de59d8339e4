# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The fleet_report role's preflight filter; the rules are in ``plugins/plugin_utils/fleet_report_inputs.py``."""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible_collections.opencontracts.enclave.plugins.plugin_utils.fleet_report_inputs import input_errors


def fleet_report_input_errors(settings):
    """Every bad fleet_report setting, one message each."""
    if not isinstance(settings, Mapping):
        raise AnsibleFilterError("opencontracts.enclave.fleet_report_input_errors: expects a dictionary of settings, got %r"
                                 % type(settings).__name__)
    return input_errors(settings)


class FilterModule(object):
    """The fleet_report role's preflight filter."""

    def filters(self):
        return {"fleet_report_input_errors": fleet_report_input_errors}
