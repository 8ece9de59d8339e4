#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: pcr_verify
short_description: Verify the PCR measurements of an enclave image or a running enclave
version_added: 0.1.0
description:
  - Measures an Enclave Image Format (EIF) file on the managed host, the way the Nitro hypervisor
    will, and checks its PCR0 against an allow-list and any PCR against expected values.
  - The Open Contracts protocol only accepts oracle and registry enclaves whose PCR0 is one of the
    values it permits; this module refuses an image before it is served, instead of letting the
    registry refuse the enclave later.
  - Alternatively verifies an enclave that is already running, from the measurements
    C(nitro-cli describe-enclaves) reports, and refuses enclaves running in debug mode.
  - Read-only. It never changes anything, so it always returns C(changed=false) and behaves the same
    in check mode.
  - The EIF is read as a stream with a few MiB of buffers; PCR0 and PCR2, which both cover the large
    application ramdisk, are computed on two threads, so verifying a multi-GiB image takes about as
    long as one SHA-384 pass over it.
options:
  eif_path:
    description:
      - Path of the EIF file on the managed host.
      - Exactly one of O(eif_path), O(enclave_name) and O(enclave_id) is required.
    type: path
  enclave_name:
    description:
      - Name of a running enclave (C(EnclaveName) in C(nitro-cli describe-enclaves)) to verify instead of a file.
      - The enclave must be in state C(RUNNING) and must not run in debug mode.
    type: str
  enclave_id:
    description:
      - ID of a running enclave (C(EnclaveID), for example C(i-0123456789abcdef0-enc0123456789abcdef)) to verify
        instead of a file.
    type: str
  allowed_pcr0:
    description:
      - The PCR0 values that are permitted, for example the values the protocol publishes for its oracle and
        registry images. Verification succeeds when the measured PCR0 equals one of them.
      - Each entry must be 96 hexadecimal characters; case and surrounding whitespace are ignored.
      - Required unless O(expected) is given. An empty list counts as not given.
    type: list
    elements: str
  expected:
    description:
      - PCR values that must all match, as a dictionary with any of the keys C(PCR0), C(PCR1), C(PCR2) and
        C(PCR8) (case-insensitive). Values are 96 hexadecimal characters, case-insensitive.
      - C(PCR8) only exists for signed images; expecting it for an unsigned image fails.
      - When both O(allowed_pcr0) and O(expected) are given, both must be satisfied.
    type: dict
  reference:
    description:
      - PCR1 and PCR2 values the operator expects (for example those of a host whose image the protocol accepts), as a
        dictionary with the keys C(PCR1) and C(PCR2) (case-insensitive). Unlike O(expected) they never fail the check -
        when PCR0 is refused they say which part of the image differs (RV(differs)) - PCR1 covers the kernel, its
        command line and the first ramdisk, which come from the Nitro CLI's blobs; PCR2 the later ramdisks, the docker
        image.
    type: dict
  build_environment:
    description:
      - When PCR0 is refused, also report what built the image on this host (RV(build_environment)) - the output of
        C(nitro-cli --version) and the SHA-256 of each file in O(blobs_path). PCR0 depends on both.
    type: bool
    default: false
  blobs_path:
    description: The Nitro CLI's blobs (kernel, its command line, init, nsm.ko), used with O(build_environment).
    type: path
    default: /usr/share/nitro_enclaves/blobs
  require_crc:
    description:
      - Fail when the CRC stored in the EIF header does not match the file's content (a corrupt or modified file).
      - When false, a wrong CRC is only reported in RV(crc_ok).
      - Not used for running enclaves.
    type: bool
    default: true
extends_documentation_fragment:
  - opencontracts.enclave.attributes
  - opencontracts.enclave.attributes.read_only
attributes:
  platform:
    details: Runs on the managed host. Running enclaves need C(nitro-cli) on that host.
requirements:
  - Python 3.8 or later on the managed host.
  - The Python package C(cbor2) on the managed host, only to verify signed EIFs (to decode the signing
    certificate for PCR8).
  - C(nitro-cli) on the managed host, only with O(enclave_name) or O(enclave_id).
