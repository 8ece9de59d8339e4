# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The enclave_service role's preflight rules: one message per bad value, nothing for a good one.

The role (internal; used by oracle_service and registry_service) gets its inputs from the calling role,
so every message names the variable an operator sets: ``<kind>_service_<name>``. Names are matched whole
(``re.fullmatch``): a trailing newline is not a name's end, as ``$`` would allow.

Public API: :func:`input_errors`, :data:`WORD_RE`.
"""

import re

from ansible_collections.opencontracts.enclave.plugins.plugin_utils import attestation_inputs

# Words that may appear unquoted in a unit file and a shell command line.
WORD_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
REPO_DIR_RE = re.compile(r"/[A-Za-z0-9._/-]+")
EIF_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*")
USER_RE = re.compile(r"[a-z_][a-z0-9_-]*\$?")
PCR0_RE = re.compile(r"[0-9a-fA-F]{96}")
MIB = 1048576

# The enclave_service input -> the variable the operator sets (kind substituted), where it differs from
# <kind>_service_<input>.
_VARIABLES = {
    "memory_mib": "{kind}_service_enclave_memory_mib",
    "cpu_count": "{kind}_service_enclave_cpu_count",
}

# (input, lowest value) of the whole numbers.
_NUMBERS = (
    ("memory_mib", 1),
    ("cpu_count", 1),
    ("port", 1),
    ("health_timeout", 1),
    ("journal_lines", 0),
    ("restart_sec", 1),
    ("start_limit_burst", 0),
    ("start_limit_interval_sec", 1),
)
_UNITS = {"memory_mib": " MiB", "health_timeout": " s", "restart_sec": " s", "start_limit_interval_sec": " s"}


def _whole(value):
    """``value`` as an int when it is a whole number (an int, or its decimal text), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if re.fullmatch(r"[+-]?[0-9]+", text):
        return int(text)
    return None


def _name_errors(variable, value, pattern, what):
    if isinstance(value, str) and pattern.fullmatch(value):
        return []
    return ["%s: %r is not %s" % (variable, value, what)]


