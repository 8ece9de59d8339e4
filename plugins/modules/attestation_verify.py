#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: attestation_verify
short_description: Verify an AWS Nitro Enclaves attestation document as the enclave's users do
version_added: 0.1.0
description:
  - Checks an attestation document, the COSE_Sign1 structure an enclave's Nitro Security Module signs, the way
    an Open Contracts user's client does before trusting an oracle, and more strictly.
  - 'The checks: the document is a COSE_Sign1 (tagged or not) whose protected header names ES384; its payload
    names the digest C(SHA384) and carries 48-byte PCRs; its signature verifies with the key of its leaf
    certificate; the leaf chains through the document''s C(cabundle) to the trusted root, every certificate
    valid at the chosen time (O(at)); PCR0 is not all zeros (debug mode); PCR0 is on O(allowed_pcr0); the
    document is at most O(max_age_seconds) old; its nonce equals O(nonce) when that is given.'
  - Read-only. It never changes anything, so it always returns C(changed=false) and behaves the same in check mode.
  - When a check fails the task fails with a message naming every failed check, and still returns what it parsed.
options:
  document:
    description:
      - The document as hex text, as the client protocol's C(attestation) message carries it. Whitespace and a
        leading C(0x) are ignored.
      - Exactly one of O(document) and O(document_path) is required.
    type: str
  document_path:
    description:
      - A file holding the document's raw bytes, for example one kept by the fleet report.
      - Must be a regular file; a directory, FIFO, socket or device is refused without being opened.
    type: path
  allowed_pcr0:
    description:
      - The PCR0 values that are permitted, each 96 hexadecimal characters; case and surrounding whitespace are
        ignored.
    type: list
    elements: str
    required: true
  root_certificate:
    description:
      - A PEM file with the certificate to trust as the root of the chain, for example the Nitro emulator's
        C(/var/lib/nitro_emulator/attestation/root.pem) in tests.
      - By default the AWS Nitro Enclaves Root-G1 certificate shipped with the collection, which is refused
        unless its SHA-256 fingerprint is the published
        C(641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b).
    type: path
  max_age_seconds:
    description:
      - The oldest a document may be, in seconds before the time of O(at). A document dated more than 60 seconds
        after that time fails too.
    type: int
    default: 300
  at:
    description:
      - The time at which the certificates must be valid and from which the age is counted.
      - V(now) (the current time), V(document) (the document's own timestamp, to verify an archived document
        again; its age is then 0), or an ISO 8601 time such as V(2025-05-22T07:30:00Z) (UTC when it names no zone).
    type: str
    default: now
  nonce:
    description:
      - Hex; when given, the document's C(nonce) must equal it. Documents that carry no nonce then fail.
    type: str
extends_documentation_fragment:
  - opencontracts.enclave.attributes
  - opencontracts.enclave.attributes.read_only
attributes:
  platform:
    details: Runs where it is executed; usually the controller (C(delegate_to=localhost)), where the verifier
      trusts nothing from the enclave's host.
requirements:
  - Python 3.8 or later.
  - The Python packages C(cbor2) and C(cryptography) 45 or later (for C(cryptography.x509.verification)'s extension
    policies) where the module runs.
notes:
  - What a verified document proves is that a Nitro-rooted certificate chain signed these PCRs, this module_id and
    this public_key. It says nothing about what the protocol's registry believes about the oracle, and it is fresh
    only as far as O(max_age_seconds) and O(nonce) make it.
  - The AWS intermediate and leaf certificates live hours to days; an archived document verifies only with
    O(at=document) or a time inside its leaf's validity.
seealso:
  - module: opencontracts.enclave.pcr_verify
  - name: Verifying the root of trust
    description: The AWS Nitro Enclaves user guide on the attestation document and its validation.
    link: https://docs.aws.amazon.com/enclaves/latest/user/verify-root.html
author:
  - Open Contracts enclave collection contributors (@open-contracts)
"""

EXAMPLES = r"""
- name: Verify the document an oracle sent in its attestation message
  opencontracts.enclave.attestation_verify:
    document: "{{ probe.attestation }}"
    allowed_pcr0: "{{ enclave_build_permitted_pcr0 }}"
  delegate_to: localhost
  register: attested

- name: Verify an archived document again, at its own timestamp
  opencontracts.enclave.attestation_verify:
    document_path: reports/attestations/oracle-1.cbor
    allowed_pcr0:
      - a5e152ec8d45c1d137a7823e8edbb236dc010823a3b06506ca493ec35d9197ecf335868900bf6ab40156874d6fcbd0ad
    at: document
  delegate_to: localhost

