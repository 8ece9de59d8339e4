# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Run ``nitro-cli`` from modules: argv lists, C locale, JSON out, E-codes explained.

nitro-cli prints its result as JSON on stdout and progress and errors on
stderr. An error is a line ``[ Enn ] message`` and the exit status is ``nn``.
``run-enclave`` prints the real cause first and then usually ``[ E39 ]``
(enclave process connection failure) and exits 39: the FIRST code is the cause,
so :class:`NitroCliError` keeps that one, with a hint for the provider.

Public API: :func:`run_nitro_cli`, :func:`describe_enclaves`,
:func:`find_nitro_cli`, :func:`parse_error_lines`, :func:`hint_for`,
:data:`ERROR_HINTS` and the exceptions :class:`NitroCliError` /
:class:`NitroCliNotFoundError`.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

NITRO_CLI = "nitro-cli"
NITRO_CLI_ENV = {"LANG": "C", "LC_ALL": "C", "LC_MESSAGES": "C"}
# Where the Nitro CLI packages install the binary, besides PATH.
NITRO_CLI_DIRS = ["/usr/bin", "/usr/local/bin", "/usr/sbin"]

_ERROR_LINE_RE = re.compile(r"^\s*\[\s*(E\d+)\s*\]\s*(.*?)\s*$", re.MULTILINE)

ERROR_HINTS = {
    "E11": "nitro-cli could not open or read a file it was given: check the path and its permissions.",
    "E19": "/dev/nitro_enclaves cannot be used: the instance must be launched with enclave support enabled "
           "(EnclaveOptions Enabled=true, it cannot be turned on later), the nitro_enclaves driver must be loaded, "
           "the user must be in the group `ne` (log in again after adding it) and nitro-enclaves-allocator.service must have run.",
    "E22": "not enough CPUs reserved for enclaves: raise cpu_count (or widen cpu_pool) in /etc/nitro_enclaves/allocator.yaml "
           "and restart nitro-enclaves-allocator.service (with no enclave running).",
    "E26": "the enclave memory must be at least 4 times the EIF file size: raise the memory given to run-enclave "
           "(and memory_mib in allocator.yaml if the reservation is smaller).",
    "E27": "more memory requested than the allocator reserved: raise memory_mib in /etc/nitro_enclaves/allocator.yaml "
           "and restart nitro-enclaves-allocator.service (terminate running enclaves first).",
    "E29": "an enclave ioctl failed: on hyper-threaded instances the CPU count must be even (whole cores), "
           "and the CPUs must come from the allocator's pool.",
    "E35": "the EIF file could not be parsed: rebuild it, and check it with opencontracts.enclave.pcr_verify.",
    "E36": "the enclave did not boot: check memory and CPU counts, and that the EIF was built for this architecture.",
    "E39": "nitro-cli lost the connection to its enclave process; this often follows another error, or parallel launches: "
           "start enclaves one at a time and look at /var/log/nitro_enclaves/.",
    "E44": "the console is only available for enclaves started with --debug-mode (never use debug mode for production oracles).",
    "E51": "nitro-cli needs a directory for build artifacts: set NITRO_CLI_ARTIFACTS (or a writable HOME for ~/.nitro_cli).",
    "E58": "the enclave name is invalid or already used by a running enclave: choose another name or terminate that enclave.",
}


def hint_for(code):
    """The provider-facing hint for an ``Enn`` code, or None."""
    return ERROR_HINTS.get(code)


def parse_error_lines(text):
    """All ``[ Enn ] message`` lines of ``text``, as a list of (code, message), in order."""
    return [(match.group(1), match.group(2)) for match in _ERROR_LINE_RE.finditer(text or "")]