def input_errors(inputs, facts=None, check_mode=False):
    """Every problem of the enclave_service inputs of one host, one message per bad value.

    ``inputs``: host, kind, repo_dir, folder, script, eif_name, eif_source, eif_size, enclave_name (empty: found by
    eif_pcr0), eif_pcr0, entry_point, launcher, venv_dir, read_write_paths, tmux_session, user, console,
    memory_mib, cpu_count, port, health_timeout, journal_lines, restart_sec, start_limit_burst,
    start_limit_interval_sec, permitted_pcr0, and optionally attest_settings (the enclave_service_attest*
    variables by name) and registry_quote_settings (the enclave_service_registry_quote* variables by name; only
    checked when the stage is on, since the default URL is empty for registries).
    ``facts``: the result of the module enclave_service_facts on the host, for the rules on the host (the
    serve script exists; tmux is installed for the tmux console); skipped in check mode, where the
    checkout and tmux may still be pending.
    """
    kind = inputs.get("kind", "")
    host = inputs.get("host", "")

    def variable(name):
        return _VARIABLES.get(name, "{kind}_service_" + name).format(kind=kind)

    problems = []
    problems += _name_errors(variable("repo_dir"), inputs.get("repo_dir"), REPO_DIR_RE,
                             "an absolute path of letters, digits, '.', '_', '-' and '/'")
    for name in ("folder", "script", "launcher", "tmux_session"):
        problems += _name_errors(variable(name), inputs.get(name), WORD_RE,
                                 "a plain name of letters, digits, '.', '_' and '-'")
    if inputs.get("enclave_name", "") != "":
        problems += _name_errors(variable("enclave_name"), inputs.get("enclave_name"), WORD_RE,
                                 "empty (the enclave running the served image) or a plain name of letters, digits,"
                                 " '.', '_' and '-'")
    eif_pcr0 = inputs.get("eif_pcr0", "")
    if eif_pcr0 != "" and not (isinstance(eif_pcr0, str) and PCR0_RE.fullmatch(eif_pcr0)):
        problems.append("enclave_build_result.measurements.PCR0: %r is not 96 hex digits" % (eif_pcr0,))
    if inputs.get("entry_point") not in ("script", "launcher"):
        problems.append("%s: must be script or launcher; got %r" % (variable("entry_point"), inputs.get("entry_point")))
    venv_dir = inputs.get("venv_dir", "")
    if venv_dir != "":
        problems += _name_errors(variable("venv_dir"), venv_dir, REPO_DIR_RE,
                                 "empty (the system PATH) or an absolute path of letters, digits, '.', '_', '-' and '/'")
    paths = inputs.get("read_write_paths")
    if not isinstance(paths, list):
        problems.append("%s: must be a list of absolute paths; got %r" % (variable("read_write_paths"), paths))
    else:
        bad = [path for path in paths if not (isinstance(path, str) and REPO_DIR_RE.fullmatch(path))]
        if bad:
            problems.append("%s: these are not absolute paths of letters, digits, '.', '_', '-' and '/': %r"
                            % (variable("read_write_paths"), bad))
    eif_name = inputs.get("eif_name", "")
    if eif_name != "":
        if not (isinstance(eif_name, str) and EIF_NAME_RE.fullmatch(eif_name) and ".." not in eif_name.split("/")):
            problems.append("%s: %r is not empty or a relative path inside %s"
                            % (variable("eif_name"), eif_name, variable("folder")))
        elif eif_name == inputs.get("script"):
            problems.append("%s: %r is the serve script's name (%s)" % (variable("eif_name"), eif_name, variable("script")))
    problems += _name_errors(variable("user"), inputs.get("user"), USER_RE, "a user name")

    numbers = {}
    for name, lowest in _NUMBERS:
        value = _whole(inputs.get(name))
        numbers[name] = value
        if value is None or value < lowest or (name == "port" and value > 65535):
            limits = "1-65535" if name == "port" else "a whole number of at least %d%s" % (lowest, _UNITS.get(name, ""))
            problems.append("%s: must be %s; got %r" % (variable(name), limits, inputs.get(name)))

    pcr0 = inputs.get("permitted_pcr0")
    if not isinstance(pcr0, list) or not pcr0:
        problems.append("%s: must be a non-empty list of PCR0 values (96 hex digits each); got %r"
                        % (variable("permitted_pcr0"), pcr0))
    else:
        bad = [value for value in pcr0 if not PCR0_RE.fullmatch(str(value).strip())]
        if bad:
            problems.append("%s: every value must have 96 hex digits; these do not: %r" % (variable("permitted_pcr0"), bad))

    eif_size = _whole(inputs.get("eif_size", 0)) or 0
    if numbers["memory_mib"] is not None and 0 < numbers["memory_mib"] * MIB < 4 * eif_size:
        problems.append(
            "%s: the %s enclave gets %d MiB but its image (%s) has %d bytes; run-enclave needs at least 4 x that"
            " (it refuses less, E26), %d MiB: raise %s (and the allocator's reservation, host_prep_allocator_memory_mib,"
            " if needed)" % (variable("memory_mib"), kind, numbers["memory_mib"], inputs.get("eif_source"), eif_size,
                             (4 * eif_size + MIB - 1) // MIB, variable("memory_mib")))

    problems += attestation_inputs.attest_errors(inputs.get("attest_settings") or {}, "enclave_service_")
    quote_settings = dict(inputs.get("registry_quote_settings") or {})
    if kind != "oracle" or quote_settings.get("enclave_service_registry_quote") not in attestation_inputs.TRUE:
        # The stage is off (or the kind has no registry): only its switch is checked.
        quote_settings = dict((name, value) for name, value in quote_settings.items() if name == "enclave_service_registry_quote")
    problems += attestation_inputs.registry_quote_errors(quote_settings, "enclave_service_")

    if facts is not None and not check_mode:
        script = facts.get("script", {})
        if not script.get("exists"):
            problems.append("%s: %s is not on the host: check %s and %s against the enclave repository at the pinned"
                            " version (an upstream rename?)" % (variable("script"), script.get("path"),
                                                                variable("folder"), variable("script")))
        if inputs.get("console") == "tmux" and not facts.get("tmux", {}).get("present"):
            problems.append("%s: is tmux but /usr/bin/tmux is missing (the host_prep role installs it)"
                            % variable("console"))
        if inputs.get("entry_point") == "launcher" and not facts.get("tmux", {}).get("present"):
            problems.append("%s: is launcher (%s starts the serve script in tmux) but /usr/bin/tmux is missing (the"
                            " host_prep role installs it)" % (variable("entry_point"), inputs.get("launcher")))
    return ["%s: %s" % (host, problem) for problem in problems]
