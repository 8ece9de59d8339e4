#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: serve_settings
short_description: Set NAME=value settings in an enclave's serve script, keeping every other line
version_added: 0.1.0
description:
  - The provider guide has operators edit the settings at the top of the enclave's serve script
    (C(PROVIDER=), C(REGISTRY=), C(PRICE=) and C(NO_DEMAND_TIMEOUT=) in C(serve_oracle.sh)). This module makes
    that edit idempotently and leaves every other line of the script exactly as it was.
  - Only top-level assignments are touched, lines starting in column 0 with C(NAME=) or C(export NAME=).
    Indented assignments (inside C(if) blocks or functions) are never changed.
  - The current value is the shell word after C(=), with quotes and backslashes resolved; a line whose word
    already means the wanted value is left as it is, whatever its quoting. When the value changes, a trailing
    C(# comment) is kept.
  - A line whose value is not one literal shell word is rewritten whole as C(NAME=value), keeping a trailing
    C(# comment) only when it is safely separable. This covers the provider guide's placeholders
    (C(PROVIDER=<---the Ethereum address that should get your rewards-->)), command substitutions (C($(cat f)),
    backquotes), C(${X}) expansions, unbalanced quotes and a trailing command (C(PRICE=5; cmd) becomes C(PRICE=7)).
  - A line that cannot be rewritten safely, one continued on the next line (a backslash at its end) or one
    starting a here-document (C(<<)), fails the task with its line number and leaves the script as it was.
  - New values are written unquoted when they only contain letters, digits and C(_@%+=:,./-), otherwise in
    single quotes; an empty value is written as C(NAME=).
  - A name without a top-level assignment fails the task, naming every missing name, unless O(missing=append)
    (the assignment is added to the script's leading block of assignments, never after a command) or the name
    is in O(optional) (it is skipped). A name assigned more than once at top level always fails (which one
    counts is a guess).
  - The new script must pass C(/bin/sh -n) (in check mode too) before it replaces the file; otherwise the task
    fails with the shell's message and the script stays as it was.
  - The file is replaced atomically and keeps its owner, group and mode.
options:
  path:
    description:
      - The serve script on the managed host, for example C(/opt/opencontracts/enclave-protocol/oracle_enclave/serve_oracle.sh).
    type: path
    required: true
  settings:
    description:
      - The assignments to make, variable name to value. Values are strings (an empty string means empty) or whole
        numbers; a line break in a value is refused.
      - Names must be shell variable names (letters, digits and C(_), not starting with a digit; nothing else,
        not even a line break at the end).
    type: dict
    required: true
  missing:
    description:
      - What to do with a name of O(settings) that the script does not assign at top level.
      - V(fail) fails the task and changes nothing. Use it for settings the script is known to have, so that an
        upstream rename is noticed instead of silently adding a variable nothing reads.
      - V(append) adds C(NAME=value) after the last assignment of the script's leading block of assignments (the
        one that follows the C(#!) line and the header's comments, up to the first blank line or command), or
        before the first command when the script has no such block. So an appended setting never follows a
        command such as C(nitro-cli run-enclave) that should have seen it.
    type: str
    choices: [fail, append]
    default: fail
  optional:
    description:
      - Names of O(settings) that are set only when the script assigns them, and skipped otherwise (for example
        the enclave's C(MEMORY) and C(CPU_COUNT) when the script has such lines).
    type: list
    elements: str
    default: []
  backup:
    description:
      - Keep a copy of the previous script, with a timestamp in its name, when the module changes it.
    type: bool
    default: false
extends_documentation_fragment:
  - opencontracts.enclave.attributes
  - opencontracts.enclave.attributes.files
attributes:
  diff_mode:
    details: Shows the script before and after.
notes:
  - The script is read and written as UTF-8; its line endings (C(\n) or C(\r\n)) are kept.
requirements:
  - C(/bin/sh) on the managed host (for C(sh -n)).
seealso:
  - module: ansible.builtin.lineinfile
    description: For one line at a time, without shell quoting rules.
author:
  - Open Contracts enclave collection contributors (@open-contracts)
"""

EXAMPLES = r"""
- name: Put the oracle's settings into serve_oracle.sh, as the provider guide asks
  opencontracts.enclave.serve_settings:
    path: /opt/opencontracts/enclave-protocol/oracle_enclave/serve_oracle.sh
    settings:
      PROVIDER: "{{ oracle_service_provider | opencontracts.enclave.eth_checksum_address }}"
      REGISTRY: 203.0.113.10
      PRICE: "{{ '2.5 OPN' | opencontracts.enclave.opn_to_wei | string }}"
      NO_DEMAND_TIMEOUT: ""

- name: Size the enclave where the script has MEMORY and CPU_COUNT lines, skip them otherwise
  opencontracts.enclave.serve_settings:
    path: /opt/opencontracts/enclave-protocol/registry_enclave/serve_registry.sh
    settings:
      MEMORY: 11000
      CPU_COUNT: 2
    optional: [MEMORY, CPU_COUNT]

- name: Add a setting the script does not have yet
  opencontracts.enclave.serve_settings:
    path: /opt/opencontracts/enclave-protocol/oracle_enclave/serve_oracle.sh
    settings:
      LOG_LEVEL: info
    missing: append
"""

RETURN = r"""
settings:
  description: For every name of O(settings), what the script held and holds now.
  returned: success
  type: dict
  contains:
    before:
      description:
        - The value before (null when the script had no assignment, or its value is not one literal shell word,
          such as C($HOME), C($(cat f)) or the guide's placeholder).
      type: str
    after:
      description: The value now (null for an optional name the script does not assign).
      type: str
    line:
      description: The 1-based line of the assignment now (null when absent).
      type: int
    status:
      description: C(unchanged), C(changed), C(appended) or C(absent) (an optional name the script does not assign).
      type: str
  sample:
    PRICE: {before: "", after: "2500000000000000000", line: 9, status: changed}
    MEMORY: {before: "11000", after: "11000", line: 11, status: unchanged}
checksum:
  description:
    - The SHA-1 of the script as it is after the run (in check mode, as it would be), as M(ansible.builtin.stat)
      reports it. A caller that keeps it can tell later, from the file's SHA-1 alone, whether the script still
      holds these settings.
  returned: success
  type: str
  sample: 5d4f0f3bbc0bd0d1e2a3c2f3c4d5e6f708192a3b
changed_names:
  description: The names whose line changed or was appended.
  returned: success
  type: list
  elements: str
  sample: [PRICE]
backup_file:
  description: The copy of the previous script, when O(backup=true) and the script changed.
  returned: changed and O(backup=true)
  type: str
  sample: /opt/opencontracts/enclave-protocol/oracle_enclave/serve_oracle.sh.12345.2024-01-01@00:00:00~
"""

import hashlib
import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text
from ansible_collections.opencontracts.enclave.plugins.module_utils.serve_script import (
    ServeScriptError,
    apply_settings,
)

# Checks the result's syntax (-n: read, do not run) before it replaces the script.
SHELL = "/bin/sh"


def read_script(path):
    if not os.path.exists(path):
        raise ServeScriptError("the serve script %s does not exist (is the enclave repository checked out, and are the folder "
                               "and script names right?)" % path)
    if not os.path.isfile(path):
        raise ServeScriptError("%s is not a regular file" % path)
    with open(path, "rb") as handle:
        data = handle.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ServeScriptError("%s is not UTF-8 text (%s)" % (path, exc))


def check_and_write(module, path, text, write, backup=False):
    """Write ``text`` to a temporary file beside ``path``, check it with ``sh -n``, and (when ``write``) move it over ``path``.

    Returns ``(problem, backup_file)``: sh's message when the text is not valid shell (``path`` is then
    untouched, and no backup is made), else None; the backup's path when ``backup`` and written.
    """
    backup_file = None
    directory = os.path.dirname(path) or "."
    handle, temporary = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=directory)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(to_bytes(text, encoding="utf-8"))
        rc, out, err = module.run_command([SHELL, "-n", temporary])
        if rc != 0:
            return (err or out or "exit status %d" % rc).strip().replace(temporary, path), None
        if write:
            if backup:
                backup_file = module.backup_local(path)
            # atomic_move copies the destination's owner, group, mode and SELinux context.
            module.atomic_move(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return None, backup_file


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            settings=dict(type="dict", required=True),
            missing=dict(type="str", choices=["fail", "append"], default="fail"),
            optional=dict(type="list", elements="str", default=[]),
            backup=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    path = module.params["path"]
    settings = module.params["settings"]
    unknown_optional = sorted(set(module.params["optional"]) - set(settings))
    if unknown_optional:
        module.fail_json(msg="optional names %s are not in settings" % ", ".join(unknown_optional), changed=False)
    try:
        before = read_script(path)
        after, report = apply_settings(before, settings, missing=module.params["missing"], optional=module.params["optional"])
    except ServeScriptError as exc:
        module.fail_json(msg="%s: %s" % (path, to_native(exc)), changed=False)
    except (IOError, OSError) as exc:
        module.fail_json(msg="cannot read %s: %s" % (path, to_native(exc)), changed=False)

    changed = after != before
    result = dict(
        changed=changed,
        checksum=hashlib.sha1(to_bytes(after, encoding="utf-8")).hexdigest(),
        settings=report,
        changed_names=[name for name, entry in report.items() if entry["status"] in ("changed", "appended")],
    )
    if module._diff:
        result["diff"] = dict(before=before, after=after, before_header=path, after_header=path)
    if changed:
        # The result must be valid shell before it replaces the script (in check mode too: a run that would
        # fail should be seen failing).
        try:
            problem, backup_file = check_and_write(module, path, after, write=not module.check_mode,
                                                   backup=module.params["backup"])
        except (IOError, OSError) as exc:
            module.fail_json(msg="cannot write %s: %s" % (path, to_text(exc)), changed=False)
        if backup_file:
            result["backup_file"] = backup_file
        if problem:
            module.fail_json(msg="%s: the script with these settings is not valid shell (%s -n: %s); it was left as it was"
                             % (path, SHELL, problem), changed=False, settings=report)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
