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
  tars_are_parts:
    description:
      - Whether O(tars) are the consecutive parts of one archive, joined in the order given.
      - When false (the default) each name of O(tars) is a published image tar found in any form the protocol
        stores it in - C(<name>.tar), C(<name>.tar.gz), or the parts C(<name>.tar.gzaa), C(<name>.tar.gzab), ...
        of C(split)'s default suffixes (RV(tars.archives)).
    type: bool
    default: false
  tars_variable:
    description: The variable that names O(tars), for the messages of RV(contract).
    type: str
    default: tars
  contract:
    description:
      - What the roles rely on in the checkout, checked at C(HEAD)'s work tree (RV(contract)); each entry names the
        variable that adapts it.
      - C(path) (required) a file relative to O(repo_dir) that must be a regular file; C(variable) (required) the
        variable to change when upstream differs; C(settings) names that must each have exactly one top-level
        C(NAME=) line in it; C(mentions) words the file is expected to contain (a difference is only a note).
    type: list
    elements: dict
    default: []
  docker_image:
    description: Method tars - the docker image the tars hold; its ID is compared with the last load's.
    type: str
  load_record:
    description: Method tars - the record the role writes after a C(docker load) (tars' blob IDs and the image ID).
    type: path
  source_record:
    description: Method source - the record the role writes after a build from source (the commit it was built from).
    type: path
  source_output:
    description: Method source - the EIF the last build from source left (RV(source.output_exists)).
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
          at RV(remote.commit), clean, from O(repo_url) - full or sparse, see RV(checkout.sparse).
      type: bool
    sparse:
      description:
        - Its sparse-checkout patterns (M(opencontracts.enclave.sparse_checkout)) when git's C(core.sparseCheckout) is
          true; empty for a full checkout.
      type: list
      elements: str
    configured_files:
      description:
        - The files marked skip-worktree (the serve scripts the serving roles configured), relative paths.
        - In a sparse checkout git marks the files it leaves out skip-worktree too; only files in the work tree count.
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
    sparse: []
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
      description: File name to its git blob ID at C(HEAD), for every file of RV(tars.archives).
      type: dict
    archives:
      description:
        - One entry per archive to load - C(name) (of O(tars)), C(form) (C(tar), C(tar.gz), C(parts), or null when not
          found), C(files) (absolute paths, in the order they are joined) and C(problem) (why it cannot be loaded, or
          null).
      type: list
      elements: dict
    missing:
      description: The names of O(tars) that are not in the checkout at C(HEAD) in any form (or all, without git or checkout).
      type: list
      elements: str
    problems:
      description: One sentence per archive that cannot be loaded (not found, a part missing, an LFS pointer).
      type: list
      elements: str
    lfs:
      description:
        - C(pointers) - files of RV(tars.archives) that are git LFS pointer files in the work tree (not pulled);
          C(declared) - whether the checkout's attributes give them C(filter=lfs) (C(git lfs pull) fetches them);
          C(installed) - whether C(git lfs) works on this host.
      type: dict
    image_id:
      description: The ID of O(docker_image) as docker reports it, or empty (no docker, no such image).
      type: str
    loaded:
      description:
        - Whether the last load (O(load_record)) loaded exactly these blobs and docker still holds the image it
          loaded - no C(docker load) is needed.
      type: bool
  sample: {blobs: {oracle_enclave.tar: 5716ca5987cbf97d6bb54920bea6adde242d87e6}, missing: [], image_id: "sha256:1f2e", loaded: true}
contract:
  description:
    - The differences between the checkout and what the roles rely on (O(contract), and the image tars of O(tars)), one
      entry per difference - C(what) (a sentence), C(variable) (the variable that adapts it) and C(message) (both in
      one sentence). Empty when the checkout has everything, or there is no checkout.
  returned: always
  type: list
  elements: dict
  sample:
    - what: oracle_enclave/serve_oracle.sh has no top-level PRICE= line
      variable: oracle_service_append_missing
      message: oracle_enclave/serve_oracle.sh has no top-level PRICE= line (adapt oracle_service_append_missing)
contract_notes:
  description: Smaller differences worth a warning (a script that does not mention a name of O(contract)'s C(mentions)).
  returned: always
  type: list
  elements: str
source:
  description: Method source (O(source_record) given) - the last build from source.
  returned: always
  type: dict
  contains:
    commit:
      description: The commit O(source_record) names, or null (no record, or not JSON).
      type: str
    output_exists:
      description: Whether O(source_output) is a regular file.
      type: bool
    current:
      description:
        - Whether the last build from source is of the commit the version names now (RV(remote.commit)) and its EIF is
          still there; when false the role builds again.
      type: bool
  sample: {commit: 0123456789abcdef0123456789abcdef01234567, output_exists: true, current: true}
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
import stat

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.opencontracts.enclave.plugins.module_utils import git_checkout, host_state, image_tars, serve_script

COMMIT_RE = git_checkout.COMMIT_RE
GIT_ENVIRONMENT = git_checkout.GIT_ENVIRONMENT


def read_regular(path, limit=None):
    """The bytes of a regular file, or None (missing, or not a regular file: a FIFO would block)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
        with open(path, "rb") as handle:
            return handle.read() if limit is None else handle.read(limit)
    except OSError:
        return None


wanted_commit = git_checkout.wanted_commit


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
    result = {"exists": False, "head": "", "origin": "", "clean": False, "current": False, "sparse": [],
              "configured_files": [], "requirements_installed": False}
    if not os.path.isdir(repo_dir) or not os.path.exists(os.path.join(repo_dir, ".git")):
        return result
    result["exists"] = True
    if git is None:
        return result
    result["head"] = (git_output(module, git, repo_dir, ["rev-parse", "--verify", "-q", "HEAD"]) or "").strip()
    result["origin"] = (git_output(module, git, repo_dir, ["config", "--get", "remote.origin.url"]) or "").strip()
    enabled = (git_output(module, git, repo_dir, ["config", "--bool", "--get", "core.sparseCheckout"]) or "").strip()
    result["sparse"] = git_checkout.sparse_patterns(repo_dir, enabled == "true")
    listed = git_output(module, git, repo_dir, ["ls-files", "-v"]) or ""
    result["configured_files"] = git_checkout.configured_files(repo_dir, listed, bool(result["sparse"]))
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


def head_listing(module, git, repo_dir, folder):
    """File name to git blob ID for the files of ``folder`` at HEAD."""
    spec = folder.rstrip("/") + "/" if folder else "."
    listed = git_output(module, git, repo_dir, ["ls-tree", "HEAD", "--", spec]) or ""
    blobs = {}
    for line in listed.splitlines():
        meta, dummy, path = line.partition("\t")
        fields = meta.split()
        if len(fields) == 3 and fields[1] == "blob":
            blobs[posixpath.basename(path)] = fields[2]
    return blobs


def describe_lfs(module, git, repo_dir, paths):
    """``{pointers, declared, installed}`` for the files ``paths`` (relative to ``repo_dir``)."""
    pointers = []
    for path in paths:
        head = read_regular(os.path.join(repo_dir, path), limit=image_tars.LFS_POINTER_MAX)
        if head is not None and image_tars.is_lfs_pointer(head):
            pointers.append(path)
    declared = False
    if pointers:
        # `git check-attr` prints "<path>: filter: lfs" for each path .gitattributes gives to LFS.
        attributes = git_output(module, git, repo_dir, ["check-attr", "filter", "--"] + pointers) or ""
        declared = all(line.endswith(": filter: lfs") for line in attributes.splitlines()) and bool(attributes.strip())
    rc, dummy_out, dummy_err = module.run_command([git, "lfs", "version"], environ_update=GIT_ENVIRONMENT)
    return {"pointers": pointers, "declared": declared, "installed": rc == 0}


def describe_tars(module, git, params, checkout):
    """Method tars: the archives in the checkout, their blob IDs, docker's image ID, and whether the last load matches."""
    folder = params["tars_folder"]
    listing = {}
    if params["tars"] and git is not None and checkout["exists"]:
        listing = head_listing(module, git, params["repo_dir"], folder)
    if params["tars_are_parts"]:
        absent = [name for name in params["tars"] if name not in listing]
        found = [{"name": params["tars"][0] if params["tars"] else "", "form": None if absent else "parts",
                  "files": list(params["tars"]),
                  "problem": "%s not there" % ", ".join(absent) if absent else None}] if params["tars"] else []
    else:
        found = [image_tars.find_archive(listing, name) for name in params["tars"]]
    blobs = {}
    for archive in found:
        for name in archive["files"]:
            if name in listing:
                blobs[name] = listing[name]
    relative = [posixpath.join(folder, name) for archive in found for name in archive["files"] if name in listing]
    lfs = describe_lfs(module, git, params["repo_dir"], relative) if relative else {
        "pointers": [], "declared": False, "installed": False}
    problems = []
    archives = []
    for archive in found:
        problem = archive["problem"]
        pointed = [name for name in archive["files"] if posixpath.join(folder, name) in lfs["pointers"]]
        if problem is None and pointed:
            problem = "%s %s git LFS pointer file%s, not the image (%s)" % (
                ", ".join(pointed), "is a" if len(pointed) == 1 else "are", "" if len(pointed) == 1 else "s",
                "git lfs pull fetches it" if lfs["declared"] else "the checkout does not declare them for git LFS")
        if problem:
            problems.append("%s: %s" % (archive["name"], problem))
        archives.append({"name": archive["name"], "form": archive["form"], "problem": problem,
                         "files": [os.path.join(params["repo_dir"], folder, name) for name in archive["files"]]})
    image_id = ""
    docker = module.get_bin_path("docker") if params["docker_image"] else None
    if docker:
        rc, out, dummy_err = module.run_command([docker, "image", "inspect", "--format", "{{.Id}}", "--",
                                                 params["docker_image"]], environ_update=host_state.C_LOCALE)
        image_id = out.strip() if rc == 0 else ""
    last = read_json_object(params["load_record"])
    return {"blobs": blobs, "archives": archives, "problems": problems, "lfs": lfs,
            "missing": [archive["name"] for archive in found if archive["form"] is None and archive["problem"]],
            "image_id": image_id,
            "loaded": bool(image_id) and last.get("tars") == blobs and last.get("image_id") == image_id}


def read_json_object(path):
    """A JSON object from a regular file, else an empty dict."""
    text = read_regular(path, limit=1 << 20) if path else None
    try:
        value = json.loads(text.decode("utf-8")) if text is not None else None
    except ValueError:
        value = None
    return value if isinstance(value, dict) else {}


def describe_source_build(params, remote):
    """The last build from source: the commit of its record, and whether its EIF is there."""
    commit = read_json_object(params["source_record"]).get("commit") if params["source_record"] else None
    commit = commit if isinstance(commit, str) and commit else None
    output = read_regular(params["source_output"], limit=0) if params["source_output"] else None
    return {"commit": commit, "output_exists": output is not None,
            "current": output is not None and commit is not None and commit == remote["commit"]}


def check_contract(params, checkout, tars):
    """(differences, notes): what the checkout lacks of O(contract) and O(tars)."""
    differences, notes = [], []
    if not checkout["exists"]:
        return differences, notes
    for index, entry in enumerate(params["contract"]):
        path, variable = entry.get("path"), entry.get("variable")
        if not isinstance(path, str) or not path or not isinstance(variable, str):
            raise ValueError("contract[%d] needs a path and a variable (strings), got %r" % (index, entry))
        text = read_regular(os.path.join(params["repo_dir"], path), limit=1 << 20)
        if text is None:
            differences.append({"what": "%s is not in the checkout" % path, "variable": variable})
            continue
        lines = text.decode("utf-8", "replace").splitlines()
        assigned = serve_script.find_assignments(lines)
        for name in entry.get("settings") or []:
            count = len(assigned.get(name, []))
            if count != 1:
                lines_word = "line" if count < 2 else "lines"
                differences.append({
                    "what": "%s has %s top-level %s= %s" % (path, "no" if count == 0 else count, name, lines_word),
                    "variable": entry.get("settings_variable") or variable})
        body = "\n".join(lines)
        unmentioned = [word for word in entry.get("mentions") or [] if word not in body]
        if unmentioned:
            notes.append("%s does not mention %s: upstream may have renamed them (%s)"
                         % (path, ", ".join(unmentioned), variable))
    for problem in tars["problems"]:
        differences.append({"what": problem, "variable": params["tars_variable"]})
    for difference in differences:
        difference["message"] = "%s (adapt %s)" % (difference["what"], difference["variable"])
    return differences, notes


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
    facts["source"] = describe_source_build(params, facts["remote"])
    facts["contract"], facts["contract_notes"] = check_contract(params, facts["checkout"], facts["tars"])
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
            tars_are_parts=dict(type="bool", default=False),
            tars_variable=dict(type="str", default="tars"),
            contract=dict(type="list", elements="dict", default=[]),
            docker_image=dict(type="str"),
            load_record=dict(type="path"),
            source_record=dict(type="path"),
            source_output=dict(type="path"),
            packages=dict(type="dict", default={}),
        ),
        supports_check_mode=True,
    )
    # Values the role's preflight judges (URL, paths) are only read here: that check comes with its messages.
    bad = [name for name, names in module.params["packages"].items() if not isinstance(names, list)]
    if bad:
        module.fail_json(msg="packages: the value for %s must be a list of package names" % ", ".join(sorted(bad)),
                         changed=False)
    try:
        facts = gather(module, module.params)
    except ValueError as exc:
        module.fail_json(msg=str(exc), changed=False)
    module.exit_json(changed=False, **facts)


if __name__ == "__main__":
    main()
