#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: enclave_build
short_description: Build an enclave image (EIF) from a docker image, only when something changed
version_added: 0.1.0
description:
  - Builds an Enclave Image Format (EIF) file with C(nitro-cli build-enclave) from a docker image in the
    host's image store (or from a docker build folder), non-interactively and with a time limit.
  - Idempotent. Next to the EIF the module keeps a build record, C(<output_file>.build.json), with the docker
    image ID, the inputs, the measurements and the build time. When O(output_file) exists, is an intact EIF
    (its CRC matches), measures to the recorded PCRs, measures to one of O(allowed_pcr0) (when given) and was
    built from the same inputs (the same docker image ID, build folder content, signing certificate, name and
    version), nothing is built. O(force) builds anyway.
  - The new EIF is written to a temporary file in the same folder and moved over O(output_file) only once
    nitro-cli succeeded and the file measures to what nitro-cli reported; a failed or stopped build leaves the
    previous EIF untouched.
  - The module does not fail when the PCR0 of a new image is not one of O(allowed_pcr0); it warns and returns
    RV(matched_pcr0=null). Refuse such images with M(opencontracts.enclave.pcr_verify).
  - Builds of large images take many minutes. Run the task with C(async) so that it does not depend on the
    connection staying up, and limit it with O(timeout).
