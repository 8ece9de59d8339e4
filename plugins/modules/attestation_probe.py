#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: attestation_probe
short_description: Ask an oracle for its attestation document over the client protocol, as a user does
version_added: 0.2.0
description:
  - Opens a WebSocket to an oracle enclave, sends the client protocol's C(get_attestation) message (the JSON
    object whose C(fname) is C(get_attestation)) and returns the answer, that is the attestation document (hex, as
    the protocol carries it) and C(signThis), or C(busy) when the oracle serves another user's session.
  - With O(allowed_pcr0) it also verifies the document it received, with the checks of
    M(opencontracts.enclave.attestation_verify) (the same code, at the current time, without a nonce), and returns
    that module's result as RV(verification); a document that does not verify fails the task. Without it, the
    document is not verified; pass RV(attestation) to M(opencontracts.enclave.attestation_verify).
  - The oracle serves one user session at a time, and the probe takes it for as long as it takes to answer, then
    closes the connection. Probing an oracle while a user arrives can make that user see C(busy), so probe
    production oracles only when you accept that (the fleet report's C(fleet_report_attest)).
  - Runs where Ansible runs (C(delegate_to=localhost)), so the check is made from the operator's side, as a user's
    client makes it, through the same network path.
  - Read-only; C(changed) is always false. C(busy) is not a failure. A connection that cannot be made, a
    timeout, or an answer that is neither C(attestation) nor C(busy) fails the task, with RV(status) C(error).
options:
  url:
    description:
      - The oracle's WebSocket address. C(ws://<host>:8080) reaches the enclave's port on its parent instance
        directly; the protocol's client goes through the registry's TLS reverse proxy,
        C(wss://<registry domain>:8081/<oracle ip>/).
    type: str
    required: true
  allowed_pcr0:
    description:
      - The permitted PCR0 values, each 96 hexadecimal characters (as for
        M(opencontracts.enclave.attestation_verify)). When given, the document received is verified (RV(verification)).
    type: list
    elements: str
  root_certificate:
    description:
      - A PEM file with the certificate to trust as the root of the chain; by default the AWS Nitro Enclaves Root-G1
        certificate shipped with the collection (as M(opencontracts.enclave.attestation_verify)). Used with O(allowed_pcr0).
    type: path
  max_age_seconds:
    description: The oldest the document may be, in seconds. Used with O(allowed_pcr0).
    type: int
    default: 300
extends_documentation_fragment:
  - opencontracts.enclave.client_protocol
  - opencontracts.enclave.attributes
  - opencontracts.enclave.attributes.read_only
  - opencontracts.enclave.attributes.controller_action
attributes:
  platform:
    details: Runs on the controller (C(delegate_to=localhost)), which needs the Python library C(websockets), and
      with O(allowed_pcr0) C(cbor2) and C(cryptography) 45 or later.
seealso:
  - module: opencontracts.enclave.attestation_verify
    description: Verifies the document this module returns.
author:
  - Open Contracts enclave collection contributors (@open-contracts)
"""

EXAMPLES = r"""
- name: Ask the oracle for its attestation document
  opencontracts.enclave.attestation_probe:
    url: "ws://{{ ansible_host }}:8080"
  delegate_to: localhost
  register: oracle_probe

- name: Ask for the document and verify it against the permitted PCR0 values, in one call
  opencontracts.enclave.attestation_probe:
    url: "ws://{{ ansible_host }}:8080"
    allowed_pcr0: "{{ enclave_build_permitted_pcr0.oracle }}"
  delegate_to: localhost
  register: oracle_probe

- name: Show the PCR0 it matched (null when the oracle was busy)
  ansible.builtin.debug:
    msg: "{{ oracle_probe.verification.matched_pcr0 | default('not checked', true) }}"

- name: Through the registry's TLS proxy, as the protocol's client reaches an oracle
  opencontracts.enclave.attestation_probe:
    url: "wss://registry.example.org:8081/{{ ansible_host }}/"
  delegate_to: localhost
"""

RETURN = r"""
status:
  description:
    - C(attestation) (the oracle sent its document), C(busy) (another session holds the oracle) or C(error)
      (in a failed result).
  returned: always
  type: str
  sample: attestation
attestation:
  description: The attestation document as hex text, as the oracle sent it (null unless RV(status) is C(attestation)).
  returned: always
  type: str
  sample: 8444a1013822a0591121a9696d6f64756c655f69647827...
sign_this:
  description: The oracle's C(signThis) value (null unless RV(status) is C(attestation)).
  returned: always
  type: str
  sample: 5f0c8e0c3d3c1d0e0b0a090807060504030201000f0e0d0c0b0a090807060504
url:
  description: The address probed.
  returned: always
  type: str
  sample: ws://203.0.113.21:8080
elapsed:
  description: Seconds from connecting to the answer.
  returned: always
  type: float
  sample: 0.08
error:
  description: Why the probe failed (null when it did not).
  returned: always
  type: str
  sample: "timed out after 10.0 s waiting for the answer"
verification:
  description:
    - With O(allowed_pcr0), M(opencontracts.enclave.attestation_verify)'s result for the document received (its
      C(verified), C(reasons), C(matched_pcr0), C(pcrs), C(module_id), C(timestamp), C(public_key), C(user_data),
      C(nonce), C(leaf_not_after) and C(age_seconds), as that module documents them); null when no document was
      received (RV(status) C(busy) or C(error)) or O(allowed_pcr0) is not given.
  returned: always
  type: dict
  sample: {verified: true, reasons: [], matched_pcr0: a5e152ec8d45c1d137a7823e8edbb236dc010823a3b06506ca493ec35d9197ecf335868900bf6ab40156874d6fcbd0ad,
           module_id: i-07d2111bce50814e1-enc0196f6e27ae4a4e1, timestamp: "2025-05-22T07:27:54.851Z", age_seconds: 3}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.opencontracts.enclave.plugins.module_utils.attestation_probe import ARGUMENT_SPEC, run


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    result = run(module.params)
    if result.pop("failed", False):
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
