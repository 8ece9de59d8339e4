#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: enclave_info
short_description: Report the enclaves, enclave images, service units and ports of a Nitro Enclaves host
version_added: 0.1.0
description:
  - Reads what an enclave host runs, without changing anything, for the fleet report
    (C(playbooks/status.yml)) and for monitoring.
  - "The enclaves: C(nitro-cli describe-enclaves) (name, ID, CID, state, flags, CPUs, memory and
    measurements)."
  - The enclave images (EIF files) the collection installed, measured the way the Nitro hypervisor
    measures them (the library of M(opencontracts.enclave.pcr_verify)), with the install record the role
    C(enclave_build) writes next to each image (C(<image>.json)).
  - The state and uptime of the service units that keep the enclaves up, from C(systemctl show).
  - Whether the configured host ports accept TCP connections.
  - A host without C(nitro-cli), without a running enclave, without a unit or without an image is a
    normal result, not a failure; RV(notes) says what is missing. The module fails only on invalid
    arguments.
options:
  eif_paths:
    description:
      - Absolute paths of the enclave images to report. A path that does not exist is reported with
        RV(eifs[].exists=false).
      - The defaults are where the role C(enclave_build) installs the oracle and the registry image.
    type: list
    elements: path
    default: [/opt/opencontracts/oracle.eif, /opt/opencontracts/registry.eif]
  measure_eifs:
    description:
      - Compute the PCRs of every image that exists (one SHA-384 pass over the file, a few seconds for a
        multi-GiB image).
      - When false, only the size, the modification time and the install record are reported.
    type: bool
    default: true
  services:
    description:
      - The systemd units to report. A unit that does not exist is reported with RV(services[].load_state=not-found).
    type: list
    elements: str
    default: [opencontracts-oracle.service, opencontracts-registry.service]
  journal_lines:
    description:
      - For every unit of O(services) that is loaded but not active (stopped, failed, given up after repeated
        crashes), this many of its last journal lines are reported in RV(services[].journal), which tells why it stopped.
      - C(0) reads no journal.
    type: int
    default: 10
  ports:
    description:
      - TCP ports of the host to probe with a connect. Port 8080 is where oracles and registries serve.
      - An empty list probes nothing.
    type: list
    elements: int
    default: [8080]
  port_host:
    description:
      - The address the ports are probed on, from the host itself.
    type: str
    default: 127.0.0.1
  port_timeout:
    description:
      - Seconds to wait for each TCP connection (more than 0, at most 60).
    type: float
    default: 2.0
  nitro_cli_path:
    description:
      - Path of the C(nitro-cli) binary. By default it is looked up in C(PATH), C(/usr/bin), C(/usr/local/bin)
        and C(/usr/sbin).
    type: path
extends_documentation_fragment:
  - opencontracts.enclave.attributes
  - opencontracts.enclave.attributes.read_only
attributes:
  platform:
    details: Runs on the enclave host (Amazon Linux, Debian, Ubuntu with the Nitro CLI); systemd for the unit states.
requirements:
  - Python 3.8 or later on the managed host.
  - The Python package C(cbor2) on the managed host, only to measure signed images.
notes:
  - The uptime is computed from the unit's C(ActiveEnterTimestampMonotonic) and the host's monotonic clock, so
    it is right even when the wall clock jumps.
  - Use C(become) when the images or C(/dev/nitro_enclaves) are readable by root only.
  - The module never connects to an enclave's own protocol (an oracle serves one user session at a time); a TCP
    connect that is closed at once is the only port probe.
seealso:
  - module: opencontracts.enclave.pcr_verify
  - name: The fleet report
    description: C(playbooks/status.yml) gathers this module's result from every host and builds the report
      described in C(docs/fleet-report.md).
    link: https://github.com/open-contracts/ansible-collection-enclave/blob/main/docs/fleet-report.md
author:
  - Open Contracts enclave collection contributors (@open-contracts)
"""

EXAMPLES = r"""
- name: What does this oracle host run?
  opencontracts.enclave.enclave_info:
  become: true
  register: info

- name: Show each enclave
  ansible.builtin.debug:
    msg: "{{ item.name }} {{ item.state }} {{ item.flags }} PCR0 {{ item.measurements.PCR0 | default('-') }}"
  loop: "{{ info.enclaves }}"

