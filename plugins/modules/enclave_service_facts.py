#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: enclave_service_facts
short_description: Read what an enclave service host has, compared with what the enclave_service role installs
version_added: 0.1.0
description:
  - Reads, without changing anything, everything the internal role C(opencontracts.enclave.enclave_service) manages on
    a host, and compares it with what the role wants there, so that the role can skip its work with one C(when:) on
    RV(current).
  - The serve script (does it exist, would M(opencontracts.enclave.serve_settings) change anything, does git ignore
    its local settings), the served copy of the verified image, the unit's helpers, the installed unit file, what
    systemd says about the unit, whether tmux is installed, and the service user (does it exist, is it in the
    group C(ne) that nitro-cli requires of a user other than root).
  - The files a running service reads (serve script, served image, unit file, helpers) are compared with the time
    the unit last became active; one changed after that means the service runs something older than what is on
    disk (an earlier run changed it and stopped before the restart, or someone edited it), see
    RV(changed_since_start).
extends_documentation_fragment:
  - opencontracts.enclave.attributes
  - opencontracts.enclave.attributes.read_only
options:
  unit:
    description: The systemd unit's name, for example C(opencontracts-oracle.service).
    type: str
    required: true
  unit_path:
    description: Where the unit file is installed, for example C(/etc/systemd/system/opencontracts-oracle.service).
    type: path
    required: true
  unit_content:
    description: The unit file the role would install (the rendered template), compared byte for byte.
    type: str
    required: true
  script:
    description: The serve script on the host, for example C(/opt/opencontracts/enclave-protocol/oracle_enclave/serve_oracle.sh).
    type: path
    required: true
  repo_dir:
    description:
      - The git checkout that holds O(script). Used to ask git whether it tracks the script and ignores local
        changes of it (C(git ls-files -v)).
    type: path
    required: true
  settings:
    description: The settings the script must hold, as given to M(opencontracts.enclave.serve_settings).
    type: dict
    default: {}
  optional:
    description: Names of O(settings) the script may lack, as given to M(opencontracts.enclave.serve_settings).
    type: list
    elements: str
    default: []
  missing:
    description: What M(opencontracts.enclave.serve_settings) does with a name the script lacks.
    type: str
    choices: [fail, append]
    default: fail
  eif:
    description: The served copy of the image (where the serve script expects it); empty when the role serves none.
    type: str
    default: ""
  eif_sha256:
    description: The SHA-256 of the verified image; empty when it is not known yet (check mode before the build).
    type: str
    default: ""
  helper_dir:
    description: The folder of the unit's helpers.
    type: path
    required: true
  helpers:
    description: The unit's helpers, file name to content, each installed in O(helper_dir) as root's, mode 0755.
    type: dict
    default: {}
  user:
    description:
      - The user the unit runs the serve script as. C(root) needs nothing; any other user must exist and be in the
        group C(ne) (nitro-cli's rule for C(/dev/nitro_enclaves)), see RV(user).
    type: str
    default: root
seealso:
  - module: opencontracts.enclave.serve_settings
  - module: opencontracts.enclave.enclave_health
author:
  - Open Contracts enclave collection contributors (@open-contracts)
"""

EXAMPLES = r"""
- name: Look at the oracle's serve script, unit, helpers and image
  opencontracts.enclave.enclave_service_facts:
    unit: opencontracts-oracle.service
    unit_path: /etc/systemd/system/opencontracts-oracle.service
    unit_content: "{{ lookup('ansible.builtin.template', 'enclave.service.j2') }}"
    script: /opt/opencontracts/enclave-protocol/oracle_enclave/serve_oracle.sh
    repo_dir: /opt/opencontracts/enclave-protocol
    settings: {PRICE: "2500000000000000000"}
    eif: /opt/opencontracts/enclave-protocol/oracle_enclave/oracle_enclave.eif
    eif_sha256: "{{ enclave_build_result.sha256 }}"
    helper_dir: /usr/local/libexec/opencontracts
    helpers:
      serve-in-tmux: "{{ lookup('ansible.builtin.file', 'serve-in-tmux', rstrip=false) }}"
  register: __facts

- name: Change something only when the host is not as wanted
  ansible.builtin.include_tasks: apply.yml
  when: not __facts.current
"""

RETURN = r"""
current:
  description:
    - True when the role has nothing to do on this host - RV(script.current), RV(eif.current), RV(helpers.current),
      RV(unit.current), RV(user.current), the unit runs (RV(unit.active)), starts at boot (RV(unit.enabled)) and
      RV(changed_since_start) is empty.
  returned: always
  type: bool
  sample: true
script:
  description: The serve script.
  returned: always
  type: dict
  contains:
    path:
      description: O(script).
      type: str
    exists:
      description: The script is a regular file.
      type: bool
    checksum:
      description: Its SHA-1 (null when it does not exist).
      type: str
    settings_current:
      description: The script holds every setting of O(settings); M(opencontracts.enclave.serve_settings) would change nothing.
      type: bool
    settings_changes:
      description: The names whose line M(opencontracts.enclave.serve_settings) would change or append.
      type: list
      elements: str
    settings_error:
      description: >-
        Why M(opencontracts.enclave.serve_settings) would fail (a missing or repeated assignment, a bad value), or
        null.
      type: str
    git_tracked:
      description: git tracks the script in O(repo_dir).
      type: bool
    git_skip_worktree:
      description: The script is marked skip-worktree, so git ignores its local settings.
      type: bool
    current:
      description: It exists, holds the settings, and git ignores its local settings when it tracks it.
      type: bool
  sample: {path: /opt/opencontracts/enclave-protocol/oracle_enclave/serve_oracle.sh, exists: true,
           checksum: 5d4f0f3bbc0bd0d1e2a3c2f3c4d5e6f708192a3b, settings_current: true, settings_changes: [],
           settings_error: null, git_tracked: true, git_skip_worktree: true, current: true}
eif:
  description: The served copy of the image.
  returned: always
  type: dict
  contains:
    path:
      description: O(eif) (empty when none is served).
      type: str
    wanted:
      description: The role installs a copy (O(eif) and O(eif_sha256) are both given).
      type: bool
    exists:
      description: The copy is a regular file.
      type: bool
    checksum:
      description: Its SHA-256 (null when missing).
      type: str
    mode:
      description: Its permissions, four octal digits (null when missing).
      type: str
    owner:
      description: Its owner (null when missing).
      type: str
    group:
      description: Its group (null when missing).
      type: str
    current:
      description: Nothing to copy - no copy is wanted, or it has the SHA-256 O(eif_sha256) and is root's, mode 0644.
      type: bool
helpers:
  description: The unit's helpers.
  returned: always
  type: dict
  contains:
    files:
      description: Each helper of O(helpers) by name, as C(exists), C(checksum) (SHA-1), C(mode), C(owner), C(group).
      type: dict
    stale:
      description: The helpers that are missing, or differ from O(helpers) in content, mode (0755) or owner (root).
      type: list
      elements: str
    current:
      description: RV(helpers.stale) is empty.
      type: bool
  sample: {files: {terminate-enclave: {exists: true, checksum: 0b7a..., mode: "0755", owner: root, group: root}},
           stale: [], current: true}
unit:
  description: The installed unit file and what systemd says about the unit.
  returned: always
  type: dict
  contains:
    path:
      description: O(unit_path).
      type: str
    exists:
      description: The unit file is a regular file.
      type: bool
    checksum:
      description: Its SHA-1 (null when missing).
      type: str
    mode:
      description: Its permissions, four octal digits (null when missing).
      type: str
    owner:
      description: Its owner (null when missing).
      type: str
    current:
      description: The file is O(unit_content) byte for byte, root's, mode 0644.
      type: bool
    loaded:
      description: systemd knows the unit.
      type: bool
    active:
      description: systemd runs it (ActiveState active).
      type: bool
    enabled:
      description: It starts at boot (UnitFileState enabled).
      type: bool
    active_state:
      description: systemd's ActiveState (C(active), C(failed), C(inactive), C(activating)...; empty without systemd).
      type: str
    unit_file_state:
      description: systemd's UnitFileState (C(enabled), C(disabled)...; empty when unknown).
      type: str
    active_since:
      description: When it last became active, in seconds since the epoch (whole seconds); null when never.
      type: int
changed_since_start:
  description:
    - The files the running service reads (script, served image, unit file, helpers) that changed after the unit last
      became active (a change within the same second counts as before it). Empty when the unit does not run.
    - Not empty means the service runs something older than what is on disk and must restart.
  returned: always
  type: list
  elements: str
  sample: [/opt/opencontracts/enclave-protocol/oracle_enclave/serve_oracle.sh]
user:
  description: The service user O(user).
  returned: always
  type: dict
  contains:
    name:
      description: O(user).
      type: str
    exists:
      description: The user exists (always true for C(root)).
      type: bool
    in_ne:
      description: The user is in the group C(ne), as its primary or a supplementary group (true for C(root), which needs no group).
      type: bool
    groups:
      description: The user's groups (primary first), empty when it does not exist.
      type: list
      elements: str
    ne_exists:
      description: The group C(ne) exists (host_prep creates it; a check run on a fresh host may not have it yet).
      type: bool
    current:
      description: RV(user.exists) and RV(user.in_ne).
      type: bool
  sample: {name: opencontracts, exists: true, in_ne: true, groups: [opencontracts, ne], ne_exists: true, current: true}
tmux:
  description: Whether C(/usr/bin/tmux) is installed (the tmux console needs it).
  returned: always
  type: dict
  contains:
    present:
      description: C(/usr/bin/tmux) is an executable file.
      type: bool
"""

import calendar
import grp
import hashlib
import os
import pwd
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native
from ansible_collections.opencontracts.enclave.plugins.module_utils.host_state import (
    C_LOCALE,
    describe_file,
    parse_systemctl_show,
    unit_state,
)
from ansible_collections.opencontracts.enclave.plugins.module_utils.serve_script import (
    ServeScriptError,
    apply_settings,
)

TMUX = "/usr/bin/tmux"
ROOT_FILE = {"owner": "root", "group": "root"}


def _is(described, checksum, mode):
    """A described file has this checksum and mode and is root's."""
    return (described["exists"] and described["checksum"] == checksum and described["mode"] == mode
            and described["owner"] == ROOT_FILE["owner"] and described["group"] == ROOT_FILE["group"])


def script_facts(module, path, repo_dir, settings, optional, missing):
    """The serve script: exists, checksum, settings_current/changes/error, git_tracked/skip_worktree, current."""
    facts = {"path": path, "exists": False, "checksum": None, "settings_current": False, "settings_changes": [],
             "settings_error": None, "git_tracked": False, "git_skip_worktree": False}
    if os.path.isfile(path):
        facts["exists"] = True
        with open(path, "rb") as handle:
            data = handle.read()
        facts["checksum"] = hashlib.sha1(data).hexdigest()
        try:
            text = data.decode("utf-8")
            after, report = apply_settings(text, settings, missing=missing, optional=optional)
        except UnicodeDecodeError as exc:
            facts["settings_error"] = "%s is not UTF-8 text (%s)" % (path, exc)
        except ServeScriptError as exc:
            facts["settings_error"] = "%s: %s" % (path, to_native(exc))
        else:
            facts["settings_current"] = after == text
            facts["settings_changes"] = sorted(name for name, entry in report.items()
                                               if entry["status"] in ("changed", "appended"))
        facts.update(git_flags(module, repo_dir, path))
    facts["current"] = (facts["exists"] and facts["settings_current"]
                        and (facts["git_skip_worktree"] or not facts["git_tracked"]))
    return facts


def git_flags(module, repo_dir, path):
    """``git ls-files -v``'s tag of the script: H tracked, S skip-worktree (lower case: assume-unchanged too)."""
    git = module.get_bin_path("git")
    if not git or not os.path.isdir(repo_dir):
        return {"git_tracked": False, "git_skip_worktree": False}
    relative = os.path.relpath(path, repo_dir)
    rc, out, dummy_err = module.run_command([git, "-C", repo_dir, "ls-files", "-v", "--", relative],
                                            environ_update=C_LOCALE)
    tag = out[:1] if rc == 0 else ""
    return {"git_tracked": tag != "", "git_skip_worktree": tag in ("S", "s")}


def eif_facts(path, sha256):
    facts = {"path": path, "wanted": bool(path and sha256)}
    described = describe_file(path) if path else {"exists": False, "checksum": None, "mode": None, "owner": None,
                                                  "group": None}
    facts.update(described)
    facts["current"] = not facts["wanted"] or _is(described, sha256.lower(), "0644")
    return facts


def helpers_facts(helper_dir, helpers):
    files = {}
    stale = []
    for name in sorted(helpers):
        described = describe_file(os.path.join(helper_dir, name), "sha1")
        files[name] = described
        if not _is(described, hashlib.sha1(to_bytes(helpers[name], errors="surrogate_or_strict")).hexdigest(), "0755"):
            stale.append(name)
    return {"files": files, "stale": stale, "current": not stale}


def user_facts(name):
    """The service user: exists, its groups (primary first), in_ne; root needs no group."""
    facts = {"name": name, "exists": False, "in_ne": False, "groups": []}
    try:
        facts["ne_exists"] = bool(grp.getgrnam("ne"))
    except KeyError:
        facts["ne_exists"] = False
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        entry = None
    if entry is not None:
        facts["exists"] = True
        groups = []
        try:
            groups.append(grp.getgrgid(entry.pw_gid).gr_name)
        except KeyError:
            groups.append(str(entry.pw_gid))
        groups += sorted(group.gr_name for group in grp.getgrall() if name in group.gr_mem and group.gr_name not in groups)
        facts["groups"] = groups
        facts["in_ne"] = entry.pw_uid == 0 or "ne" in groups
    facts["current"] = facts["exists"] and facts["in_ne"]
    return facts


def parse_timestamp(value):
    """systemd's ``Wed 2026-12-02 13:22:01 UTC`` (shown with TZ=UTC) as seconds since the epoch, or None."""
    words = value.split()
    if len(words) < 3 or words[-1] != "UTC":
        return None
    try:
        return calendar.timegm(time.strptime(" ".join(words[-3:-1]), "%Y-%m-%d %H:%M:%S"))
    except ValueError:
        return None


def active_since(module, unit):
    """When the unit last became active (ActiveEnterTimestamp), or None."""
    systemctl = module.get_bin_path("systemctl")
    if not systemctl:
        return None
    environ = dict(C_LOCALE, TZ="UTC")
    rc, out, dummy_err = module.run_command([systemctl, "show", "--property=ActiveEnterTimestamp", "--", unit],
                                            environ_update=environ)
    if rc != 0:
        return None
    return parse_timestamp(parse_systemctl_show(out).get("ActiveEnterTimestamp", ""))


def unit_facts(module, unit, path, content):
    facts = {"path": path}
    described = describe_file(path, "sha1")
    facts.update({key: described[key] for key in ("exists", "checksum", "mode", "owner")})
    facts["current"] = _is(described, hashlib.sha1(to_bytes(content, errors="surrogate_or_strict")).hexdigest(), "0644")
    facts.update(unit_state(module, unit))
    facts["active_since"] = active_since(module, unit) if facts["active"] else None
    return facts


def changed_since(paths, since):
    """The existing paths whose modification time is in a later second than ``since``."""
    if since is None:
        return []
    changed = []
    for path in paths:
        try:
            if int(os.stat(path).st_mtime) > since:
                changed.append(path)
        except OSError:
            continue
    return changed


def main():
    module = AnsibleModule(
        argument_spec=dict(
            unit=dict(type="str", required=True),
            unit_path=dict(type="path", required=True),
            unit_content=dict(type="str", required=True),
            script=dict(type="path", required=True),
            repo_dir=dict(type="path", required=True),
            settings=dict(type="dict", default={}),
            optional=dict(type="list", elements="str", default=[]),
            missing=dict(type="str", choices=["fail", "append"], default="fail"),
            eif=dict(type="str", default=""),
            eif_sha256=dict(type="str", default=""),
            helper_dir=dict(type="path", required=True),
            helpers=dict(type="dict", default={}),
            user=dict(type="str", default="root"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    unknown_optional = sorted(set(params["optional"]) - set(params["settings"]))
    if unknown_optional:
        module.fail_json(msg="optional names %s are not in settings" % ", ".join(unknown_optional))
    if not params["unit"].endswith(".service") or "/" in params["unit"]:
        module.fail_json(msg="unit must be a service unit's name (NAME.service), got %r" % params["unit"])
    bad_helpers = sorted(name for name in params["helpers"] if not name or "/" in name or name in (".", ".."))
    if bad_helpers:
        module.fail_json(msg="helper names must be plain file names, got %s" % ", ".join(repr(n) for n in bad_helpers))

    try:
        script = script_facts(module, params["script"], params["repo_dir"], params["settings"], params["optional"],
                              params["missing"])
        eif = eif_facts(params["eif"], params["eif_sha256"])
        helpers = helpers_facts(params["helper_dir"], params["helpers"])
        unit = unit_facts(module, params["unit"], params["unit_path"], params["unit_content"])
        user = user_facts(params["user"])
    except (IOError, OSError) as exc:
        module.fail_json(msg="cannot read %s: %s" % (getattr(exc, "filename", None) or "a file", to_native(exc)))

    read_by_service = [script["path"], unit["path"]] + ([eif["path"]] if eif["path"] else [])
    read_by_service += [os.path.join(params["helper_dir"], name) for name in sorted(params["helpers"])]
    since = changed_since(read_by_service, unit["active_since"])
    module.exit_json(
        changed=False,
        current=(script["current"] and eif["current"] and helpers["current"] and unit["current"] and user["current"]
                 and unit["active"] and unit["enabled"] and not since),
        script=script,
        eif=eif,
        helpers=helpers,
        unit=unit,
        changed_since_start=since,
        user=user,
        tmux={"present": os.path.isfile(TMUX) and os.access(TMUX, os.X_OK)},
    )


if __name__ == "__main__":
    main()
