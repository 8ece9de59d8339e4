# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module registry_quote, run in Ansible's worker process on the controller (plugin_utils/controller_action.py)."""

from ansible_collections.opencontracts.enclave.plugins.module_utils import registry_quote as module_code
from ansible_collections.opencontracts.enclave.plugins.plugin_utils.controller_action import ControllerModuleAction


class ActionModule(ControllerModuleAction):
    MODULE = "opencontracts.enclave.registry_quote"
    ARGUMENT_SPEC = module_code.ARGUMENT_SPEC
    REQUIRED_BY = module_code.REQUIRED_BY
    run_module = staticmethod(module_code.run)