notes:
  - PCRx is SHA384(48 zero bytes || SHA384(data)) where the data of PCR0 is the kernel, the command line and
    every ramdisk, of PCR1 the kernel, the command line and the first ramdisk, of PCR2 every later ramdisk,
    and of PCR8 the DER form of the signing certificate. The values equal those of
    C(nitro-cli describe-eif) and C(nitro-cli build-enclave).
  - The file's structure is checked before it is trusted; a file that is not an EIF, is truncated, has an
    unknown section type, more than 32 sections, or whose section table disagrees with its layout fails
    with a message naming the file and the problem. EIF versions 2 to 4 are read (nitro-cli writes 4).
  - For a running enclave the module returns RV(measurements) and RV(enclave); RV(crc_ok), RV(eif_version),
    RV(is_signed), RV(size) and RV(sections) describe a file and are not returned.
  - A debug-mode enclave reports all-zero PCRs in its attestation documents, so the protocol rejects it;
    the module refuses it even when its measurements match.
  - On failure the result still contains what was measured (RV(measurements) and the file facts), so a
    playbook can report it.
seealso:
  - name: Nitro Enclaves, where PCRs come from
    description: The AWS Nitro Enclaves user guide on measurements and attestation.
    link: https://docs.aws.amazon.com/enclaves/latest/user/set-up-attestation.html
author:
  - Open Contracts enclave collection contributors (@open-contracts)
"""

EXAMPLES = r"""
- name: Refuse an oracle image whose PCR0 the protocol does not permit
  opencontracts.enclave.pcr_verify:
    eif_path: /home/ec2-user/enclave-protocol/oracle_enclave/oracle.eif
    allowed_pcr0: "{{ enclave_build_permitted_pcr0 }}"
  register: oracle_image

- name: The same with the allow-list written out (oracle values named by the provider guide and the client)
  opencontracts.enclave.pcr_verify:
    eif_path: /home/ec2-user/enclave-protocol/oracle_enclave/oracle.eif
    allowed_pcr0:
      - ba19b0568898f7eed74c911b29cccd6d026f918fa77953a705f142d06d33f51dfb00bda8f4e90e13755374548b0430e4
      - a5e152ec8d45c1d137a7823e8edbb236dc010823a3b06506ca493ec35d9197ecf335868900bf6ab40156874d6fcbd0ad

- name: Show which permitted value the image matched
  ansible.builtin.debug:
    msg: "{{ oracle_image.eif_version }} image, PCR0 {{ oracle_image.matched_pcr0 }}"

- name: Check the running oracle enclave before registering the host
  opencontracts.enclave.pcr_verify:
    enclave_name: oracle
    allowed_pcr0: "{{ enclave_build_permitted_pcr0 }}"
  register: running_oracle

- name: Pin every measurement of a signed image built earlier on the build host
  opencontracts.enclave.pcr_verify:
    eif_path: /var/lib/opencontracts/registry.eif
    expected:
      PCR0: 87eb8417e993acfa43fc8e46a1ef0fe50cce86e9b8dcaf22b1e623f8f11a272a0352b851a0503327fb55fd6ecf0259d3
      PCR1: "{{ hostvars[groups['build'][0]].registry_image.measurements.PCR1 }}"
      PCR2: "{{ hostvars[groups['build'][0]].registry_image.measurements.PCR2 }}"
      PCR8: "{{ hostvars[groups['build'][0]].registry_image.measurements.PCR8 }}"

- name: Report the measurements even when verification fails
  block:
    - name: Verify the image
      opencontracts.enclave.pcr_verify:
        eif_path: /home/ec2-user/enclave-protocol/oracle_enclave/oracle.eif
        allowed_pcr0: "{{ enclave_build_permitted_pcr0 }}"
      register: verdict
  rescue:
    - name: Show what was measured
      ansible.builtin.debug:
        msg: "Refused: PCR0 {{ verdict.measurements.PCR0 | default('not measured') }}: {{ verdict.msg }}"
