# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters of the registry's quote: registry_quote_verdict (an oracle judged by the module registry_quote's result)
and registry_quote_python (the Python the module runs under, from the controller or on the host).

The verdict's logic lives in ``plugins/module_utils/registry_quote.py`` (the module registry_quote judges with it
too); each filter is documented in the YAML file of its name beside this one. Each filter imports its code
when it runs: to find one filter, Ansible imports every filter file of the collection in each worker
process it forks.
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

# The interpreter on a host that names none and was not asked for one yet.
HOST_PYTHON = "/usr/bin/python3"


def registry_quote_verdict(result, address, price_wei, provider=None, registry="the registry", busy=False):
    """The verdict on one oracle from a registered registry_quote result."""
    from ansible_collections.opencontracts.enclave.plugins.module_utils.registry_quote import verdict_of_result

    return verdict_of_result(result, address, price_wei, provider=provider, registry=registry, busy=busy)


def registry_quote_python(where, playbook_python, host_vars):
    """The ansible_python_interpreter of a task that asks the registry from ``where``: ``controller`` (the Python
    that runs ansible-playbook) or ``host`` (the host's own: its ansible_python_interpreter, else the one Ansible
    discovered, else /usr/bin/python3)."""
    if where == "controller":
        return playbook_python
    if where != "host":
        raise AnsibleFilterError("opencontracts.enclave.registry_quote_python: where must be controller or host, got %r"
                                 % (where,))
    host_vars = host_vars if isinstance(host_vars, Mapping) else {}
    for name in ("ansible_python_interpreter", "discovered_interpreter_python"):
        if host_vars.get(name):
            return host_vars.get(name)
    return HOST_PYTHON


class FilterModule:
    def filters(self):
        return {"registry_quote_verdict": registry_quote_verdict, "registry_quote_python": registry_quote_python}
