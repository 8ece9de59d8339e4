#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: enclave_health
short_description: Wait until a served enclave is healthy, or fail with its service's journal
version_added: 0.1.0
description:
  - The health gate after an oracle or registry enclave was (re)started. The enclave is healthy when
    C(nitro-cli describe-enclaves) lists it in state C(RUNNING), not in debug mode (unless
    O(allow_debug_mode=true)), with a PCR0 from O(allowed_pcr0), and its port on the parent instance accepts
    TCP connections.
  - Checks every O(interval) seconds until healthy or O(timeout) seconds have passed. A PCR0 that is not
    permitted, an unwanted debug mode, two enclaves with the same name and a missing C(nitro-cli) fail at once,
    since waiting cannot fix them.
  - On failure the message ends with the last O(journal_lines) lines of the journal of O(unit), so the cause
    (the serve script's output, C(nitro-cli run-enclave) errors) is in the play's output.
  - The port probe opens a TCP connection and closes it without sending anything, so it never occupies the
    single user session an oracle serves.
  - The enclave is the service's by its name when O(enclave_name) is given (the serve script's C(--enclave-name)),
    else by the image it runs - its PCR0 in C(nitro-cli describe-enclaves) equals O(served_pcr0). A serve script
    that starts its enclave without C(--enclave-name) gets the name of the EIF file (C(oracle_enclave.eif) runs as
    C(oracle_enclave), a second one as C(oracle_enclave_1)). Two enclaves of the service fail the gate at once.
  - Read-only; C(changed) is always false.