"""

RETURN = r"""
differs:
  description:
    - When PCR0 is refused and O(reference) is given, the names among C(PCR1) and C(PCR2) whose measured value is not
      the reference's, with RV(explanation) saying what that part of the image is.
  returned: when PCR0 is refused and O(reference) is given
  type: list
  elements: str
  sample: [PCR1]
explanation:
  description: When PCR0 is refused, PCR1 and PCR2 and what a difference in each means, in one sentence.
  returned: when PCR0 is refused
  type: str
  sample: "PCR1 bcdf05... (kernel, command line, init: the Nitro CLI's blobs) differs from the reference ..."
build_environment:
  description: With O(build_environment), when PCR0 is refused - C(nitro_cli_version) (or null) and C(blobs), file name to SHA-256.
  returned: when PCR0 is refused and O(build_environment) is true
  type: dict
  sample: {nitro_cli_version: "Nitro CLI 1.2.2", blobs: {bzImage: 3a1f..., init: 77c0...}}
verified:
  description: Whether every check passed. Always false in a failed result.
  returned: always
  type: bool
  sample: true
matched_pcr0:
  description: The entry of O(allowed_pcr0) that the measured PCR0 equals (lowercase), or null when none does or no
    allow-list was given.
  returned: always
  type: str
  sample: ba19b0568898f7eed74c911b29cccd6d026f918fa77953a705f142d06d33f51dfb00bda8f4e90e13755374548b0430e4
measurements:
  description:
    - The measured PCRs, lowercase hex. C(PCR8) only for signed images (or when the running enclave reports it).
    - Also returned on failure when the measurement got that far.
  returned: when measured
  type: dict
  contains:
    PCR0:
      description: Kernel, command line and every ramdisk.
      type: str
    PCR1:
      description: Kernel, command line and the first (bootstrap) ramdisk.
      type: str
    PCR2:
      description: The application ramdisks.
      type: str
    PCR8:
      description: The signing certificate.
      type: str
      returned: signed images only
  sample:
    PCR0: ba19b0568898f7eed74c911b29cccd6d026f918fa77953a705f142d06d33f51dfb00bda8f4e90e13755374548b0430e4
    PCR1: bcdf05fefccaa8e55bf2c8d6dee9e79bbff31e34bf28a99aa19e6b29c37ee80b214a414b7607236edf26fcb78654e63f
    PCR2: 21b9efbc184807662e966d34f390821309eeac6802309798826296bf3e8bec7c10edb30948c90ba67310f7b964fc500a
only_pcr0_refused:
  description:
    - Whether the file is a sound EIF (measured, CRC right, every O(expected) value matched) whose only fault is a
      PCR0 outside O(allowed_pcr0) - the one refusal a caller may choose to let through, for tests.
  returned: when verifying a file that could be measured
  type: bool
  sample: false
crc_ok:
  description: Whether the CRC stored in the EIF header matches the file.
  returned: when verifying a file that could be measured
  type: bool
  sample: true
eif_version:
  description: Version of the EIF format of the file.
  returned: when verifying a file that could be measured
  type: int
  sample: 4
is_signed:
  description: Whether the EIF has a signature section (and so a PCR8).
  returned: when verifying a file that could be measured
  type: bool
  sample: false
size:
  description: Size of the EIF file in bytes.
  returned: when verifying a file that could be measured
  type: int
  sample: 3254747136
sections:
  description: The sections of the EIF in file order.
  returned: when verifying a file that could be measured
  type: list
  elements: dict
  contains:
    type:
      description: C(kernel), C(cmdline), C(ramdisk), C(signature) or C(metadata).
      type: str
    size:
      description: Size of the section's data in bytes.
      type: int
  sample:
    - {type: kernel, size: 9532608}
    - {type: cmdline, size: 90}
    - {type: metadata, size: 1125}
    - {type: ramdisk, size: 3582596}
    - {type: ramdisk, size: 3241627120}
