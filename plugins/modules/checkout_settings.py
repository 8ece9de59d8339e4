#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: checkout_settings
short_description: Keep the local settings of a checkout's configured serve scripts across a move of the checkout
version_added: 0.1.0
description:
  - The serving roles write a host's settings into the serve scripts of the enclave source checkout and mark them
    skip-worktree, so that git treats the checkout as clean. git refuses to check out a commit that changes such a
    file. This module sets those settings aside as a patch before the checkout moves, and puts them back afterwards.
  - O(state=aside) clears the skip-worktree mark of O(files) (C(git update-index --no-skip-worktree)), writes their
    differences from the index to O(patch) (C(git diff --binary)) and puts upstream's version back into the work
    tree (C(git checkout --)). An existing O(patch) is replaced.
  - O(state=restored) applies O(patch) three-way (C(git apply --3way)). When it does not apply, upstream's version
    of every file the patch names stays (C(git checkout HEAD --)) and the module says so in RV(kept_upstream); the
    serving roles then write their settings into it again. Either way the index is set back to C(HEAD) for those
    files (C(git reset)), they are marked skip-worktree again and O(patch) is removed. Without O(patch) nothing
    is done; an empty O(patch) (the files had no local differences) is only removed.
  - Re-runs change nothing - O(state=restored) once O(patch) is gone, O(state=aside) with O(files) empty.
