#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: enclave_build_facts
short_description: Report what the enclave_build role finds on a host, before it changes anything
version_added: 0.1.0
description:
  - One read-only look at a host for the role C(opencontracts.enclave.enclave_build) - the platform and the
    packages it lacks, whether the enclave source repository answers and which commit the pinned version names,
    where the checkout is, whether settings set aside by an earlier run wait to be put back, and the installed
    enclave image with its install record.
  - "The role decides every step with plain conditions on these values, for example
    C(when: not __enclave_build_facts.checkout.current)."
  - A host without C(git) (a fresh host, before the role installed it) is a normal result - RV(git) is false and
    nothing that needs git is reported; ask again once git is installed.
  - An unreachable repository is a normal result too - RV(remote.reachable) is false and RV(remote.error) says
    why; the role stops on it before it changes the checkout, the image or the service.
  - The module fails only on arguments of the wrong type; it never changes anything. It does not judge the
    values (the role's preflight does); a path that is not there is reported as absent.
options:
  repo_url:
    description: The enclave source repository, as C(git ls-remote) and the checkout's C(origin) name it.
    type: str
    required: true
  repo_version:
    description:
      - The pinned version - a full commit ID (40 hex digits), a tag or a branch.
      - A full commit ID pins itself; a tag or a branch names what the repository advertises for it (a tag's
        peeled commit).
    type: str
    required: true
  repo_dir:
    description: The checkout.
    type: path
    required: true
  requirements_file:
    description: The host-side requirements file, relative to O(repo_dir).
    type: str
    required: true
  venv_dir:
    description: The virtualenv; the role keeps a copy of the requirements it installed there as C(.requirements.txt).
    type: path
    required: true
  settings_patch:
    description:
      - Where the role keeps the settings of the configured serve scripts while the checkout moves.
      - Defaults to C(<repo_dir>.settings.patch).
    type: path
  eif_path:
    description: The installed enclave image.
    type: path
    required: true
  record_path:
    description:
      - The install record written next to the installed image.
      - Defaults to C(<eif_path>.json).
    type: path
  tars:
    description:
      - Method tars - the published image tars, relative to O(tars_folder). Their git blob IDs at C(HEAD) identify their
        content without reading gigabytes (RV(tars)).
    type: list
    elements: str
    default: []
  tars_folder:
    description: The folder of O(tars), relative to O(repo_dir).
    type: str
    default: ""
  docker_image:
    description: Method tars - the docker image the tars hold; its ID is compared with the last load's.
    type: str
  load_record:
    description: Method tars - the record the role writes after a C(docker load) (tars' blob IDs and the image ID).
    type: path
  packages:
    description:
      - The packages the role needs, by platform (C(debian), C(amazon2), C(amazon2023)); only the host's
        platform's list is checked.
    type: dict
    default: {}
extends_documentation_fragment:
  - opencontracts.enclave.attributes
  - opencontracts.enclave.attributes.read_only
requirements:
  - C(git) on the host for everything about the repository and the checkout (RV(git) says whether it is there).
notes:
  - C(git status) runs with C(GIT_OPTIONAL_LOCKS=0), so looking never rewrites the checkout's index, and every
    git command with C(GIT_TERMINAL_PROMPT=0), so a repository that asks for credentials fails instead of waiting.
  - Only regular files count as the installed image, its record, the requirements and the set-aside patch - a
    FIFO or a folder at one of these paths is reported as absent and never read.
seealso:
  - module: opencontracts.enclave.pcr_verify
  - module: opencontracts.enclave.enclave_build
author:
  - Open Contracts enclave collection contributors (@open-contracts)
"""

EXAMPLES = r"""
- name: Look at the host before changing anything
  opencontracts.enclave.enclave_build_facts:
    repo_url: https://github.com/open-contracts/enclave-protocol
    repo_version: 0123456789abcdef0123456789abcdef01234567
    repo_dir: /opt/opencontracts/enclave-protocol
    requirements_file: ec2_instance/requirements.txt
    venv_dir: /opt/opencontracts/venv
    eif_path: /opt/opencontracts/oracle.eif
    packages:
      debian: [git, python3-venv]
      amazon2023: [git, python3]
  register: __enclave_build_facts

- name: Move the checkout only when git would change it
  ansible.builtin.include_tasks: checkout.yml
  when: not __enclave_build_facts.checkout.current
"""

RETURN = r"""
platform:
  description: C(debian) (Debian, Ubuntu), C(amazon2), C(amazon2023) or C(unsupported), from C(/etc/os-release).
  returned: always
  type: str
  sample: debian
os_id:
  description: The C(ID) of C(/etc/os-release).
  returned: always
  type: str
  sample: debian
distribution:
  description: The C(NAME) of C(/etc/os-release).
  returned: always
  type: str
  sample: Debian GNU/Linux
distribution_version:
  description: The C(VERSION_ID) of C(/etc/os-release).
  returned: always
  type: str
  sample: "12"
architecture:
  description: The machine architecture.
  returned: always
  type: str
  sample: x86_64
in_container:
  description: Whether the host is a container.
  returned: always
  type: bool
  sample: false
packages_missing:
  description: The names of O(packages) for this platform that are not installed, in their order.
  returned: always
  type: list
  elements: str
  sample: [git]
apt_lists_stale:
  description: On Debian/Ubuntu, whether apt has no package lists or the newest is older than an hour; false elsewhere.
  returned: always
  type: bool
  sample: false
git:
  description: Whether C(git) is installed. When false, RV(remote) and RV(checkout) report nothing git would tell.
  returned: always
  type: bool
  sample: true
remote:
  description: What the repository advertises for O(repo_version).
  returned: always
  type: dict
  contains:
    reachable:
      description: Whether C(git ls-remote) answered (false when git is missing).
      type: bool
    pinned:
      description: Whether O(repo_version) is a full commit ID (40 hex digits).
      type: bool
    commit:
      description:
        - The commit the checkout should be at, lowercase - O(repo_version) itself when pinned, else what the
          repository advertises (a tag's peeled commit).
        - Empty when it is not known (unreachable, git missing, or a name the repository does not have).
      type: str
    error:
      description: Why the repository could not be asked (the first line of git's message), or null.
      type: str
  sample: {reachable: true, pinned: true, commit: 0123456789abcdef0123456789abcdef01234567, error: null}
checkout:
  description: The checkout at O(repo_dir).
  returned: always
  type: dict
  contains:
    exists:
      description: Whether O(repo_dir) holds a git checkout.
      type: bool
    head:
      description: Its C(HEAD) commit, or empty.
      type: str
    origin:
      description: Its C(remote.origin.url), or empty.
      type: str
    clean:
      description: Whether its tracked files are as committed (skip-worktree files aside).
      type: bool
    current:
      description:
        - Whether the checkout is what the git module would leave - git installed, the repository reachable, C(HEAD)
          at RV(remote.commit), clean, from O(repo_url).
      type: bool
    configured_files:
      description: The files marked skip-worktree (the serve scripts the serving roles configured), relative paths.
      type: list
      elements: str
    requirements_installed:
      description: Whether O(requirements_file) has the content of the copy kept in O(venv_dir) after the last install.
      type: bool
  sample:
    exists: true
    head: 0123456789abcdef0123456789abcdef01234567
    origin: https://github.com/open-contracts/enclave-protocol
    clean: true
    current: true
    configured_files: [oracle_enclave/serve_oracle.sh]
    requirements_installed: true
settings_set_aside:
  description: Whether O(settings_patch) exists - settings an earlier run set aside still wait to be put back.
  returned: always
  type: bool
  sample: false
installed_image:
  description: The image at O(eif_path) and its install record at O(record_path).
  returned: always
  type: dict
  contains:
    exists:
      description: Whether O(eif_path) is a regular file.
      type: bool
    sha256:
      description: Its SHA-256, or null.
      type: str
    mode:
      description: Its permission bits as four octal digits (C(0644)), or null.
      type: str
    record:
      description: The install record, parsed; null when missing or not JSON.
      type: dict
  sample: {exists: true, sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08, mode: "0644", record: {}}
tars:
  description: Method tars (O(tars) given) - the tars in the checkout, and whether docker holds what they hold.
  returned: always
  type: dict
  contains:
    blobs:
      description: Tar file name to its git blob ID at C(HEAD), for the tars the checkout has.
      type: dict
    missing:
      description: The names of O(tars) that are not in the checkout at C(HEAD) (or all, without git or checkout).
      type: list
      elements: str
    image_id:
      description: The ID of O(docker_image) as docker reports it, or empty (no docker, no such image).
      type: str
    loaded:
      description:
        - Whether the last load (O(load_record)) loaded exactly these blobs and docker still holds the image it
          loaded - no C(docker load) is needed.
      type: bool
  sample: {blobs: {oracle_enclave.tar: 5716ca5987cbf97d6bb54920bea6adde242d87e6}, missing: [], image_id: "sha256:1f2e", loaded: true}
up_to_date:
  description:
    - Whether the role has nothing to do before the build - no package missing, the checkout current, no settings set
      aside, the requirements installed.
  returned: always
  type: bool
  sample: true
"""

import json
import os
import posixpath
import re
import stat

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.opencontracts.enclave.plugins.module_utils import host_state

COMMIT_RE = re.compile(r"^[0-9a-fA-F]{40}$")
# git never waits for credentials, and looking never takes the index lock.
GIT_ENVIRONMENT = dict(host_state.C_LOCALE, GIT_TERMINAL_PROMPT="0", GIT_OPTIONAL_LOCKS="0")


def read_regular(path, limit=None):
    """The bytes of a regular file, or None (missing, or not a regular file: a FIFO would block)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
        with open(path, "rb") as handle:
            return handle.read() if limit is None else handle.read(limit)
    except OSError:
        return None


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


def first_line(text):
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else ""


def ask_remote(module, git, url, version):
    """``{reachable, pinned, commit, error}`` from ``git ls-remote``."""
    rc, out, err = module.run_command(
        [git, "ls-remote", "--", url, version, version + "^{}"], environ_update=GIT_ENVIRONMENT)
    if rc != 0:
        return {"reachable": False, "pinned": bool(COMMIT_RE.match(version)), "commit": "",
                "error": first_line(err) or first_line(out) or "git ls-remote exited with status %d" % rc}
    return {"reachable": True, "pinned": bool(COMMIT_RE.match(version)),
            "commit": wanted_commit(version, out), "error": None}


def git_output(module, git, repo_dir, args):
    """A git command's stdout in the checkout, or None when it failed."""
    rc, out, dummy_err = module.run_command([git] + args, cwd=repo_dir, environ_update=GIT_ENVIRONMENT)
    return out if rc == 0 else None


def describe_checkout(module, git, params, remote):
    repo_dir = params["repo_dir"]
    result = {"exists": False, "head": "", "origin": "", "clean": False, "current": False,
              "configured_files": [], "requirements_installed": False}
    if not os.path.isdir(repo_dir) or not os.path.exists(os.path.join(repo_dir, ".git")):
        return result
    result["exists"] = True
    if git is None:
        return result
    result["head"] = (git_output(module, git, repo_dir, ["rev-parse", "--verify", "-q", "HEAD"]) or "").strip()
    result["origin"] = (git_output(module, git, repo_dir, ["config", "--get", "remote.origin.url"]) or "").strip()
    listed = git_output(module, git, repo_dir, ["ls-files", "-v"]) or ""
    result["configured_files"] = [line[2:] for line in listed.splitlines() if line.startswith("S ")]
    status = git_output(module, git, repo_dir, ["status", "--porcelain", "--untracked-files=no"])
    result["clean"] = status is not None and status.strip() == ""
    installed = read_regular(os.path.join(params["venv_dir"], ".requirements.txt"))
    result["requirements_installed"] = (
        installed is not None and installed == read_regular(os.path.join(repo_dir, params["requirements_file"])))
    result["current"] = bool(
        remote["reachable"] and remote["commit"] and result["head"] == remote["commit"]
        and result["clean"] and result["origin"] == params["repo_url"])
    return result


def describe_image(eif_path, record_path):
    described = host_state.describe_file(eif_path)
    record = None
    text = read_regular(record_path, limit=1 << 20)
    if text is not None:
        try:
            record = json.loads(text.decode("utf-8"))
        except ValueError:
            record = None
    return {"exists": described["exists"], "sha256": described["checksum"], "mode": described["mode"],
            "record": record if isinstance(record, dict) else None}


def describe_tars(module, git, params, checkout):
    """Method tars: the tars' blob IDs at HEAD, docker's image ID, and whether the last load matches both."""
    names = [posixpath.basename(path) for path in params["tars"]]
    paths = [posixpath.join(params["tars_folder"], path) for path in params["tars"]]
    blobs = {}
    if paths and git is not None and checkout["exists"]:
        # `git ls-tree` prints "<mode> blob <id>TAB<path>" for each path it has.
        listed = git_output(module, git, params["repo_dir"], ["ls-tree", "HEAD", "--"] + paths) or ""
        for line in listed.splitlines():
            meta, dummy, path = line.partition("\t")
            fields = meta.split()
            if len(fields) == 3 and fields[1] == "blob":
                blobs[posixpath.basename(path)] = fields[2]
    image_id = ""
    docker = module.get_bin_path("docker") if params["docker_image"] else None
    if docker:
        rc, out, dummy_err = module.run_command([docker, "image", "inspect", "--format", "{{.Id}}", "--",
                                                 params["docker_image"]], environ_update=host_state.C_LOCALE)
        image_id = out.strip() if rc == 0 else ""
    last = None
    if params["load_record"]:
        text = read_regular(params["load_record"], limit=1 << 20)
        try:
            last = json.loads(text.decode("utf-8")) if text is not None else None
        except ValueError:
            last = None
    last = last if isinstance(last, dict) else {}
    return {"blobs": blobs, "missing": [name for name in names if name not in blobs], "image_id": image_id,
            "loaded": bool(image_id) and last.get("tars") == blobs and last.get("image_id") == image_id}


def gather(module, params):
    facts = host_state.platform_facts()
    platform = facts["platform"]
    wanted = (params["packages"] or {}).get(platform) or []
    facts["packages_missing"] = host_state.packages_missing(module, platform, list(wanted))
    facts["apt_lists_stale"] = platform == "debian" and host_state.apt_lists_stale()

    git = module.get_bin_path("git")
    facts["git"] = git is not None
    if git is None:
        facts["remote"] = {"reachable": False, "pinned": bool(COMMIT_RE.match(params["repo_version"])),
                           "commit": "", "error": "git is not installed"}
    else:
        facts["remote"] = ask_remote(module, git, params["repo_url"], params["repo_version"])
    facts["checkout"] = describe_checkout(module, git, params, facts["remote"])

    patch = params["settings_patch"] or params["repo_dir"].rstrip("/") + ".settings.patch"
    facts["settings_set_aside"] = os.path.isfile(patch)
    facts["installed_image"] = describe_image(params["eif_path"], params["record_path"] or params["eif_path"] + ".json")
    facts["tars"] = describe_tars(module, git, params, facts["checkout"])
    facts["up_to_date"] = (not facts["packages_missing"] and facts["checkout"]["current"]
                           and facts["checkout"]["requirements_installed"] and not facts["settings_set_aside"])
    return facts


def main():
    module = AnsibleModule(
        argument_spec=dict(
            repo_url=dict(type="str", required=True),
            repo_version=dict(type="str", required=True),
            repo_dir=dict(type="path", required=True),
            requirements_file=dict(type="str", required=True),
            venv_dir=dict(type="path", required=True),
            settings_patch=dict(type="path"),
            eif_path=dict(type="path", required=True),
            record_path=dict(type="path"),
            tars=dict(type="list", elements="str", default=[]),
            tars_folder=dict(type="str", default=""),
            docker_image=dict(type="str"),
            load_record=dict(type="path"),
            packages=dict(type="dict", default={}),
        ),
        supports_check_mode=True,
    )
    # Values the role's preflight judges (URL, paths) are only read here: that check comes with its messages.
    bad = [name for name, names in module.params["packages"].items() if not isinstance(names, list)]
    if bad:
        module.fail_json(msg="packages: the value for %s must be a list of package names" % ", ".join(sorted(bad)),
                         changed=False)
    module.exit_json(changed=False, **gather(module, module.params))


if __name__ == "__main__":
    main()