options:
  enclave_name:
    description:
      - The enclave's name, C(EnclaveName) in C(nitro-cli describe-enclaves) (the serve script's C(--enclave-name)).
      - Empty finds the enclave by O(served_pcr0). One of the two is required.
    type: str
    default: ""
  served_pcr0:
    description:
      - The PCR0 of the image the serve script starts (96 hex characters, case ignored); used when O(enclave_name)
        is empty. The enclave running this PCR0 is the service's.
    type: str
    default: ""
  allowed_pcr0:
    description:
      - The PCR0 values the protocol permits for this kind of enclave (96 hex characters each, case ignored).
    type: list
    elements: str
    required: true
  allow_debug_mode:
    description:
      - Accept an enclave running in debug mode. Debug-mode enclaves attest with all-zero PCRs, so the registry and
        users reject them; for development only.
    type: bool
    default: false
  port:
    description: The TCP port on the parent instance that must accept connections (the enclave's WebSocket server).
    type: int
    default: 8080
  host:
    description: The address the port is probed on, from the managed host.
    type: str
    default: 127.0.0.1
  timeout:
    description:
      - Seconds to wait for the enclave to become healthy. V(0) checks once.
    type: int
    default: 120
  interval:
    description: Seconds between checks.
    type: int
    default: 2
  unit:
    description:
      - The systemd unit serving the enclave, whose journal is shown when the gate fails. Empty shows no journal.
    type: str
    default: ""
  journal_lines:
    description: How many of the unit's last journal lines the failure message shows.
    type: int
    default: 30
extends_documentation_fragment:
  - opencontracts.enclave.attributes
  - opencontracts.enclave.attributes.read_only
attributes:
  platform:
    details: Runs on the parent instance, with C(nitro-cli) and, for the journal, C(journalctl).
requirements:
  - C(nitro-cli) on the managed host.
seealso:
  - module: opencontracts.enclave.pcr_verify
    description: Verifies an EIF file or a running enclave against the allow-list, once.
author:
  - Open Contracts enclave collection contributors (@open-contracts)
"""

EXAMPLES = r"""
- name: Wait for the oracle enclave after a restart (the enclave that runs the served image)
  opencontracts.enclave.enclave_health:
    served_pcr0: "{{ enclave_build_result.measurements.PCR0 }}"
    allowed_pcr0: "{{ enclave_build_permitted_pcr0.oracle }}"
    unit: opencontracts-oracle.service
    timeout: 180
  register: oracle_health

- name: The same for a serve script that names its enclave
  opencontracts.enclave.enclave_health:
    enclave_name: oracle
    allowed_pcr0: "{{ enclave_build_permitted_pcr0.oracle }}"

- name: Show what runs
  ansible.builtin.debug:
    msg: "{{ oracle_health.enclave.id }} PCR0 {{ oracle_health.pcr0 }}, port open: {{ oracle_health.port_open }}"
"""

RETURN = r"""
healthy:
  description: Whether every check passed. Always false in a failed result.
  returned: always
  type: bool
  sample: true
problems:
  description: What failed at the last check (empty when healthy).
  returned: always
  type: list
  elements: str
  sample: ["port 8080 on 127.0.0.1 does not accept TCP connections (Connection refused)"]
enclave:
  description: The enclave as C(nitro-cli describe-enclaves) listed it at the last check (null when not listed).
  returned: always
  type: dict
  contains:
    name: {description: C(EnclaveName)., type: str}
    id: {description: C(EnclaveID)., type: str}
    state: {description: C(State)., type: str}
    flags: {description: "C(Flags): C(NONE) or C(DEBUG_MODE).", type: str}
    cid: {description: C(EnclaveCID)., type: int}
    memory_mib: {description: C(MemoryMiB)., type: int}
    cpu_count: {description: C(NumberOfCPUs)., type: int}
  sample: {name: oracle, id: i-0e5a1c0de0e5a1c0d-enc18d2f0a3b4c5d6e7, state: RUNNING, flags: NONE, cid: 16, memory_mib: 11000, cpu_count: 2}
measurements:
  description: The enclave's measurements, lowercase (empty when not listed).
  returned: always
  type: dict
  sample: {PCR0: ba19b0568898f7eed74c911b29cccd6d026f918fa77953a705f142d06d33f51dfb00bda8f4e90e13755374548b0430e4}
pcr0:
  description: The enclave's PCR0 (null when not listed).
  returned: always
  type: str
matched_pcr0:
  description: The entry of O(allowed_pcr0) the PCR0 equals (null when none).
  returned: always
  type: str
pcr0_permitted:
  description: Whether the PCR0 is one of O(allowed_pcr0).
  returned: always
  type: bool
debug_mode:
  description: Whether the enclave runs in debug mode.
  returned: always
  type: bool
port_open:
  description: Whether the port accepted a TCP connection at the last check.
  returned: always
  type: bool
waited:
  description: Seconds spent checking.
  returned: always
  type: float
  sample: 4.1
checks:
  description: How many checks were made.
  returned: always
  type: int
  sample: 3
journal:
  description: The last lines of the unit's journal.
  returned: when the gate failed and O(unit) is set
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.opencontracts.enclave.plugins.module_utils.enclave_health import (
    journal_tail,
    normalize_allowed,
    wait_healthy,
)
from ansible_collections.opencontracts.enclave.plugins.module_utils.service_enclave import (
    describe_wanted,
    normalize_wanted,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            enclave_name=dict(type="str", default=""),
            served_pcr0=dict(type="str", default=""),
            allowed_pcr0=dict(type="list", elements="str", required=True),
            allow_debug_mode=dict(type="bool", default=False),
            port=dict(type="int", default=8080),
            host=dict(type="str", default="127.0.0.1"),
            timeout=dict(type="int", default=120),
            interval=dict(type="int", default=2),
            unit=dict(type="str", default=""),
            journal_lines=dict(type="int", default=30),
        ),
        supports_check_mode=True,
    )
    params = module.params
    problems = []
    try:
        name, served_pcr0 = normalize_wanted(params["enclave_name"], params["served_pcr0"])
    except ValueError as exc:
        problems.append(str(exc))
    if not 1 <= params["port"] <= 65535:
        problems.append("port must be 1-65535, got %s" % params["port"])
    if params["timeout"] < 0 or params["interval"] < 1 or params["journal_lines"] < 0:
        problems.append("timeout and journal_lines must not be negative and interval must be at least 1 (got %s, %s, %s)"
                        % (params["timeout"], params["journal_lines"], params["interval"]))
    try:
        allowed = normalize_allowed(params["allowed_pcr0"])
    except ValueError as exc:
        problems.append(str(exc))
    if problems:
        module.fail_json(msg="; ".join(problems), changed=False, healthy=False)

    report, waited, checks = wait_healthy(
        module, name, allowed, params["allow_debug_mode"], params["host"], params["port"],
        params["timeout"], params["interval"], served_pcr0=served_pcr0)
    result = dict(changed=False, healthy=report.healthy, problems=report.problems, waited=waited, checks=checks, **report.facts())
    if report.healthy:
        module.exit_json(**result)

    when = "at once" if report.final else "after %s s" % waited
    msg = "%s is not healthy (%s, %d checks): %s" % (describe_wanted(name, served_pcr0), when, checks, "; ".join(report.problems))
    if params["unit"]:
        journal = journal_tail(module, params["unit"], params["journal_lines"])
        result["journal"] = journal
        msg += ". Last %d lines of the journal of %s:\n%s" % (len(journal), params["unit"], "\n".join(journal) or "(empty)")
    module.fail_json(msg=msg, **result)


if __name__ == "__main__":
    main()