options:
  docker_uri:
    description:
      - The docker image to build from, for example C(oracle_enclave:latest).
      - It must be in the host's local image store (load published image tars with C(docker load) first) unless
        O(docker_dir) is given or nitro-cli can pull it.
    type: str
    required: true
  docker_dir:
    description:
      - A folder with a C(Dockerfile). nitro-cli builds the docker image from it first and tags it O(docker_uri).
      - The module records a digest of the folder's content; a changed folder is built again.
      - Docker builds are rarely reproducible, so the PCR0 of an image built this way usually differs from the
        values a protocol publishes.
    type: path
  output_file:
    description:
      - Where the EIF is written. Its folder must exist.
      - The build record is written next to it as C(<output_file>.build.json).
    type: path
    required: true
  allowed_pcr0:
    description:
      - PCR0 values that are permitted (96 hexadecimal characters each, case-insensitive).
      - An existing EIF whose PCR0 is not one of them is built again. Without this option any PCR0 counts.
    type: list
    elements: str
  signing_certificate:
    description:
      - An X509 certificate (PEM) to sign the EIF with; the image then has a PCR8.
      - Requires O(private_key). A different certificate (by content) builds again.
    type: path
  private_key:
    description:
      - The EC private key (PEM) matching O(signing_certificate). Its path is recorded, never its content.
    type: path
  image_name:
    description: The image name written to the EIF's metadata (C(--name)); nitro-cli derives one from O(docker_uri) when not set.
    type: str
  image_version:
    description: The image version written to the EIF's metadata (C(--version)).
    type: str
  timeout:
    description:
      - Longest time a build may take, in seconds. nitro-cli is stopped (TERM, then KILL 30 seconds later) when it
        runs over, and the module fails. V(0) means no limit.
      - Uses the C(timeout) command of GNU coreutils on the managed host.
    type: int
    default: 3600
  artifacts_dir:
    description:
      - The folder nitro-cli keeps its intermediate build artifacts in (C(NITRO_CLI_ARTIFACTS)); it is created when
        missing and kept.
      - By default a temporary folder next to O(output_file) is used and removed after the build, so the large
        intermediate files do not stay on the disk.
    type: path
  force:
    description: Build even when the existing EIF is up to date.
    type: bool
    default: false
  image_tars:
    description:
      - Published image tars to C(docker load) before anything else; one entry per archive, each a dict with C(files),
        the archive's files (absolute paths) in the order they are joined, and optionally C(name) for messages (the
        entries of M(opencontracts.enclave.enclave_build_facts)' C(tars.archives) fit as they are).
      - The files are joined in order (the protocol's C(split) parts), decompressed when gzip, unwrapped when the archive
        is a tar holding the image tar (the protocol's C(tar -czf - X.tar)), and streamed into C(docker load) - never
        held in memory or written to the disk joined.
      - After loading, O(docker_uri) must be in docker's image store, else the module fails and names what was loaded.
      - Loads in check mode are reported (RV(loaded)) but not done.
    type: list
    elements: dict
    default: []
extends_documentation_fragment:
  - opencontracts.enclave.attributes
attributes:
  check_mode:
    support: full
    details: Reports whether a build would run (C(changed)) and why (RV(reasons)); builds and writes nothing.
  diff_mode:
    support: full
    details: Shows the build record before and after.
  platform:
    details: Runs on the Nitro Enclaves parent instance (or any Linux host with nitro-cli, its blobs and docker).
requirements:
  - C(nitro-cli) (aws-nitro-enclaves-cli) and its blobs (aws-nitro-enclaves-cli-devel) on the managed host.
  - A running docker daemon that the user may use (group C(docker)).
  - C(timeout) from GNU coreutils, unless O(timeout=0).
  - The Python package C(cbor2) to measure signed EIFs; without it the module asks C(nitro-cli describe-eif).
notes:
  - The docker image ID comes from C(docker image inspect). When docker cannot be asked in check mode, the module
    warns and reports that a build would run.
  - RV(build_seconds) is the duration of the build run by this task (V(0) when nothing was built); the record keeps
    the duration of the build that produced the EIF.
seealso:
  - module: opencontracts.enclave.pcr_verify
  - name: Building enclave images
    description: The AWS Nitro Enclaves user guide on C(nitro-cli build-enclave).
    link: https://docs.aws.amazon.com/enclaves/latest/user/cmd-nitro-build-enclave.html
author:
  - Open Contracts enclave collection contributors (@open-contracts)
"""

EXAMPLES = r"""
- name: Load the published image of the oracle enclave
  ansible.builtin.command:
    argv: [docker, load, -i, /opt/opencontracts/enclave-protocol/oracle_enclave/oracle_enclave.tar]
  changed_when: true

- name: Build the oracle's enclave image, only when the image or the allow-list changed
  opencontracts.enclave.enclave_build:
    docker_uri: oracle_enclave:latest
    output_file: /var/lib/opencontracts/enclave_build/oracle.eif
    allowed_pcr0:
      - ba19b0568898f7eed74c911b29cccd6d026f918fa77953a705f142d06d33f51dfb00bda8f4e90e13755374548b0430e4
      - a5e152ec8d45c1d137a7823e8edbb236dc010823a3b06506ca493ec35d9197ecf335868900bf6ab40156874d6fcbd0ad
    timeout: 3600
  # A build takes many minutes: do not hold the SSH connection for it.
  async: 3700
  poll: 15
  register: oracle_build

- name: Show what was built
  ansible.builtin.debug:
    msg: "PCR0 {{ oracle_build.measurements.PCR0 }}, {{ oracle_build.size }} bytes, built in {{ oracle_build.build_seconds }} s"

- name: Build and sign an image from a docker build folder
  opencontracts.enclave.enclave_build:
    docker_uri: registry_enclave:dev
    docker_dir: /opt/opencontracts/enclave-protocol/registry_enclave
    output_file: /var/lib/opencontracts/enclave_build/registry-dev.eif
    signing_certificate: /etc/opencontracts/signing/cert.pem
    private_key: /etc/opencontracts/signing/key.pem
    image_name: registry
    image_version: dev

- name: Would a build run?
  opencontracts.enclave.enclave_build:
    docker_uri: oracle_enclave:latest
    output_file: /var/lib/opencontracts/enclave_build/oracle.eif
  check_mode: true
  register: pending

- name: Always build again
  opencontracts.enclave.enclave_build:
    docker_uri: oracle_enclave:latest
    output_file: /var/lib/opencontracts/enclave_build/oracle.eif
    force: true
"""

RETURN = r"""
built:
  description: Whether nitro-cli built the image in this run (always false in check mode).
  returned: always
  type: bool
  sample: true
reasons:
  description: Why a build ran or would run; empty when the existing EIF was up to date.
  returned: always
  type: list
  elements: str
  sample: ["the docker image changed: the EIF was built from sha256:5e1c..., oracle_enclave:latest is now sha256:9a07..."]
eif_path:
  description: The EIF file (O(output_file)).
  returned: always
  type: str
  sample: /var/lib/opencontracts/enclave_build/oracle.eif
record_path:
  description: The build record next to the EIF.
  returned: always
  type: str
  sample: /var/lib/opencontracts/enclave_build/oracle.eif.build.json
measurements:
  description:
    - The PCRs of the EIF (new, or existing when nothing was built), lowercase hex. C(PCR8) only for signed images.
    - Empty in check mode when no EIF exists yet.
  returned: always
  type: dict
  sample:
    PCR0: ba19b0568898f7eed74c911b29cccd6d026f918fa77953a705f142d06d33f51dfb00bda8f4e90e13755374548b0430e4
    PCR1: bcdf05fefccaa8e55bf2c8d6dee9e79bbff31e34bf28a99aa19e6b29c37ee80b214a414b7607236edf26fcb78654e63f
    PCR2: 21b9efbc184807662e966d34f390821309eeac6802309798826296bf3e8bec7c10edb30948c90ba67310f7b964fc500a
matched_pcr0:
  description: The entry of O(allowed_pcr0) that PCR0 equals, or null (no match, no allow-list, or nothing measured).
  returned: always
  type: str
  sample: ba19b0568898f7eed74c911b29cccd6d026f918fa77953a705f142d06d33f51dfb00bda8f4e90e13755374548b0430e4
size:
  description: Size of the EIF in bytes (null when there is none).
  returned: always
  type: int
  sample: 3254747136
image_id:
  description: ID of the docker image the EIF was (or would be) built from, from C(docker image inspect); null when unknown.
  returned: always
  type: str
  sample: sha256:5e1c0de0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c
build_seconds:
  description: Wall time of the build run by this task, in seconds; V(0) when nothing was built.
  returned: always
  type: float
  sample: 412.7
record:
  description: The build record of the EIF (what C(<output_file>.build.json) holds); null when there is none.
  returned: always
  type: dict
  sample:
    format: 1
    docker_uri: oracle_enclave:latest
    image_id: sha256:5e1c0de0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c
    docker_dir: null
    docker_dir_digest: null
    signing_certificate: null
    signing_certificate_sha256: null
    private_key: null
    image_name: null
    image_version: null
    measurements: {PCR0: ba19b0568898f7eed74c911b29cccd6d026f918fa77953a705f142d06d33f51dfb00bda8f4e90e13755374548b0430e4}
    size: 3254747136
    build_seconds: 412.7
    built_at: "2024-05-02T10:31:07Z"
loaded:
  description: The C(Loaded image) lines of C(docker load), one per archive of O(image_tars) loaded in this run.
  returned: always
  type: list
  elements: str
  sample: ["Loaded image: oracle_enclave:latest"]
nitro_cli_error:
  description: The first C(Enn) code nitro-cli reported (the cause), when the build failed with one.
  returned: on nitro-cli failure
  type: str
  sample: E50
hint:
  description: What to do about the nitro-cli failure.
  returned: on nitro-cli failure
  type: str
  sample: "the docker image is not in the local image store and could not be pulled: load it first (docker load -i <tar>) ..."
"""

import datetime
import hashlib
import json
import os
import shutil
import stat
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.opencontracts.enclave.plugins.module_utils.eif import (
    EifDependencyError,
    EifError,
    measure,
    normalize_pcr,
)
from ansible_collections.opencontracts.enclave.plugins.module_utils.image_tars import (
    ImageTarError,
    archive_chunks,
    docker_load,
)
from ansible_collections.opencontracts.enclave.plugins.module_utils.nitro_cli import (
    NitroCliError,
    build_enclave,
    run_nitro_cli,
)

RECORD_FORMAT = 1
RECORD_SUFFIX = ".build.json"
C_LOCALE = {"LANG": "C", "LC_ALL": "C", "LC_MESSAGES": "C"}
# The record keys that describe what an EIF was built from: any difference builds again.
INPUT_KEYS = ("docker_uri", "image_id", "docker_dir", "docker_dir_digest", "signing_certificate_sha256", "private_key",
              "image_name", "image_version")
INPUT_LABELS = {
    "docker_uri": "the docker image reference",
    "image_id": "the docker image",
    "docker_dir": "the docker build folder",
    "docker_dir_digest": "the content of the docker build folder",
    "signing_certificate_sha256": "the signing certificate",
    "private_key": "the private key path",
    "image_name": "image_name",
    "image_version": "image_version",
}


class BuildError(Exception):
    """A failure with a message for the operator; ``extra`` holds result keys."""

    def __init__(self, msg, **extra):
        self.msg = msg
        self.extra = extra
        super(BuildError, self).__init__(msg)


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def tree_digest(root):
    """SHA-256 over the names, types, modes and contents of everything under ``root`` (symlinks not followed)."""
    digest = hashlib.sha256()

    def walk(folder, prefix):
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name)
            relative = prefix + name
            info = os.lstat(path)
            mode = "%o" % stat.S_IMODE(info.st_mode)
            if stat.S_ISLNK(info.st_mode):
                digest.update(("L %s %s\0" % (relative, os.readlink(path))).encode("utf-8", "surrogateescape"))
            elif stat.S_ISDIR(info.st_mode):
                digest.update(("D %s %s\0" % (relative, mode)).encode("utf-8", "surrogateescape"))
                walk(path, relative + "/")
            elif stat.S_ISREG(info.st_mode):
                digest.update(("F %s %s %s\0" % (relative, mode, sha256_file(path))).encode("utf-8", "surrogateescape"))
            else:
                digest.update(("O %s %s\0" % (relative, mode)).encode("utf-8", "surrogateescape"))

    walk(root, "")
    return digest.hexdigest()


def normalize_allowed(values):
    if not values:
        return None
    return [normalize_pcr(value if isinstance(value, str) else str(value), "allowed_pcr0[%d]" % index)
            for index, value in enumerate(values)]


def matched(measurements, allowed):
    pcr0 = (measurements or {}).get("PCR0")
    if allowed is None or pcr0 is None:
        return None
    return pcr0 if pcr0 in allowed else None


def docker_image_id(module, reference):
    """(image ID or None, problem or None): None/None when docker has no such image."""
    docker = module.get_bin_path("docker", required=False)
    if not docker:
        return None, "docker is not installed on this host"
    rc, out, err = module.run_command([docker, "image", "inspect", reference], environ_update=C_LOCALE, check_rc=False)
    text = (err or "") + (out or "")
    if rc != 0:
        if "no such image" in text.lower():
            return None, None
        return None, "docker image inspect %s failed (exit status %s): %s" % (reference, rc, (err or out or "no output").strip())
    try:
        data = json.loads(out)
        image_id = data[0]["Id"]
    except (ValueError, KeyError, IndexError, TypeError):
        return None, "docker image inspect %s printed something that is not an image description: %r" % (reference, (out or "")[:200])
    if not isinstance(image_id, str) or not image_id:
        return None, "docker image inspect %s printed no image ID" % reference
    return image_id, None


def archive_files(params):
    """[(label, files)] of O(image_tars); raise BuildError on an entry that is not one."""
    archives = []
    for index, entry in enumerate(params["image_tars"]):
        files = entry.get("files")
        if not isinstance(files, list) or not files or not all(isinstance(name, str) and name for name in files):
            raise BuildError("image_tars[%d] needs files, a list of the archive's files in order; got %r" % (index, entry))
        problem = entry.get("problem")
        if problem:
            raise BuildError("image_tars[%d] (%s) cannot be loaded: %s" % (index, entry.get("name") or files[0], problem))
        archives.append((entry.get("name") or os.path.basename(files[0]), files))
    return archives


def load_image_tars(module, params, archives):
    """Stream every archive into docker load; the lines docker printed. Raise BuildError."""
    docker = module.get_bin_path("docker", required=False)
    if not docker:
        raise BuildError("docker is not installed on this host: the image tars cannot be loaded")
    loaded = []
    for label, files in archives:
        missing = [name for name in files if not os.path.isfile(name)]
        if missing:
            raise BuildError("%s: %s not there" % (label, ", ".join(missing)))
        try:
            lines = docker_load(docker, archive_chunks(files), environ=dict(os.environ, **C_LOCALE))
        except ImageTarError as exc:
            raise BuildError("loading %s (%s) failed: %s" % (label, ", ".join(os.path.basename(name) for name in files), exc))
        loaded += [line for line in lines if line.startswith("Loaded image")]
    return loaded


def measure_eif(module, path):
    """The measurements, CRC state and size of the EIF at ``path``; raise EifError / OSError / NitroCliError."""
    try:
        measurement = measure(path, require_crc=False)
        return dict(measurement.measurements), measurement.crc_ok, measurement.size
    except EifDependencyError:
        # A signed image and no cbor2 on the host: nitro-cli measures it as well.
        described = run_nitro_cli(module, ["describe-eif", "--eif-path", path])
        raw = described.get("Measurements") if isinstance(described, dict) else None
        if not isinstance(raw, dict) or "PCR0" not in raw:
            raise NitroCliError("nitro-cli describe-eif printed no measurements for %s" % path)
        measurements = dict((str(k), str(v).strip().lower()) for k, v in raw.items() if str(k).startswith("PCR"))
        return measurements, bool(described.get("CheckCRC", False)), os.path.getsize(path)


def read_record(path):
    """The build record at ``path``: (dict or None, problem or None)."""
    if not os.path.exists(path):
        return None, "there is no build record %s" % path
    try:
        with open(path) as handle:
            record = json.load(handle)
    except (IOError, OSError, ValueError) as exc:
        return None, "the build record %s cannot be read: %s" % (path, to_native(exc))
    if not isinstance(record, dict) or record.get("format") != RECORD_FORMAT or not isinstance(record.get("measurements"), dict):
        return None, "the build record %s is not one this module wrote" % path
    return record, None


def wanted_inputs(module, params, image_id):
    certificate = params["signing_certificate"]
    inputs = {
        "docker_uri": params["docker_uri"],
        "image_id": image_id,
        "docker_dir": params["docker_dir"],
        "docker_dir_digest": None,
        "signing_certificate": certificate,
        "signing_certificate_sha256": None,
        "private_key": params["private_key"],
        "image_name": params["image_name"],
        "image_version": params["image_version"],
    }
    if params["docker_dir"] and os.path.isdir(params["docker_dir"]):
        inputs["docker_dir_digest"] = tree_digest(params["docker_dir"])
    if certificate and os.path.isfile(certificate):
        inputs["signing_certificate_sha256"] = sha256_file(certificate)
    return inputs


def check_inputs(module, params):
    """Problems with the input files (fail, or only warn in check mode when they may not exist yet)."""
    problems = []
    output_dir = os.path.dirname(os.path.abspath(params["output_file"]))
    if os.path.isdir(params["output_file"]):
        raise BuildError("output_file %s is a directory; give the path of the EIF file" % params["output_file"])
    if not os.path.isdir(output_dir):
        problems.append("the folder of output_file, %s, does not exist" % output_dir)
    if params["docker_dir"] and not os.path.isdir(params["docker_dir"]):
        problems.append("docker_dir %s is not a folder" % params["docker_dir"])
    for name in ("signing_certificate", "private_key"):
        if params[name] and not os.path.isfile(params[name]):
            problems.append("%s %s is not a file" % (name, params[name]))
    if problems:
        if module.check_mode:
            for problem in problems:
                module.warn(problem + " (it may be created by an earlier task)")
        else:
            raise BuildError("; ".join(problems))


def reasons_to_build(module, params, allowed, record, record_problem, wanted, image_problem):
    """(reasons, current measurements, size) for the EIF at output_file."""
    output = params["output_file"]
    if not os.path.exists(output):
        return ["%s does not exist" % output], {}, None
    try:
        measurements, crc_ok, size = measure_eif(module, output)
    except (EifError, NitroCliError) as exc:
        return ["the existing file is not a usable EIF: %s" % exc], {}, os.path.getsize(output)
    except (IOError, OSError) as exc:
        raise BuildError("cannot read %s: %s" % (output, to_native(exc)))
    reasons = []
    if not crc_ok:
        reasons.append("the existing EIF's CRC does not match its content (corrupt or modified)")
    if params["force"]:
        reasons.append("force is set")
    if allowed is not None and measurements.get("PCR0") not in allowed:
        reasons.append("the existing EIF's PCR0 %s is not one of allowed_pcr0" % measurements.get("PCR0"))
    if record is None:
        reasons.append(record_problem)
        return reasons, measurements, size
    if record.get("measurements") != measurements:
        reasons.append("the existing EIF does not measure to its build record (modified after the build?)")
    if image_problem:
        reasons.append("the docker image cannot be checked: %s" % image_problem)
    elif wanted["image_id"] is None and not params["docker_dir"]:
        reasons.append("the docker image %s is not in the local image store" % params["docker_uri"])
    for key in INPUT_KEYS:
        if key == "image_id" and wanted["image_id"] is None:
            continue
        if record.get(key) != wanted[key]:
            if key == "image_id":
                reasons.append("the docker image changed: the EIF was built from %s, %s is now %s"
                               % (record.get(key), params["docker_uri"], wanted[key]))
            else:
                reasons.append("%s changed (%r -> %r)" % (INPUT_LABELS[key], record.get(key), wanted[key]))
    return reasons, measurements, size


def remove_quietly(path):
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        elif os.path.lexists(path):
            os.unlink(path)
    except OSError:
        pass


def write_json_atomic(module, path, value):
    folder = os.path.dirname(os.path.abspath(path))
    handle, tmp_path = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=folder)
    try:
        with os.fdopen(handle, "w") as tmp:
            json.dump(value, tmp, indent=2, sort_keys=True)
            tmp.write("\n")
        os.chmod(tmp_path, 0o644)
        module.atomic_move(tmp_path, path)
    finally:
        remove_quietly(tmp_path)


def record_text(record):
    return json.dumps(record, indent=2, sort_keys=True) + "\n" if record else ""


def run_build(module, params, allowed, wanted, result):
    """Build into a temporary file, check it, move it over output_file and write the record."""
    output = os.path.abspath(params["output_file"])
    folder = os.path.dirname(output)
    partial = os.path.join(folder, ".%s.partial" % os.path.basename(output))
    artifacts = params["artifacts_dir"]
    own_artifacts = artifacts is None
    if own_artifacts:
        artifacts = tempfile.mkdtemp(prefix=".%s.artifacts." % os.path.basename(output), dir=folder)
    elif not os.path.isdir(artifacts):
        os.makedirs(artifacts, 0o755)
    remove_quietly(partial)
    started = time.time()
    try:
        reported = build_enclave(
            module, params["docker_uri"], partial, docker_dir=params["docker_dir"],
            signing_certificate=params["signing_certificate"], private_key=params["private_key"],
            image_name=params["image_name"], image_version=params["image_version"],
            timeout=params["timeout"] or None, artifacts_dir=artifacts)
        seconds = round(time.time() - started, 1)
        try:
            measurements, crc_ok, size = measure_eif(module, partial)
        except (EifError, NitroCliError, IOError, OSError) as exc:
            raise BuildError("nitro-cli build-enclave reported success, but its output cannot be measured: %s" % exc)
        if not crc_ok:
            raise BuildError("nitro-cli build-enclave wrote an EIF whose CRC does not match its content")
        differing = sorted(name for name in reported if name in measurements and reported[name] != measurements[name])
        if differing:
            raise BuildError("nitro-cli build-enclave reported %s, but the EIF it wrote measures %s"
                             % (", ".join("%s=%s" % (n, reported[n]) for n in differing),
                                ", ".join("%s=%s" % (n, measurements[n]) for n in differing)))
        # After the build, ask docker again: with docker_dir (or a pull) the image exists only now.
        image_id, problem = docker_image_id(module, params["docker_uri"])
        if problem:
            module.warn("the image ID of %s could not be recorded (%s): the next run will build again" % (params["docker_uri"], problem))
        record = dict(wanted)
        record.update({
            "format": RECORD_FORMAT,
            "image_id": image_id,
            "measurements": measurements,
            "size": size,
            "build_seconds": seconds,
            "built_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        })
        record_path = output + RECORD_SUFFIX
        remove_quietly(record_path)  # never a record describing another file
        module.atomic_move(partial, output)
        write_json_atomic(module, record_path, record)
    finally:
        remove_quietly(partial)
        if own_artifacts:
            remove_quietly(artifacts)
    result.update(built=True, changed=True, measurements=measurements, size=size, image_id=image_id,
                  build_seconds=seconds, record=record, matched_pcr0=matched(measurements, allowed))
    if allowed is not None and result["matched_pcr0"] is None:
        module.warn("the new EIF %s has PCR0 %s, which is not one of allowed_pcr0" % (output, measurements.get("PCR0")))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            docker_uri=dict(type="str", required=True),
            docker_dir=dict(type="path"),
            output_file=dict(type="path", required=True),
            allowed_pcr0=dict(type="list", elements="str"),
            signing_certificate=dict(type="path"),
            private_key=dict(type="path", no_log=False),
            image_name=dict(type="str"),
            image_version=dict(type="str"),
            timeout=dict(type="int", default=3600),
            artifacts_dir=dict(type="path"),
            force=dict(type="bool", default=False),
            image_tars=dict(type="list", elements="dict", default=[]),
        ),
        required_together=[("signing_certificate", "private_key")],
        supports_check_mode=True,
    )
    params = module.params
    output = params["output_file"]
    record_path = (os.path.abspath(output) if output else "") + RECORD_SUFFIX
    result = dict(changed=False, built=False, reasons=[], eif_path=output, record_path=record_path, measurements={},
                  matched_pcr0=None, size=None, image_id=None, build_seconds=0.0, record=None, loaded=[])

    if not params["docker_uri"] or not params["docker_uri"].strip() or any(ch.isspace() for ch in params["docker_uri"]):
        module.fail_json(msg="docker_uri must be a docker image reference such as oracle_enclave:latest, got %r" % params["docker_uri"], **result)
    if not output or not output.strip():
        module.fail_json(msg="output_file must be the path of the EIF to write", **result)
    if params["timeout"] < 0:
        module.fail_json(msg="timeout must be 0 (no limit) or a number of seconds, got %d" % params["timeout"], **result)
    try:
        allowed = normalize_allowed(params["allowed_pcr0"])
    except ValueError as exc:
        module.fail_json(msg=str(exc), **result)

    try:
        check_inputs(module, params)
        archives = archive_files(params)
        if archives and module.check_mode:
            result.update(changed=True, loaded=["(would load %s)" % label for label, dummy in archives])
        elif archives:
            result.update(changed=True, loaded=load_image_tars(module, params, archives))
            loaded_id, dummy = docker_image_id(module, params["docker_uri"])
            if loaded_id is None:
                raise BuildError("the image tars loaded %s, not %s: docker_uri must name the image the tars hold"
                                 % (", ".join(line.split(": ", 1)[-1] for line in result["loaded"]) or "nothing docker named",
                                    params["docker_uri"]))
        image_id, image_problem = docker_image_id(module, params["docker_uri"])
        if image_problem and not module.check_mode and not params["docker_dir"]:
            raise BuildError("cannot ask docker for the image %s: %s. Hint: start docker (systemctl start docker) and make sure "
                             "this user may use it (group docker)" % (params["docker_uri"], image_problem))
        if image_problem and module.check_mode:
            module.warn("cannot ask docker for the image %s (%s): assuming a build would run" % (params["docker_uri"], image_problem))
        result["image_id"] = image_id
        wanted = wanted_inputs(module, params, image_id)
        record, record_problem = read_record(record_path)
        result["record"] = record
        reasons, measurements, size = reasons_to_build(module, params, allowed, record, record_problem, wanted, image_problem)
        result.update(reasons=reasons, measurements=measurements, size=size, matched_pcr0=matched(measurements, allowed))
        if not reasons:
            module.exit_json(**result)

        result["changed"] = True
        if module._diff:
            result["diff"] = dict(before=record_text(record), after="(a new build record)\n",
                                  before_header=record_path, after_header=record_path)
        if module.check_mode:
            module.exit_json(**result)
        run_build(module, params, allowed, wanted, result)
        if module._diff:
            result["diff"]["after"] = record_text(result["record"])
    except NitroCliError as exc:
        result.update(exc.to_result())
        module.fail_json(msg=str(exc), **result)
    except BuildError as exc:
        result.update(exc.extra)
        module.fail_json(msg=exc.msg, **result)
    except (IOError, OSError) as exc:
        module.fail_json(msg="building %s failed: %s" % (output, to_native(exc)), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