- name: Only the registry, its unit and two ports, without measuring the image
  opencontracts.enclave.enclave_info:
    eif_paths: [/opt/opencontracts/registry.eif]
    measure_eifs: false
    services: [opencontracts-registry.service]
    ports: [8080, 8081]
  become: true
  register: registry_info

- name: Fail when port 8080 does not accept connections
  ansible.builtin.assert:
    that: info.ports | selectattr('port', 'equalto', 8080) | map(attribute='open') | first
    fail_msg: "nothing accepts TCP connections on port 8080 of {{ inventory_hostname }}"
"""

RETURN = r"""
checked_at:
  description: When the host was probed, UTC, ISO 8601.
  returned: always
  type: str
  sample: "2026-11-27T09:14:03Z"
nitro_cli:
  description: The Nitro CLI of the host.
  returned: always
  type: dict
  contains:
    available:
      description: Whether C(nitro-cli) was found.
      type: bool
    path:
      description: Its path, or null.
      type: str
    version:
      description: Its version from C(nitro-cli --version), or null.
      type: str
    error:
      description: Why it is missing, or why C(describe-enclaves) failed; null when it worked.
      type: str
    hint:
      description: What to do about RV(nitro_cli.error), or null.
      type: str
  sample: {available: true, path: /usr/bin/nitro-cli, version: 1.4.2, error: null, hint: null}
enclaves:
  description: The enclaves C(nitro-cli describe-enclaves) lists (empty when none runs or nitro-cli is missing).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: C(EnclaveName).
      type: str
    id:
      description: C(EnclaveID).
      type: str
    process_id:
      description: C(ProcessID) of the enclave's process on the host.
      type: int
    cid:
      description: C(EnclaveCID), the enclave's vsock context ID.
      type: int
    state:
      description: C(State), C(RUNNING), C(TERMINATING) or C(EMPTY).
      type: str
    flags:
      description: C(Flags), C(NONE) or C(DEBUG_MODE).
      type: str
    cpu_count:
      description: C(NumberOfCPUs).
      type: int
    cpu_ids:
      description: C(CPUIDs).
      type: list
      elements: int
    memory_mib:
      description: C(MemoryMiB).
      type: int
    measurements:
      description: C(Measurements) without C(HashAlgorithm), PCR values in lowercase hex.
      type: dict
  sample:
    - name: oracle
      id: i-0123456789abcdef0-enc0123456789abcdef
      process_id: 4181
      cid: 16
      state: RUNNING
      flags: NONE
      cpu_count: 2
      cpu_ids: [1, 9]
      memory_mib: 11000
      measurements:
        PCR0: ba19b0568898f7eed74c911b29cccd6d026f918fa77953a705f142d06d33f51dfb00bda8f4e90e13755374548b0430e4
        PCR1: bcdf05fefccaa8e55bf2c8d6dee9e79bbff31e34bf28a99aa19e6b29c37ee80b214a414b7607236edf26fcb78654e63f
        PCR2: 21b9efbc184807662e966d34f390821309eeac6802309798826296bf3e8bec7c10edb30948c90ba67310f7b964fc500a
eifs:
  description: One entry per O(eif_paths), in that order.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The image's path.
      type: str
    exists:
      description: Whether it is a file.
      type: bool
    size:
      description: Its size in bytes, or null.
      type: int
    mtime:
      description: Its modification time, UTC, ISO 8601, or null.
      type: str
    measured:
      description: Whether its PCRs were computed.
      type: bool
    measurements:
      description: Its PCRs (C(PCR0), C(PCR1), C(PCR2), C(PCR8) for signed images), lowercase hex; empty when not measured.
      type: dict
    crc_ok:
      description: Whether the CRC in its header matches its content, or null when not measured.
      type: bool
    eif_version:
      description: The EIF format version, or null when not measured.
      type: int
    is_signed:
      description: Whether it has a signature section, or null when not measured.
      type: bool
    record_path:
      description: Where its install record is expected (C(<path>.json)).
      type: str
    record:
      description:
        - The install record written by the role C(enclave_build), or null when there is none. Only the keys
          C(kind), C(sha256), C(size), C(measurements), C(matched_pcr0), C(permitted), C(method), C(commit) and
          C(repo_version) are returned.
      type: dict
    record_matches:
      description: Whether the measured PCR0 equals the PCR0 of the install record; null when either is unknown.
      type: bool
    error:
      description: Why the image or its record could not be read or measured, or null.
      type: str