options:
  repo_dir:
    description: The checkout, its top folder.
    type: path
    required: true
  patch:
    description:
      - Where the settings are kept while the checkout moves, a file outside the checkout.
      - Defaults to C(<repo_dir>.settings.patch), as M(opencontracts.enclave.enclave_build_facts) does.
    type: path
  files:
    description:
      - With O(state=aside), the files whose settings to set aside, relative to O(repo_dir), taken literally (no
        patterns) - the RV(opencontracts.enclave.enclave_build_facts#module:checkout.configured_files).
        Empty - nothing to do.
      - Ignored with O(state=restored), which takes the files from O(patch).
    type: list
    elements: str
    default: []
  state:
    description:
      - V(aside) sets the settings of O(files) aside into O(patch), before the checkout moves.
      - V(restored) puts the settings in O(patch) back, after the checkout moved.
    type: str
    choices: [aside, restored]
    required: true
extends_documentation_fragment:
  - opencontracts.enclave.attributes
attributes:
  check_mode:
    support: full
    details:
      - Changes nothing in the checkout and writes or removes no patch. O(state=aside) reports the files and the patch
        it would write (git works on a copy of the index).
      - O(state=restored) reports whether the patch would apply to the checkout as it is now, tried on a copy of the
        index (with an older git that cannot apply three-way to an index alone, a patch that only applies three-way
        is reported as not applying).
  diff_mode:
    support: full
    details: Shows O(patch) before and after - the settings set aside, or put back.
requirements:
  - git on the host.
notes:
  - O(state=restored) keeps upstream's version whenever the patch does not apply, also over local changes made to
    those files after they were set aside.
seealso:
  - module: opencontracts.enclave.enclave_build_facts
  - module: opencontracts.enclave.serve_settings
  - name: git update-index
    description: git's documentation of the skip-worktree mark.
    link: https://git-scm.com/docs/git-update-index#_skip_worktree_bit
author:
  - Open Contracts enclave collection contributors (@open-contracts)
"""

EXAMPLES = r"""
- name: Set the configured serve scripts' settings aside before the checkout moves
  opencontracts.enclave.checkout_settings:
    repo_dir: /opt/opencontracts/enclave-protocol
    patch: /opt/opencontracts/enclave-protocol.settings.patch
    files: [oracle_enclave/serve_oracle.sh]
    state: aside

- name: Put them back afterwards
  opencontracts.enclave.checkout_settings:
    repo_dir: /opt/opencontracts/enclave-protocol
    patch: /opt/opencontracts/enclave-protocol.settings.patch
    state: restored
  register: settings

- name: Upstream changed the script in a way the settings do not apply to - write them again
  ansible.builtin.debug:
    msg: "{{ settings.kept_upstream | join(', ') }} keep upstream's version"
  when: settings.kept_upstream | length > 0
"""

RETURN = r"""
patch:
  description: The patch file.
  returned: always
  type: str
  sample: /opt/opencontracts/enclave-protocol.settings.patch
files:
  description:
    - With O(state=aside), the files set aside (O(files)) - their skip-worktree mark cleared, upstream's version in
      the work tree.
    - With O(state=restored), the files O(patch) names - marked skip-worktree again (empty when there was no patch,
      or an empty one).
  returned: always
  type: list
  elements: str
  sample: [oracle_enclave/serve_oracle.sh]
set_aside:
  description:
    - The files of RV(files) with local settings, now in O(patch) (O(state=aside)); the others were as upstream has
      them. Empty with O(state=restored).
  returned: always
  type: list
  elements: str
  sample: [oracle_enclave/serve_oracle.sh]
restored:
  description: The files whose settings were put back, the patch applied (O(state=restored)).
  returned: always
  type: list
  elements: str
  sample: [oracle_enclave/serve_oracle.sh]
kept_upstream:
  description:
    - The files that keep upstream's version because O(patch) does not apply to them (O(state=restored)) - their
      settings are to be written again. The patch applies whole or not at all, so this is every file it names.
  returned: always
  type: list
  elements: str
  sample: []
"""

import os
import shutil
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.opencontracts.enclave.plugins.module_utils import git_checkout

# Paths are names, never patterns (a file named with '*' would otherwise match others).
ENVIRONMENT = dict(git_checkout.GIT_ENVIRONMENT, GIT_LITERAL_PATHSPECS="1")


class SettingsError(Exception):
    """A git step or a file operation failed; the message says which and why."""


class Git(object):
    """git commands in the checkout, through the module's run_command; ``index`` a copy of the index to work on."""

    def __init__(self, module, git, repo_dir, index=None):
        self.module = module
        self.git = git
        self.repo_dir = repo_dir
        self.index = index

    def run(self, args, what=None):
        environ = dict(ENVIRONMENT, GIT_INDEX_FILE=self.index) if self.index else ENVIRONMENT
        rc, out, err = self.module.run_command([self.git] + args, cwd=self.repo_dir, environ_update=environ)
        if rc != 0 and what:
            detail = (err or out).strip() or "exit status %d" % rc
            raise SettingsError("%s failed: %s" % (what, detail))
        return rc, out

    def names(self, args, what):
        """The NUL-separated names a git command prints (``-z``)."""
        dummy, out = self.run(args, what=what)
        return [name for name in out.split("\0") if name]


def git_dir_index(git):
    """The checkout's index file (absolute); fails when ``repo_dir`` is not the top folder of a checkout."""
    dummy, out = git.run(["rev-parse", "--show-prefix", "--git-path", "index"],
                         what="looking for a git checkout in %s (git rev-parse)" % git.repo_dir)
    lines = out.splitlines()
    prefix, index = (lines[0], lines[1]) if len(lines) == 2 else ("", lines[-1] if lines else "")
    if prefix.strip():
        raise SettingsError("%s is inside a git checkout, not its top folder" % git.repo_dir)
    return os.path.join(git.repo_dir, index.strip())


def copy_of_index(git):
    """A temporary copy of the checkout's index (the caller removes it), for check mode."""
    index = git_dir_index(git)
    handle, path = tempfile.mkstemp(prefix="checkout-settings-", suffix=".index")
    os.close(handle)
    if os.path.exists(index):
        shutil.copyfile(index, path)
    else:
        os.remove(path)
    return path


def read_text(path):
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8", "replace")
    except OSError as exc:
        raise SettingsError("reading %s failed: %s" % (path, exc.strerror))


def write_patch(path, text):
    """Write ``text`` to ``path`` atomically (a file next to it, then renamed)."""
    folder = os.path.dirname(path) or "."
    try:
        handle, temporary = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=folder)
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(text.encode("utf-8"))
            os.replace(temporary, path)
        except BaseException:
            os.remove(temporary)
            raise
    except OSError as exc:
        raise SettingsError("writing %s failed: %s" % (path, exc.strerror))


