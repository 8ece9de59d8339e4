# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Action plugins for the modules that ask from the controller, as a user's client does.

The health gate and the fleet report run attestation_probe and registry_quote on the controller for
every oracle (``delegate_to: localhost`` with ``ansible_python_interpreter`` set to ansible-playbook's
own Python). As modules, each run starts a new Python that imports Ansible's module code again: about
0.3 CPU s per oracle and call. The module's code is a function of its validated options
(module_utils: ``ARGUMENT_SPEC``, ``run``), so the action plugin calls that function in the worker
process Ansible has already started for the task.

It does so only when the result is the one the module would give, that is when the module would run
here, with this Python and as this user: a local connection, the task's interpreter being
ansible-playbook's Python, no become, no async and no task environment (the function would not see
it). Otherwise the module runs as any module does (for example registry_quote delegated to the host).

Public API: :class:`ControllerModuleAction`, :func:`runs_in_process`.
"""

import sys

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase


def runs_in_process(transport, interpreter, become=False, async_seconds=0, environment=None, executable=None):
    """Whether the module's function gives the module's result in this process.

    ``transport``: the connection's (``local`` runs modules on the controller); ``interpreter``: the task's
    ``ansible_python_interpreter`` (templated; None when unset, which lets Ansible discover one);
    ``executable``: this process' Python (``sys.executable``, which is ``ansible_playbook_python``).
    """
    executable = sys.executable if executable is None else executable
    # A task's environment is a list of mappings; Ansible gives [{}] when the task sets none.
    return (transport == "local" and interpreter == executable and not become and not async_seconds
            and not any(environment or ()))


class ControllerModuleAction(ActionBase):
    """Runs ``MODULE`` in this process when :func:`runs_in_process` says it may, else as a module.

    A subclass names the module (``MODULE``, its FQCN), its options (``ARGUMENT_SPEC``, and ``REQUIRED_BY``
    as AnsibleModule's ``required_by``) and its code (``run_module``: validated options -> the module's
    result, ``failed`` and ``msg`` when it fails). The module must support check mode and change nothing.
    """

    MODULE = None
    ARGUMENT_SPEC = None
    REQUIRED_BY = None

    _supports_check_mode = True
    _supports_async = True

    @staticmethod
    def run_module(params):
        raise NotImplementedError

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp  # the module path makes its own
        if not self._runs_in_process(task_vars):
            wrap_async = self._task.async_val and not self._connection.has_native_async
            result.update(self._execute_module(module_name=self.MODULE, module_args=self._task.args,
                                               task_vars=task_vars, wrap_async=wrap_async))
            if not wrap_async:
                self._remove_tmp_path(self._connection._shell.tmpdir)
            return result
        try:
            dummy, params = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC, required_by=self.REQUIRED_BY)
        except AnsibleActionFail as exc:
            result.update(exc.result)
            return result
        result.update(self.run_module(params))
        return result

    def _runs_in_process(self, task_vars):
        # The variables the module would be built with: the delegated host's when delegated (as _configure_module).
        if self._task.delegate_to:
            task_vars = (task_vars.get("ansible_delegated_vars") or {}).get(self._task.delegate_to, {})
        interpreter = task_vars.get("ansible_python_interpreter")
        if interpreter is not None:
            interpreter = self._templar.template(interpreter)
        return runs_in_process(getattr(self._connection, "transport", None), interpreter,
                               become=self._play_context.become, async_seconds=self._task.async_val,
                               environment=self._task.environment)
