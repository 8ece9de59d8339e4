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
:func:`enclave_summary`, :func:`build_enclave`, :func:`build_enclave_args`,
:func:`find_nitro_cli`, :func:`parse_error_lines`, :func:`hint_for`,
:func:`build_hint_for`, :data:`ERROR_HINTS`, :data:`BUILD_ERROR_HINTS` and the
exceptions :class:`NitroCliError` / :class:`NitroCliNotFoundError` /
:class:`NitroCliTimeoutError`.
"""

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
    def from_result(cls, argv, rc, stdout, stderr, hints=None):
        """Build the error for a failed run from its exit status and output.

        ``hints``: an optional dict of command-specific hints that take
        precedence over :data:`ERROR_HINTS` (for example :data:`BUILD_ERROR_HINTS`).
        """
        errors = parse_error_lines(stderr) or parse_error_lines(stdout)
        command = _command_label(argv)
        if errors:
            code, detail = errors[0]
            hint = (hints or {}).get(code) or hint_for(code)
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


def enclave_summary(entry):
    """The fields of one ``describe-enclaves`` entry that modules report, under snake_case names."""
    return {
        "name": entry.get("EnclaveName"),
        "id": entry.get("EnclaveID"),
        "state": entry.get("State"),
        "flags": entry.get("Flags"),
        "cid": entry.get("EnclaveCID"),
        "memory_mib": entry.get("MemoryMiB"),
        "cpu_count": entry.get("NumberOfCPUs"),
    }


# --------------------------------------------------------------------------
# build-enclave
# --------------------------------------------------------------------------

# What an E-code means when ``build-enclave`` reports it (some codes mean
# something else for run-enclave: E19 there is /dev/nitro_enclaves).
BUILD_ERROR_HINTS = {
    "E11": "nitro-cli could not read a file it was given (signing certificate, private key or metadata): check the paths "
           "and their permissions.",
    "E19": "nitro-cli could not read an input file or write the EIF: check that the output folder exists and is writable, "
           "and that the signing certificate and private key are readable.",
    "E48": "building the EIF failed (see the lines after the error code): for signed images the private key must be an EC key "
           "(P-256, P-384 or P-521) that matches the signing certificate, and there must be disk space for the image.",
    "E49": "docker could not build the image from docker_dir: check its Dockerfile, that the docker daemon runs "
           "(systemctl start docker) and that the user is in the group docker.",
    "E50": "the docker image is not in the local image store and could not be pulled: load it first (docker load -i <tar>) "
           "or check docker_uri, that the docker daemon runs (systemctl start docker) and that the user is in the group docker.",
    "E51": ERROR_HINTS["E51"],
    "E52": "the Nitro Enclaves blobs (kernel, init, nsm.ko) are missing: install aws-nitro-enclaves-cli-devel "
           "(/usr/share/nitro_enclaves/blobs) or set NITRO_CLI_BLOBS.",
}

# Exit status of coreutils ``timeout`` when the limit was hit (TERM worked / KILL was needed).
TIMEOUT_EXIT_CODES = (124, 137)
# Seconds between TERM and KILL when a build runs over its time limit.
TIMEOUT_KILL_AFTER = 30


def build_hint_for(code):
    """The provider-facing hint for an ``Enn`` code reported by ``build-enclave``, or None."""
    return BUILD_ERROR_HINTS.get(code) or hint_for(code)


class NitroCliTimeoutError(NitroCliError):
    """A command ran longer than its time limit and was stopped."""


def build_enclave_args(docker_uri, output_file, docker_dir=None, signing_certificate=None, private_key=None,
                       image_name=None, image_version=None, metadata=None):
    """The argument list of ``nitro-cli build-enclave`` (without the binary)."""
    args = ["build-enclave", "--docker-uri", docker_uri]
    if docker_dir:
        args += ["--docker-dir", docker_dir]
    args += ["--output-file", output_file]
    if signing_certificate:
        args += ["--signing-certificate", signing_certificate]
    if private_key:
        args += ["--private-key", private_key]
    if image_name:
        args += ["--name", image_name]
    if image_version:
        args += ["--version", image_version]
    if metadata:
        args += ["--metadata", metadata]
    return [str(arg) for arg in args]


def _measurements_of(argv, result, rc, stdout, stderr):
    raw = result.get("Measurements") if isinstance(result, dict) else None
    measurements = {}
    if isinstance(raw, dict):
        for key, value in raw.items():
            if re.match(r"^PCR\d+$", str(key)) and isinstance(value, str):
                measurements[str(key)] = value.strip().lower()
    if "PCR0" not in measurements:
        raise NitroCliError("%s printed no Measurements with a PCR0: %r" % (_command_label(argv), result),
                            argv=argv, rc=rc, stdout=stdout, stderr=stderr)
    return measurements


def build_enclave(module, docker_uri, output_file, docker_dir=None, signing_certificate=None, private_key=None,
                  image_name=None, image_version=None, metadata=None, timeout=None, artifacts_dir=None, binary=None):
    """Run ``nitro-cli build-enclave`` and return its measurements (``{"PCR0": hex, ...}``, lowercase).

    ``timeout`` (seconds, None or 0 for no limit) runs nitro-cli under the
    coreutils ``timeout`` command: TERM at the limit, KILL
    :data:`TIMEOUT_KILL_AFTER` seconds later; running over raises
    :class:`NitroCliTimeoutError`. ``artifacts_dir`` becomes
    NITRO_CLI_ARTIFACTS. Failures raise :class:`NitroCliError` whose hint is
    the build-specific one (:data:`BUILD_ERROR_HINTS`).
    """
    argv = [find_nitro_cli(module, binary)] + build_enclave_args(
        docker_uri, output_file, docker_dir=docker_dir, signing_certificate=signing_certificate, private_key=private_key,
        image_name=image_name, image_version=image_version, metadata=metadata)
    command = argv
    if timeout:
        timeout_binary = module.get_bin_path("timeout", required=False)
        if not timeout_binary:
            raise NitroCliError("cannot limit nitro-cli build-enclave to %s seconds: the timeout command (coreutils) is not "
                                "installed; install coreutils or set the time limit to 0" % timeout, argv=argv)
        command = [timeout_binary, "--kill-after=%d" % TIMEOUT_KILL_AFTER, str(int(timeout))] + argv
    environ = dict(NITRO_CLI_ENV)
    if artifacts_dir:
        environ["NITRO_CLI_ARTIFACTS"] = artifacts_dir
    try:
        rc, stdout, stderr = module.run_command(command, environ_update=environ, check_rc=False)
    except OSError as exc:
        raise NitroCliError("cannot run %s: %s" % (command[0], exc), argv=argv)
    if timeout and rc in TIMEOUT_EXIT_CODES and not parse_error_lines(stderr):
        raise NitroCliTimeoutError(
            "nitro-cli build-enclave did not finish within %s seconds and was stopped. Hint: building a large image takes "
            "many minutes; raise the time limit, and check that docker and the disk are not the bottleneck." % timeout,
            argv=argv, rc=rc, stdout=stdout, stderr=stderr)
    if rc != 0:
        raise NitroCliError.from_result(argv, rc, stdout, stderr, hints=BUILD_ERROR_HINTS)
    result = parse_json_output(argv, stdout, rc, stderr)
    return _measurements_of(argv, result, rc, stdout, stderr)