enclave:
  description: The running enclave that was verified, from C(nitro-cli describe-enclaves).
  returned: when verifying a running enclave that was found
  type: dict
  contains:
    name:
      description: C(EnclaveName).
      type: str
    id:
      description: C(EnclaveID).
      type: str
    state:
      description: C(State), for example C(RUNNING).
      type: str
    flags:
      description: C(Flags), C(NONE) or C(DEBUG_MODE).
      type: str
    cid:
      description: C(EnclaveCID), the enclave's vsock context ID.
      type: int
    memory_mib:
      description: C(MemoryMiB).
      type: int
    cpu_count:
      description: C(NumberOfCPUs).
      type: int
  sample:
    name: oracle
    id: i-0123456789abcdef0-enc0123456789abcdef
    state: RUNNING
    flags: NONE
    cid: 16
    memory_mib: 11000
    cpu_count: 2
"""

import hashlib
import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.opencontracts.enclave.plugins.module_utils.eif import (
    EifCrcError,
    EifError,
    PCR_NAMES,
    crc_mismatch_reason,
    measure,
    normalize_pcr,
)
from ansible_collections.opencontracts.enclave.plugins.module_utils.nitro_cli import (
    NitroCliError,
    describe_enclaves,
    enclave_summary,
)


class VerificationError(Exception):
    """A failed check; ``extra`` holds result keys to return with the failure."""

    def __init__(self, msg, **extra):
        self.msg = msg
        self.extra = extra
        super(VerificationError, self).__init__(msg)


def normalize_inputs(params):
    """Return (allowed list or None, expected dict); raise ValueError on bad values."""
    allowed = None
    if params["allowed_pcr0"]:
        allowed = [normalize_pcr(value, "allowed_pcr0[%d]" % index) for index, value in enumerate(params["allowed_pcr0"])]
    expected = {}
    for key, value in (params["expected"] or {}).items():
        name = str(key).strip().upper()
        if name not in PCR_NAMES:
            raise ValueError("expected has an unknown key %r: use %s" % (key, ", ".join(PCR_NAMES)))
        if name in expected:
            raise ValueError("expected names %s twice" % name)
        if value is None:
            raise ValueError("expected.%s has no value" % name)
        expected[name] = normalize_pcr(value if isinstance(value, str) else str(value), "expected.%s" % name)
    if allowed is None and not expected:
        raise ValueError("nothing to verify against: give allowed_pcr0 (a non-empty list) or expected")
    return allowed, expected


def normalize_reference(values):
    """The reference PCR1 / PCR2 values, upper-case names and lowercase hex; raise ValueError."""
    reference = {}
    for key, value in (values or {}).items():
        name = str(key).strip().upper()
        if name not in ("PCR1", "PCR2"):
            raise ValueError("reference has an unknown key %r: use PCR1, PCR2" % (key,))
        if value in (None, ""):
            continue
        reference[name] = normalize_pcr(value if isinstance(value, str) else str(value), "reference.%s" % name)
    return reference


def file_facts(measurement):
    return {
        "measurements": dict(measurement.measurements),
        "crc_ok": measurement.crc_ok,
        "eif_version": measurement.version,
        "is_signed": measurement.is_signed,
        "size": measurement.size,
        "sections": measurement.section_list(),
    }


def compare(subject, measurements, allowed, expected):
    """Return (matched_pcr0, list of problems) for ``measurements``."""
    problems = []
    matched = None
    pcr0 = measurements.get("PCR0")
    if allowed is not None:
        if pcr0 in allowed:
            matched = pcr0
        else:
            problems.append("PCR0 of %s is %s, which is not one of the allowed values (allowed_pcr0: %s)" % (subject, pcr0, ", ".join(allowed)))
    for name in PCR_NAMES:
        if name not in expected:
            continue
        measured = measurements.get(name)
        if measured is None:
            why = "the image is not signed" if name == "PCR8" else "it was not reported"
            problems.append("%s of %s was expected to be %s but there is no %s (%s)" % (name, subject, expected[name], name, why))
        elif measured != expected[name]:
            problems.append("%s of %s differs: expected %s, measured %s" % (name, subject, expected[name], measured))
    return matched, problems


PARTS = {"PCR1": "the kernel, its command line and init: the Nitro CLI's blobs",
         "PCR2": "the application: the docker image"}


def explain_refusal(measurements, reference):
    """(differs or None, explanation) for a refused PCR0: PCR1 and PCR2, and which differs from ``reference``."""
    differs = None if not reference else [name for name in ("PCR1", "PCR2")
                                          if name in reference and measurements.get(name) != reference[name]]
    words = []
    for name in ("PCR1", "PCR2"):
        text = "%s %s (%s)" % (name, measurements.get(name, "not measured"), PARTS[name])
        if reference and name in reference:
            text += " equals the reference" if name not in differs else " differs from the reference %s" % reference[name]
        words.append(text)
    explanation = "; ".join(words)
    if differs == ["PCR1"]:
        explanation += ". Only PCR1 differs: the image was built with other Nitro CLI blobs (another Nitro CLI version)"
    elif differs == ["PCR2"]:
        explanation += ". Only PCR2 differs: the docker image is not the published one"
    elif differs:
        explanation += ". Both differ: other Nitro CLI blobs and another docker image"
    return differs, explanation


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def describe_build_environment(module, blobs_path):
    """``{nitro_cli_version, blobs}``: what builds images on this host."""
    version = None
    binary = module.get_bin_path("nitro-cli")
    if binary:
        rc, out, err = module.run_command([binary, "--version"], environ_update={"LANG": "C", "LC_ALL": "C"})
        version = (out or err).strip() if rc == 0 else None
    blobs = {}
    try:
        names = sorted(os.listdir(blobs_path))
    except OSError:
        names = []
    for name in names:
        path = os.path.join(blobs_path, name)
        if os.path.isfile(path):
            try:
                blobs[name] = sha256_of(path)
            except (IOError, OSError):
                blobs[name] = None
    return {"nitro_cli_version": version, "blobs": blobs}


def verify_file(path, allowed, expected, require_crc):
    subject = "EIF %s" % path
    if not os.path.exists(path):
        raise VerificationError("EIF file %s does not exist" % path)
    if os.path.isdir(path):
        raise VerificationError("EIF path %s is a directory, not a file" % path)
    try:
        measurement = measure(path, require_crc=False)
    except EifCrcError as exc:  # not raised with require_crc=False; kept for safety
        measurement = exc.measurement
    except EifError as exc:
        raise VerificationError("cannot verify EIF %s: %s" % (path, exc.reason))
    except (OSError, IOError) as exc:
        raise VerificationError("cannot read EIF %s: %s" % (path, exc.strerror or exc))
    facts = file_facts(measurement)
    matched, problems = compare(subject, measurement.measurements, allowed, expected)
    if require_crc and not measurement.crc_ok:
        problems.insert(0, "%s: %s" % (subject, crc_mismatch_reason(measurement)))
    facts["matched_pcr0"] = matched
    refused_pcr0 = allowed is not None and matched is None
    facts["only_pcr0_refused"] = refused_pcr0 and measurement.crc_ok and len(problems) == 1
    if problems:
        raise VerificationError("; ".join(problems), **facts)
    return facts


def verify_enclave(module, name, enclave_id, allowed, expected):
    label = "enclave %s" % (("named %s" % name) if name is not None else enclave_id)
    try:
        enclaves = describe_enclaves(module)
    except NitroCliError as exc:
        raise VerificationError("cannot list enclaves to verify %s: %s" % (label, exc), **exc.to_result())
    if name is not None:
        found = [e for e in enclaves if isinstance(e, dict) and e.get("EnclaveName") == name]
    else:
        found = [e for e in enclaves if isinstance(e, dict) and e.get("EnclaveID") == enclave_id]
    if not found:
        running = ", ".join("%s (%s, %s)" % (e.get("EnclaveName"), e.get("EnclaveID"), e.get("State")) for e in enclaves if isinstance(e, dict))
        raise VerificationError("%s not found in nitro-cli describe-enclaves (enclaves: %s)" % (label, running or "none"))
    if len(found) > 1:
        raise VerificationError("%s is ambiguous: %d enclaves match" % (label, len(found)))
    entry = found[0]
    info = enclave_summary(entry)
    subject = "enclave %s (%s)" % (info["name"], info["id"])
    raw = entry.get("Measurements") or {}
    measurements = {}
    for key, value in raw.items():
        if str(key).upper() in PCR_NAMES and isinstance(value, str):
            measurements[str(key).upper()] = value.strip().lower()
    facts = {"enclave": info, "matched_pcr0": None}
    if measurements:
        facts["measurements"] = measurements
    problems = []
    if info["state"] != "RUNNING":
        problems.append("%s is not running (state %s)" % (subject, info["state"]))
    if info["flags"] != "NONE":
        if info["flags"] == "DEBUG_MODE":
            problems.append("%s runs in debug mode: its attestation documents carry all-zero PCRs and the protocol rejects it; "
                            "restart it without --debug-mode" % subject)
        else:
            problems.append("%s has unexpected flags %s (expected NONE)" % (subject, info["flags"]))
    if "PCR0" not in measurements:
        problems.append("nitro-cli describe-enclaves reports no measurements for %s (nitro-cli too old?)" % subject)
    else:
        matched, mismatches = compare(subject, measurements, allowed, expected)
        facts["matched_pcr0"] = matched
        problems.extend(mismatches)
    if problems:
        raise VerificationError("; ".join(problems), **facts)
    return facts


def main():
    module = AnsibleModule(
        argument_spec=dict(
            eif_path=dict(type="path"),
            enclave_name=dict(type="str"),
            enclave_id=dict(type="str"),
            allowed_pcr0=dict(type="list", elements="str"),
            expected=dict(type="dict"),
            require_crc=dict(type="bool", default=True),
            reference=dict(type="dict"),
            build_environment=dict(type="bool", default=False),
            blobs_path=dict(type="path", default="/usr/share/nitro_enclaves/blobs"),
        ),
        mutually_exclusive=[("eif_path", "enclave_name", "enclave_id")],
        required_one_of=[("eif_path", "enclave_name", "enclave_id"), ("allowed_pcr0", "expected")],
        supports_check_mode=True,
    )
    params = module.params
    try:
        allowed, expected = normalize_inputs(params)
        reference = normalize_reference(params["reference"])
    except ValueError as exc:
        module.fail_json(msg=str(exc), changed=False, verified=False, matched_pcr0=None)

    try:
        if params["eif_path"] is not None:
            facts = verify_file(params["eif_path"], allowed, expected, params["require_crc"])
        else:
            facts = verify_enclave(module, params["enclave_name"], params["enclave_id"], allowed, expected)
    except VerificationError as exc:
        result = dict(exc.extra)
        result.setdefault("matched_pcr0", None)
        msg = exc.msg
        if allowed is not None and result.get("measurements", {}).get("PCR0") and result["matched_pcr0"] is None:
            differs, explanation = explain_refusal(result["measurements"], reference)
            result["explanation"] = explanation
            msg += ". " + explanation
            if differs is not None:
                result["differs"] = differs
            if params["build_environment"]:
                environment = describe_build_environment(module, params["blobs_path"])
                result["build_environment"] = environment
                msg += ". Built with %s; blobs in %s: %s" % (
                    environment["nitro_cli_version"] or "no working nitro-cli", params["blobs_path"],
                    ", ".join("%s %s" % (name, (digest or "unreadable")[:16]) for name, digest in environment["blobs"].items())
                    or "none")
        module.fail_json(msg=msg, changed=False, verified=False, **result)

    module.exit_json(changed=False, verified=True, **facts)


if __name__ == "__main__":
    main()
