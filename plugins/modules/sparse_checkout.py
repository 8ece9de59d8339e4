#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: sparse_checkout
short_description: A partial clone of a git repository with only some of its files checked out
version_added: 0.1.0
description:
  - Keeps O(dest) a checkout of O(repo) at O(version) (detached C(HEAD)) that holds only the files O(paths) select,
    the way a host that does not build the enclave image needs the enclave source - its serve scripts and
    C(ec2_instance/), without the image tars of hundreds of megabytes that only a building host loads.
  - A new checkout is a partial clone (C(git clone --filter=blob:none --no-checkout)), so git fetches the content of
    the selected files only, then C(git sparse-checkout set --no-cone) with O(paths) and C(git checkout --detach).
    The repository's server must allow filters (C(uploadpack.allowFilter), as GitHub does); one that does not sends
    every file's content, and the work tree still holds only the selected files. A local repository needs a
    C(file://) URL for the filter to apply.
  - An existing checkout is moved to O(version) (fetching when the commit is missing), and its sparse-checkout
    patterns set to O(paths). With O(paths) empty, sparse checkout is turned off and every file is checked out
    (git fetches the missing content then); use M(ansible.builtin.git) for checkouts that were never sparse.
  - Local changes are never thrown away - git refuses to move a checkout whose changes the move would overwrite,
    and the module fails with git's message. Files marked skip-worktree by hand are left as they are.
  - Re-runs change nothing when the checkout is at O(version) with the patterns O(paths).
options:
  repo:
    description: The repository's URL (C(https://), C(ssh://), C(git://), C(file://), C(user@host:path) or a path).
    type: str
    required: true
  dest:
    description: The checkout's folder. It is created when missing; an existing folder must be a git checkout or empty.
    type: path
    required: true
  version:
    description:
      - The commit (40 hex digits), tag or branch to check out; a tag or branch is resolved with C(git ls-remote).
      - Pin a commit - a tag or branch can move.
    type: str
    required: true
  paths:
    description:
      - The sparse-checkout patterns, in git's non-cone mode (gitignore syntax) - for example C(/ec2_instance/) for a
        folder, C(!/oracle_enclave/oracle_enclave.tar*) to leave out the files of a selected folder that match.
      - Empty - a full checkout (sparse checkout turned off).
    type: list
    elements: str
    default: []
  filter:
    description:
      - The object filter of a new clone (C(git clone --filter)); empty for a full clone. Existing checkouts keep theirs.
    type: str
    default: blob:none
extends_documentation_fragment:
  - opencontracts.enclave.attributes
attributes:
  check_mode:
    support: full
    details: Reads the checkout and asks the repository which commit O(version) names; clones, fetches and moves nothing.
  diff_mode:
    support: full
    details: Shows the commit and the sparse-checkout patterns before and after.
requirements:
  - git 2.27 or later on the host (C(sparse-checkout set --no-cone --stdin)).
notes:
  - The serving roles mark the serve scripts they configure skip-worktree. In a sparse checkout git marks every file
    left out skip-worktree too; M(opencontracts.enclave.enclave_build_facts) tells them apart by whether they are in the
    work tree. Since git 2.36 a sparse checkout clears the mark of files that are in the work tree, unless
    C(sparse.expectFilesOutsideOfPatterns) is true - the module sets it in a sparse checkout (and removes it again
    with O(paths) empty).
seealso:
  - module: ansible.builtin.git
  - module: opencontracts.enclave.enclave_build_facts
  - name: git sparse-checkout
    description: git's documentation of sparse checkouts and their non-cone patterns.
    link: https://git-scm.com/docs/git-sparse-checkout
author:
  - Open Contracts enclave collection contributors (@open-contracts)
"""

EXAMPLES = r"""
- name: The serve scripts and ec2_instance/ of the enclave source, without the image tars
  opencontracts.enclave.sparse_checkout:
    repo: https://github.com/open-contracts/enclave-protocol
    dest: /opt/opencontracts/enclave-protocol
    version: 0123456789abcdef0123456789abcdef01234567
    paths:
      - /ec2_instance/
      - /oracle_enclave/
      - "!/oracle_enclave/oracle_enclave.tar*"

- name: Every file again (this host builds now)
  opencontracts.enclave.sparse_checkout:
    repo: https://github.com/open-contracts/enclave-protocol
    dest: /opt/opencontracts/enclave-protocol
    version: 0123456789abcdef0123456789abcdef01234567
    paths: []
"""

RETURN = r"""
before:
  description: The commit checked out before the run, or null when there was no checkout.
  returned: always
  type: str
  sample: null
after:
  description: The commit checked out after the run (in check mode, the one it would be).
  returned: always
  type: str
  sample: 0123456789abcdef0123456789abcdef01234567
sparse:
  description: The sparse-checkout patterns after the run (in check mode, the ones they would be); empty for a full checkout.
  returned: always
  type: list
  elements: str
  sample: [/ec2_instance/, /oracle_enclave/, "!/oracle_enclave/oracle_enclave.tar*"]
cloned:
  description: Whether the run cloned the repository (in check mode, would clone it).
  returned: always
  type: bool
  sample: true
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.opencontracts.enclave.plugins.module_utils import git_checkout


# git's setting that keeps the skip-worktree marks of files present in a sparse checkout.
EXPECT_PRESENT = "sparse.expectFilesOutsideOfPatterns"


class CheckoutError(Exception):
    """A git step failed; the message says which and why."""


class Git(object):
    """git commands in the checkout, through the module's run_command."""

    def __init__(self, module, git, dest):
        self.module = module
        self.git = git
        self.dest = dest

    def run(self, args, cwd=None, data=None, what=None):
        rc, out, err = self.module.run_command([self.git] + args, cwd=cwd or self.dest, data=data,
                                               environ_update=git_checkout.GIT_ENVIRONMENT)
        if rc != 0 and what:
            detail = (err or out).strip() or "exit status %d" % rc
            raise CheckoutError("%s failed: %s" % (what, detail))
        return rc, out

    def output(self, args):
        rc, out = self.run(args)
        return out.strip() if rc == 0 else ""

    def has_commit(self, commit):
        # Only the commit object: in a partial clone, asking for blobs would fetch them.
        rc, dummy = self.run(["cat-file", "-e", commit + "^{commit}"])
        return rc == 0


def resolve(git, repo, version, dest):
    """The commit ``version`` names in ``repo``."""
    if git_checkout.COMMIT_RE.match(version):
        return version.lower()
    dummy, out = git.run(["ls-remote", "--", repo, version, version + "^{}"], cwd=os.path.dirname(dest) or "/",
                         what="asking %s for %s (git ls-remote)" % (repo, version))
    commit = git_checkout.wanted_commit(version, out)
    if not commit:
        raise CheckoutError("%s has no branch or tag named %s" % (repo, version))
    return commit


def state(git, dest):
    """``(commit or None, patterns)`` of the checkout at ``dest``."""
    if not os.path.exists(os.path.join(dest, ".git")):
        return None, []
    commit = git.output(["rev-parse", "--verify", "-q", "HEAD"]) or None
    enabled = git.output(["config", "--bool", "--get", "core.sparseCheckout"]) == "true"
    return commit, git_checkout.sparse_patterns(dest, enabled)


def describe(commit, patterns):
    lines = ["commit: %s" % (commit or "(none)"), "sparse: %s" % ("yes" if patterns else "no (every file)")]
    return "\n".join(lines + ["  %s" % pattern for pattern in patterns]) + "\n"


def converge(module, git, params):
    repo, dest, paths = params["repo"], params["dest"], params["paths"]
    commit = resolve(git, repo, params["version"], dest)
    before, patterns = state(git, dest)
    cloned = not os.path.exists(os.path.join(dest, ".git"))
    if cloned and os.path.isdir(dest) and os.listdir(dest):
        raise CheckoutError("%s exists, is not empty and is not a git checkout: nothing was cloned there" % dest)
    origin = "" if cloned else git.output(["config", "--get", "remote.origin.url"])
    # Since git 2.36 a sparse checkout clears the skip-worktree mark of every file present in the work tree,
    # which would undo the serving roles' marks on the serve scripts they configure: tell git to expect them.
    expecting = not cloned and git.output(["config", "--bool", "--get", EXPECT_PRESENT]) == "true"
    changed = cloned or origin != repo or patterns != paths or before != commit or expecting != bool(paths)
    result = {"changed": changed, "before": before, "after": commit, "sparse": list(paths), "cloned": cloned}
    if module._diff:
        result["diff"] = {"before": describe(before, patterns), "after": describe(commit, paths),
                          "before_header": dest, "after_header": dest}
    if not changed or module.check_mode:
        return result
    if cloned:
        clone = ["clone", "--quiet", "--no-checkout"] + (["--filter=" + params["filter"]] if params["filter"] else [])
        git.run(clone + ["--", repo, dest], cwd=os.path.dirname(dest.rstrip("/")) or "/",
                what="cloning %s into %s" % (repo, dest))
    elif origin != repo:
        git.run(["remote", "set-url", "origin", repo], what="setting the checkout's origin to %s" % repo)
    if not git.has_commit(commit):
        git.run(["fetch", "--quiet", "--tags", "origin"], what="fetching from %s" % repo)
    if not git.has_commit(commit):
        git.run(["fetch", "--quiet", "origin", commit], what="fetching %s from %s" % (commit, repo))
    if paths and not expecting:
        git.run(["config", EXPECT_PRESENT, "true"], what="configuring the sparse checkout of %s" % dest)
    elif expecting and not paths:
        git.run(["config", "--unset", EXPECT_PRESENT], what="configuring the checkout of %s" % dest)
    # The patterns first: a new clone then fetches the content of the selected files only.
    if paths and (cloned or patterns != paths):
        git.run(["sparse-checkout", "set", "--no-cone", "--stdin"], data="\n".join(paths),
                what="setting the sparse-checkout patterns of %s" % dest)
    elif not paths and patterns:
        git.run(["sparse-checkout", "disable"], what="turning sparse checkout off in %s" % dest)
    if cloned or before != commit:
        git.run(["checkout", "--quiet", "--detach", commit], what="checking out %s in %s" % (commit, dest))
    after, now = state(git, dest)
    if after != commit or now != list(paths):
        raise CheckoutError("%s is at %s with the patterns %s after the run, not at %s with %s"
                            % (dest, after, now, commit, paths))
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            repo=dict(type="str", required=True),
            dest=dict(type="path", required=True),
            version=dict(type="str", required=True),
            paths=dict(type="list", elements="str", default=[]),
            filter=dict(type="str", default="blob:none"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    bad = [path for path in params["paths"] if not path.strip() or "\n" in path or path.startswith("#")]
    if bad:
        module.fail_json(msg="paths: %s %s not a sparse-checkout pattern (one non-empty line, not a comment)"
                         % (", ".join(repr(path) for path in bad), "is" if len(bad) == 1 else "are"), changed=False)
    git_path = module.get_bin_path("git")
    if git_path is None:
        module.fail_json(msg="git is not installed on this host", changed=False)
    try:
        result = converge(module, Git(module, git_path, params["dest"]), params)
    except CheckoutError as exc:
        module.fail_json(msg=str(exc), changed=False)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