class NitroCliError(Exception):
    """nitro-cli failed, or printed something this module cannot read.

    Attributes: ``argv``, ``rc``, ``stdout``, ``stderr``, ``code`` (the FIRST
    ``Enn`` on stderr: the cause), ``codes`` (all of them, in order),
    ``detail`` (the message of the first code), ``hint`` and ``message``
    (the full sentence, also ``str(error)``).
    """

    def __init__(self, message, argv=None, rc=None, stdout="", stderr="", code=None, codes=None, detail=None, hint=None):
        self.message = message
        self.argv = list(argv or [])
        self.rc = rc
        self.stdout = stdout or ""
        self.stderr = stderr or ""
        self.code = code
        self.codes = list(codes or [])
        self.detail = detail
        self.hint = hint
        super(NitroCliError, self).__init__(message)

    @classmethod
    def from_result(cls, argv, rc, stdout, stderr):
        """Build the error for a failed run from its exit status and output."""
        errors = parse_error_lines(stderr) or parse_error_lines(stdout)
        command = _command_label(argv)
        if errors:
            code, detail = errors[0]
            hint = hint_for(code)
            message = "%s failed with %s (exit status %s): %s" % (command, code, rc, detail)
            later = [c for c, _m in errors[1:]]
            if later:
                message += " (then %s)" % ", ".join(later)
            if hint:
                message += ". Hint: " + hint
            return cls(message, argv, rc, stdout, stderr, code=code, codes=[c for c, _m in errors], detail=detail, hint=hint)
        text = (stderr or "").strip() or (stdout or "").strip() or "no output"
        lines = text.splitlines()
        if len(lines) > 5:
            text = "\n".join(lines[:5]) + "\n..."
        message = "%s failed (exit status %s): %s" % (command, rc, text)
        if rc == 2:
            message += ". Hint: a usage error: this nitro-cli may not know an option the collection passed (nitro-cli --version)."
        return cls(message, argv, rc, stdout, stderr)

    def to_result(self):
        """Keys to add to ``fail_json`` so playbooks can act on the error."""
        return {
            "rc": self.rc,
            "stdout": self.stdout,
            "stderr": self.stderr,
            "nitro_cli_error": self.code,
            "nitro_cli_errors": self.codes,
            "hint": self.hint,
        }


class NitroCliNotFoundError(NitroCliError):
    """The nitro-cli binary is not installed on the managed host."""


def _command_label(argv):
    words = [w for w in (argv or [])[1:3] if not w.startswith("-")]
    return " ".join([NITRO_CLI] + words[:1])


def find_nitro_cli(module, binary=None):
    """Path of the nitro-cli binary, or raise :class:`NitroCliNotFoundError`."""
    if binary:
        return binary
    path = module.get_bin_path(NITRO_CLI, required=False, opt_dirs=NITRO_CLI_DIRS)
    if not path:
        hint = ("install the Nitro Enclaves CLI (Amazon Linux 2: amazon-linux-extras install aws-nitro-enclaves-cli; "
                "Amazon Linux 2023: dnf install aws-nitro-enclaves-cli), e.g. with the collection's host_prep role.")
        raise NitroCliNotFoundError(
            "nitro-cli is not installed on this host (not found in PATH nor in %s). Hint: %s" % (", ".join(NITRO_CLI_DIRS), hint),
            argv=[NITRO_CLI], hint=hint)
    return path


def parse_json_output(argv, stdout, rc=0, stderr=""):
    """Decode nitro-cli's JSON stdout, skipping progress lines printed before it."""
    text = (stdout or "").strip()
    decoder = json.JSONDecoder()
    candidates = [0] + [m.start() for m in re.finditer(r"^[\[{]", text, re.MULTILINE) if m.start() > 0]
    for start in candidates:
        try:
            value, _end = decoder.raw_decode(text[start:])
        except ValueError:
            continue
        if isinstance(value, (dict, list)):
            return value
    shown = text if len(text) <= 300 else text[:300] + "..."
    raise NitroCliError(
        "%s printed output that is not JSON: %r" % (_command_label(argv), shown or "(nothing)"),
        argv=argv, rc=rc, stdout=stdout, stderr=stderr)


def run_nitro_cli(module, args, parse_json=True, binary=None, environ_update=None, data=None):
    """Run ``nitro-cli ARGS`` (a list) and return its parsed JSON output.

    With ``parse_json=False`` return ``(rc, stdout, stderr)`` instead and do
    not treat a non-zero exit status as an error. Raises
    :class:`NitroCliNotFoundError` when nitro-cli is missing and
    :class:`NitroCliError` when it fails or its output is not JSON.
    """
    argv = [find_nitro_cli(module, binary)] + [str(arg) for arg in args]
    environ = dict(NITRO_CLI_ENV)
    environ.update(environ_update or {})
    try:
        rc, stdout, stderr = module.run_command(argv, environ_update=environ, check_rc=False, data=data)
    except OSError as exc:
        raise NitroCliError("cannot run %s: %s" % (argv[0], exc), argv=argv)
    if not parse_json:
        return rc, stdout, stderr
    if rc != 0:
        raise NitroCliError.from_result(argv, rc, stdout, stderr)
    return parse_json_output(argv, stdout, rc, stderr)


def describe_enclaves(module, binary=None):
    """``nitro-cli describe-enclaves``: the list of enclaves (``[]`` when none)."""
    result = run_nitro_cli(module, ["describe-enclaves"], binary=binary)
    if isinstance(result, dict):  # tolerate a single object
        result = [result]
    if not isinstance(result, list):
        raise NitroCliError("nitro-cli describe-enclaves printed %r, expected a JSON array" % (result,), argv=[NITRO_CLI, "describe-enclaves"])
    return result
