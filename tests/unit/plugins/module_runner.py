"""Run a module's main() in-process with given arguments; catch exit_json / fail_json.

ansible-core 2.19 changed how module arguments are injected: it ships
``ansible.module_utils.testing.patch_module_args``. Older versions read the
serialized arguments from ``basic._ANSIBLE_ARGS``. Both are supported.
"""

import contextlib
import json
from unittest import mock

from ansible.module_utils import basic

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core < 2.19
    patch_module_args = None


class ModuleExit(Exception):
    """Raised instead of exit_json / fail_json; ``result`` is what the module returned."""

    def __init__(self, result):
        super().__init__(result.get("msg", ""))
        self.result = result

    @property
    def failed(self):
        return bool(self.result.get("failed"))


@contextlib.contextmanager
def module_args(args):
    if patch_module_args is not None:
        with patch_module_args(args):
            yield
    else:
        serialized = json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode()
        with mock.patch.object(basic, "_ANSIBLE_ARGS", serialized):
            yield


def _exit_json(self, **kwargs):  # pylint: disable=unused-argument
    kwargs.setdefault("changed", False)
    kwargs["failed"] = False
    raise ModuleExit(kwargs)


def _fail_json(self, msg, **kwargs):  # pylint: disable=unused-argument
    kwargs["msg"] = msg
    kwargs["failed"] = True
    raise ModuleExit(kwargs)


def run_main(main, args, check_mode=False, diff=False, patches=()):
    """The result of a module's ``main()`` with ``args`` (and check mode or diff); it must exit or fail.

    ``patches``: more context managers to hold while ``main()`` runs (run_module's command stand-ins).
    """
    args = dict(args)
    if check_mode:
        args["_ansible_check_mode"] = True
    if diff:
        args["_ansible_diff"] = True
    with contextlib.ExitStack() as stack:
        stack.enter_context(module_args(args))
        stack.enter_context(mock.patch.object(basic.AnsibleModule, "exit_json", _exit_json))
        stack.enter_context(mock.patch.object(basic.AnsibleModule, "fail_json", _fail_json))
        for patch in patches:
            stack.enter_context(patch)
        try:
            main()
        except ModuleExit as done:
            json.dumps(done.result)  # what Ansible would send back must be JSON
            return done.result
    raise AssertionError("the module returned without calling exit_json or fail_json")


class CommandRecorder:
    """A stand-in for AnsibleModule.run_command: answers from a table, records the calls."""

    def __init__(self, responses):
        self.responses = responses  # {"describe-enclaves": (rc, stdout, stderr)}
        self.calls = []

    def __call__(self, module, args, **kwargs):  # bound as a method: (self_module, args, ...)
        self.calls.append((list(args), kwargs))
        key = " ".join(a for a in args[1:3] if not a.startswith("-"))
        for prefix, response in self.responses.items():
            if key.startswith(prefix):
                if isinstance(response, Exception):
                    raise response
                return response
        raise AssertionError("unexpected command %r" % (args,))


def run_module(main, args, check_mode=False, commands=None, bin_path="/usr/bin/nitro-cli"):
    """Run ``main`` with ``args``; return the result dict (``failed`` tells which way it ended).

    ``commands``: a CommandRecorder (or None: running any command fails the test).
    ``bin_path``: what get_bin_path returns (None: not installed).
    """
    recorder = commands or CommandRecorder({})

    def run_command(self, argv, **kwargs):
        return recorder(self, argv, **kwargs)

    def get_bin_path(self, arg, required=False, opt_dirs=None):  # pylint: disable=unused-argument
        return bin_path

    return run_main(main, args, check_mode, patches=(
        mock.patch.object(basic.AnsibleModule, "run_command", run_command),
        mock.patch.object(basic.AnsibleModule, "get_bin_path", get_bin_path)))