- name: In the tests, trust the Nitro emulator's root and ask for a fresh document
  opencontracts.enclave.attestation_verify:
    document: "{{ probe.attestation }}"
    allowed_pcr0: "{{ enclave_build_permitted_pcr0 }}"
    root_certificate: "{{ emulator_root_pem }}"
    max_age_seconds: 60
    nonce: "{{ probe_nonce }}"
  delegate_to: localhost

- name: Report why a document failed without stopping the play
  block:
    - name: Verify
      opencontracts.enclave.attestation_verify:
        document: "{{ probe.attestation }}"
        allowed_pcr0: "{{ enclave_build_permitted_pcr0 }}"
      delegate_to: localhost
      register: attested
  rescue:
    - name: Show the failed checks
      ansible.builtin.debug:
        msg: "{{ attested.reasons | default([attested.msg]) }} (PCR0 {{ attested.pcrs.PCR0 | default('unknown') }})"
"""

RETURN = r"""
verified:
  description: Whether every check passed. Always false in a failed result.
  returned: always
  type: bool
  sample: true
pcrs:
  description: Every PCR of the document as lowercase hex, keyed C(PCR0), C(PCR1)...
  returned: when the document could be parsed
  type: dict
  sample:
    PCR0: a5e152ec8d45c1d137a7823e8edbb236dc010823a3b06506ca493ec35d9197ecf335868900bf6ab40156874d6fcbd0ad
    PCR1: bcdf05fefccaa8e55bf2c8d6dee9e79bbff31e34bf28a99aa19e6b29c37ee80b214a414b7607236edf26fcb78654e63f
    PCR2: 21b9efbc184807662e966d34f390821309eeac6802309798826296bf3e8bec7c10edb30948c90ba67310f7b964fc500a
matched_pcr0:
  description: The entry of O(allowed_pcr0) that PCR0 equals (lowercase), or null.
  returned: always
  type: str
  sample: a5e152ec8d45c1d137a7823e8edbb236dc010823a3b06506ca493ec35d9197ecf335868900bf6ab40156874d6fcbd0ad
module_id:
  description: The document's C(module_id), the ID of the enclave that made it.
  returned: when the document could be parsed
  type: str
  sample: i-07d2111bce50814e1-enc0196f6e27ae4a4e1
timestamp:
  description: When the enclave made the document, ISO 8601 in UTC.
  returned: when the document could be parsed
  type: str
  sample: "2025-05-22T07:27:54.851Z"
public_key:
  description: The document's C(public_key) as hex (the oracle's Ethereum key as text, for Open Contracts), or null.
  returned: when the document could be parsed
  type: str
  sample: 95fa41f7e34c773ade7e14b3436f59f6997675ac351193bd0f0a37c51b8ea63e
user_data:
  description: The document's C(user_data) as hex, or null.
  returned: when the document could be parsed
  type: str
  sample: null
nonce:
  description: The document's C(nonce) as hex, or null.
  returned: when the document could be parsed
  type: str
  sample: null
leaf_not_after:
  description: When the document's leaf certificate expires, ISO 8601 in UTC.
  returned: when the document's leaf certificate could be read
  type: str
  sample: "2025-05-22T10:27:54.000Z"
age_seconds:
  description: Seconds from the document's timestamp to the time of O(at) (0 with O(at=document); negative for a
    document dated later).
  returned: when the document's leaf certificate could be read
  type: int
  sample: 12
reasons:
  description:
    - 'Every failed check as C(<check>: <why>); empty when the document verified.'
    - 'Checks: C(input), C(format), C(algorithm), C(payload), C(digest), C(pcrs), C(chain), C(signature), C(debug_mode),
      C(pcr0_allowed), C(age), C(nonce), C(requirements).'
  returned: always
  type: list
  elements: str
  sample:
    - "debug_mode: PCR0 is all zeros: the enclave runs in debug mode, whose documents prove nothing about its image"
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.opencontracts.enclave.plugins.module_utils.attestation import failure, verification_result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            document=dict(type="str"),
            document_path=dict(type="path"),
            allowed_pcr0=dict(type="list", elements="str", required=True),
            root_certificate=dict(type="path"),
            max_age_seconds=dict(type="int", default=300),
            at=dict(type="str", default="now"),
            nonce=dict(type="str"),
        ),
        mutually_exclusive=[("document", "document_path")],
        required_one_of=[("document", "document_path")],
        supports_check_mode=True,
    )
    result, error = verification_result(module.params)
    if error is not None:
        module.fail_json(changed=False, **dict(result, **failure(error)))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