def set_aside(module, git, params, result):
    files, patch = params["files"], result["patch"]
    if not files:
        return result
    result.update(changed=True, files=list(files))
    index = copy_of_index(git) if module.check_mode else None
    work = Git(module, git.git, git.repo_dir, index) if index else git
    try:
        work.run(["update-index", "--no-skip-worktree", "--"] + files,
                 what="clearing the skip-worktree mark of %s" % ", ".join(files))
        dummy, text = work.run(["diff", "--binary", "--"] + files, what="reading the settings of %s" % ", ".join(files))
        result["set_aside"] = work.names(["diff", "--name-only", "-z", "--"] + files,
                                         what="listing the files with settings")
    finally:
        if index and os.path.exists(index):
            os.remove(index)
    if module._diff:
        before = read_text(patch) if os.path.isfile(patch) else ""
        result["diff"] = {"before": before, "after": text, "before_header": patch, "after_header": patch}
    if module.check_mode:
        return result
    write_patch(patch, text)
    git.run(["checkout", "--"] + files, what="putting upstream's version of %s back" % ", ".join(files))
    return result


def applies(module, git, patch):
    """Whether ``patch`` applies (three-way) to the checkout as it is, tried on a copy of the index."""
    rc, dummy = git.run(["apply", "--check", patch])
    if rc == 0:
        return True
    index = copy_of_index(git)
    try:
        rc, dummy = Git(module, git.git, git.repo_dir, index).run(["apply", "--cached", "--3way", patch])
    finally:
        if os.path.exists(index):
            os.remove(index)
    return rc == 0


def restore(module, git, params, result):
    patch = result["patch"]
    git_dir_index(git)
    if not os.path.isfile(patch):
        return result
    text = read_text(patch)
    result["changed"] = True
    if module._diff:
        result["diff"] = {"before": text, "after": "", "before_header": patch, "after_header": patch}
    files = []
    if text:
        files = git.names(["apply", "--numstat", "-z", patch],
                          what="reading %s (remove it to go on without the settings in it)" % patch)
        # numstat -z: "added<TAB>deleted<TAB>path" NUL-terminated.
        files = [name.split("\t", 2)[-1] for name in files]
    result["files"] = files
    if module.check_mode:
        if files:
            result["restored" if applies(module, git, patch) else "kept_upstream"] = list(files)
        return result
    if files:
        rc, dummy = git.run(["apply", "--3way", patch])
        result["restored" if rc == 0 else "kept_upstream"] = list(files)
        # A file upstream removed is not there to keep or mark.
        present = git.names(["ls-tree", "-z", "--name-only", "HEAD", "--"] + files,
                            what="listing the files of HEAD")
        if rc != 0 and present:
            git.run(["checkout", "HEAD", "--"] + present,
                    what="keeping upstream's version of %s" % ", ".join(present))
        if present:
            git.run(["reset", "-q", "--"] + present, what="setting the index of %s back to HEAD" % ", ".join(present))
            git.run(["update-index", "--skip-worktree", "--"] + present,
                    what="marking %s skip-worktree" % ", ".join(present))
    try:
        os.remove(patch)
    except OSError as exc:
        raise SettingsError("removing %s failed: %s" % (patch, exc.strerror))
    return result


def bad_files(files):
    """The names of ``files`` that are not plain paths inside the checkout."""
    return [name for name in files
            if not name.strip() or "\n" in name or "\0" in name or os.path.isabs(name)
            or ".." in name.split("/") or name.split("/")[0] == ".git"]


def main():
    module = AnsibleModule(
        argument_spec=dict(
            repo_dir=dict(type="path", required=True),
            patch=dict(type="path"),
            files=dict(type="list", elements="str", default=[]),
            state=dict(type="str", choices=["aside", "restored"], required=True),
        ),
        supports_check_mode=True,
    )
    params = module.params
    bad = bad_files(params["files"])
    if bad:
        module.fail_json(msg="files: %s %s not a path inside the checkout" % (
            ", ".join(repr(name) for name in bad), "is" if len(bad) == 1 else "are"), changed=False)
    repo_dir = params["repo_dir"]
    patch = params["patch"] or repo_dir.rstrip("/") + ".settings.patch"
    if not os.path.isdir(repo_dir):
        module.fail_json(msg="repo_dir: %s is not a folder" % repo_dir, changed=False)
    git_path = module.get_bin_path("git")
    if git_path is None:
        module.fail_json(msg="git is not installed on this host", changed=False)
    result = {"changed": False, "patch": patch, "files": [], "set_aside": [], "restored": [], "kept_upstream": []}
    git = Git(module, git_path, repo_dir)
    try:
        if params["state"] == "aside":
            git_dir_index(git)
            set_aside(module, git, params, result)
        else:
            restore(module, git, params, result)
    except SettingsError as exc:
        module.fail_json(msg=str(exc), changed=False)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