services:
  description: One entry per O(services), in that order.
  returned: always
  type: list
  elements: dict
  contains:
    unit:
      description: The unit's name.
      type: str
    load_state:
      description: C(LoadState), for example C(loaded) or C(not-found).
      type: str
    active_state:
      description: C(ActiveState), for example C(active), C(activating), C(inactive) or C(failed).
      type: str
    sub_state:
      description: C(SubState), for example C(running) or C(dead).
      type: str
    unit_file_state:
      description: C(UnitFileState), for example C(enabled).
      type: str
    result:
      description: C(Result) of the last run, for example C(success) or C(exit-code).
      type: str
    main_pid:
      description: C(MainPID) (0 when nothing runs).
      type: int
    restarts:
      description: C(NRestarts), how often systemd restarted it automatically; null when systemd does not report it.
      type: int
    invocation_id:
      description: C(InvocationID), which changes at every start.
      type: str
    active_since:
      description: C(ActiveEnterTimestamp) as systemd prints it, or null.
      type: str
    uptime_seconds:
      description: Whole seconds since the unit became active; null when it is not active.
      type: int
    journal:
      description:
        - >-
          The last O(journal_lines) journal lines of a loaded unit that is not active, oldest first, each as
          C(<identifier>: <message>), so that the service's own lines (its C(SyslogIdentifier)) and systemd's
          (C(systemd: ...), for example C(Start request repeated too quickly.)) can be told apart; null for an
          active or missing unit.
      type: list
      elements: str
    error:
      description: Why the unit could not be read (no systemctl, systemctl failed), or null.
      type: str
  sample:
    - unit: opencontracts-oracle.service
      load_state: loaded
      active_state: active
      sub_state: running
      unit_file_state: enabled
      result: success
      main_pid: 4170
      restarts: 0
      invocation_id: 3f1e0c6b9d7a4e2f8c5b1a0d9e8f7a6b
      active_since: Thu 2026-11-26 08:00:00 UTC
      uptime_seconds: 90243
      journal: null
      error: null
ports:
  description: One entry per O(ports), in that order.
  returned: always
  type: list
  elements: dict
  contains:
    host:
      description: The address probed (O(port_host)).
      type: str
    port:
      description: The port.
      type: int
    open:
      description: Whether the TCP connection was accepted.
      type: bool
    error:
      description: Why it was not (for example C(Connection refused)), or null.
      type: str
    seconds:
      description: How long the probe took.
      type: float
  sample:
    - {host: 127.0.0.1, port: 8080, open: true, error: null, seconds: 0.001}
notes:
  description: Sentences about what is missing (no nitro-cli, no enclave, nitro-cli failing); empty when nothing is.
  returned: always
  type: list
  elements: str
  sample: ["no enclave is running (nitro-cli describe-enclaves lists none)"]
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.opencontracts.enclave.plugins.module_utils.enclave_info import (
    DEFAULT_EIF_PATHS,
    DEFAULT_JOURNAL_LINES,
    DEFAULT_PORT_HOST,
    DEFAULT_PORT_TIMEOUT,
    DEFAULT_PORTS,
    DEFAULT_SERVICES,
    EnclaveInfoError,
    gather,
    validate_params,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            eif_paths=dict(type="list", elements="path", default=list(DEFAULT_EIF_PATHS)),
            measure_eifs=dict(type="bool", default=True),
            services=dict(type="list", elements="str", default=list(DEFAULT_SERVICES)),
            journal_lines=dict(type="int", default=DEFAULT_JOURNAL_LINES),
            ports=dict(type="list", elements="int", default=list(DEFAULT_PORTS)),
            port_host=dict(type="str", default=DEFAULT_PORT_HOST),
            port_timeout=dict(type="float", default=DEFAULT_PORT_TIMEOUT),
            nitro_cli_path=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    try:
        validate_params(module.params)
    except EnclaveInfoError as exc:
        module.fail_json(msg=str(exc), changed=False)
    module.exit_json(changed=False, **gather(module, module.params))


if __name__ == "__main__":
    main()
