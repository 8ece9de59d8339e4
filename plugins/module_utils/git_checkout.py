# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What a git checkout of the enclave source is, shared by enclave_build_facts and sparse_checkout.

Public API: :func:`wanted_commit`, :func:`sparse_patterns`, :func:`configured_files`,
:data:`COMMIT_RE`, :data:`GIT_ENVIRONMENT`.
"""

import os
import re

from ansible_collections.opencontracts.enclave.plugins.module_utils import host_state

COMMIT_RE = re.compile(r"^[0-9a-fA-F]{40}$")
# git never waits for credentials, and looking never takes the index lock.
GIT_ENVIRONMENT = dict(host_state.C_LOCALE, GIT_TERMINAL_PROMPT="0", GIT_OPTIONAL_LOCKS="0")
# The sparse-checkout file git reads in non-cone mode, relative to the checkout.
SPARSE_FILE = os.path.join(".git", "info", "sparse-checkout")


def wanted_commit(version, ls_remote_output):
    """The commit ``version`` names: itself when a full commit ID, else the advertised (peeled) one, or ''."""
    if COMMIT_RE.match(version):
        return version.lower()
    peeled, plain = "", ""
    for line in ls_remote_output.splitlines():
        sha, dummy, ref = line.strip().partition("\t")
        if not sha:
            continue
        if ref.endswith("^{}") and not peeled:
            peeled = sha
        elif not plain:
            plain = sha
    return (peeled or plain).lower()


def sparse_patterns(repo_dir, enabled):
    """The patterns of a sparse checkout (``enabled``: git's core.sparseCheckout is true); [] for a full one."""
    if not enabled:
        return []
    try:
        with open(os.path.join(repo_dir, SPARSE_FILE), "rb") as handle:
            text = handle.read(1 << 20).decode("utf-8", "replace")
    except OSError:
        return []
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def configured_files(repo_dir, ls_files_output, sparse):
    """The files marked skip-worktree by a serving role (``git ls-files -v`` tag S).

    In a sparse checkout git marks every file left out skip-worktree too; those are not in the work tree,
    while a serving role's script always is, so only files present count there.
    """
    marked = [line[2:] for line in ls_files_output.splitlines() if line.startswith("S ")]
    if not sparse:
        return marked
    return [path for path in marked if os.path.lexists(os.path.join(repo_dir, path))]
