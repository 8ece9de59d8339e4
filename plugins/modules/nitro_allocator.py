#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: nitro_allocator
short_description: Configure the memory and CPUs reserved for Nitro Enclaves
version_added: 0.1.0
description:
  - Writes C(/etc/nitro_enclaves/allocator.yaml) so that the Nitro Enclaves allocator reads exactly the
    requested memory and CPUs, and (re)starts C(nitro-enclaves-allocator.service) to reserve them.
  - The allocator's parser is not YAML. The module writes what it accepts (a C(---) line, one line per key,
    comments on lines of their own, a final newline), keeps the operator's comment lines and repairs files
    the allocator would refuse or misread (blank lines, inline comments, both CPU keys, no final newline).
  - Requested values are checked against the host before anything is written. C(cpu_count) must be a
    multiple of the threads per core and leave CPU 0's core to the parent instance; C(cpu_pool) must be a
    CPU list of whole cores without CPU 0; C(memory_mib) must leave O(host_reserved_mib) to the parent.
  - Nothing is written when the allocator already reads the requested values.
author:
  - Open Contracts enclave collection contributors (@open-contracts)
options:
  memory_mib:
    description:
      - Memory to reserve for enclaves, in MiB. Enclaves started later can use at most this much in total.
      - An enclave needs at least four times the size of its image file.
    type: int
    required: true
  cpu_count:
    description:
      - Number of CPUs to reserve. Whole cores are taken, lowest first, never CPU 0's core.
      - Mutually exclusive with O(cpu_pool).
    type: int
  cpu_pool:
    description:
      - The exact CPUs to reserve, as a CPU list such as C(1,9) or C(2-3,10-11).
      - A CPU above the host's highest is refused before any range is expanded.
      - Mutually exclusive with O(cpu_count).
    type: str
  path:
    description: The allocator's configuration file.
    type: path
    default: /etc/nitro_enclaves/allocator.yaml
  apply:
    description:
      - Restart C(nitro-enclaves-allocator.service) when the file changed or the service is not active, so
        the reservation takes effect, and report the allocator's error when it fails.
      - With V(false) the module only validates and writes the file; then it works on any Linux host,
        without the Nitro Enclaves driver or service.
    type: bool
    default: true
  terminate_running:
    description:
      - The allocator cannot be restarted while an enclave runs.
      - With V(false), a needed restart with running enclaves fails and names them.
      - With V(true), running enclaves are terminated first.
    type: bool
    default: false
  host_reserved_mib:
    description: Memory, in MiB, that must stay with the parent instance.
    type: int
    default: 2048
  fix_settings:
    description:
      - The names the operator sets O(memory_mib) and O(cpu_count) or O(cpu_pool) with (for example a role's
        variables). When the host cannot give the reservation (the request is refused, or the allocator fails to
        reserve it), the failure message then ends with which of them to lower, with their values, and O(fix_settings.note).
    type: dict
    suboptions:
      memory_mib:
        description: The name of the setting that gives O(memory_mib).
        type: str
        required: true
      cpu_count:
        description: The name of the setting that gives O(cpu_count).
        type: str
      cpu_pool:
        description: The name of the setting that gives O(cpu_pool).
        type: str
      note:
        description: Said last, for example what else must still fit.
        type: str
        default: ""
extends_documentation_fragment:
  - opencontracts.enclave.attributes
  - opencontracts.enclave.attributes.files
attributes:
  check_mode:
    details: Reports what would be written and whether the service would restart; changes nothing.
  platform:
    details: Runs on the Nitro Enclaves parent instance.
notes:
  - The host's CPU topology comes from C(lscpu) and its memory from C(/proc/meminfo).
  - Enclaves are listed and terminated with C(nitro-cli); it is needed only when a restart is due.
seealso:
  - name: Nitro Enclaves CLI configuration
    description: The allocator service and its configuration file.
    link: https://docs.aws.amazon.com/enclaves/latest/user/nitro-enclave-cli-install.html
"""

EXAMPLES = r"""
- name: Reserve memory and CPUs for an oracle enclave, as the provider guide does
  opencontracts.enclave.nitro_allocator:
    memory_mib: 11000
    cpu_count: 2

- name: Reserve two explicit cores and terminate enclaves if a restart is needed
  opencontracts.enclave.nitro_allocator:
    memory_mib: 16384
    cpu_pool: "1-2,9-10"
    terminate_running: true

- name: Reserve what the role variables say; a failure names the variable to lower
  opencontracts.enclave.nitro_allocator:
    memory_mib: "{{ my_enclave_memory_mib }}"
    cpu_count: "{{ my_enclave_cpu_count }}"
    fix_settings:
      memory_mib: my_enclave_memory_mib
      cpu_count: my_enclave_cpu_count
      note: The enclave's own memory must still fit.

- name: Only write and validate the file (an image build host without the driver)
  opencontracts.enclave.nitro_allocator:
    memory_mib: 11000
    cpu_count: 2
    apply: false
"""

RETURN = r"""
config:
  description: The values the allocator reads, before and after the module ran.
  returned: always
  type: dict
  contains:
    before:
      description: Values in the file before (only those the allocator would see).
      type: dict
      sample: {memory_mib: 512, cpu_count: 2}
    after:
      description: Values in the file after.
      type: dict
      sample: {memory_mib: 11000, cpu_count: 2}
  sample: {before: {memory_mib: 512, cpu_count: 2}, after: {memory_mib: 11000, cpu_count: 2}}
repaired:
  description: What in the previous file the allocator would have refused or misread.
  returned: always
  type: list
  elements: str
  sample: ["line 3: unexpected key '' (a blank line)"]
enclave_cpus:
  description: The CPUs the reservation gives to enclaves on this host.
  returned: always
  type: list
  elements: int
  sample: [1, 9]
restarted:
  description: Whether the allocator service was (or, in check mode, would be) restarted.
  returned: always
  type: bool
terminated:
  description: IDs of the enclaves terminated before the restart.
  returned: always
  type: list
  elements: str
allocator_error:
  description: The allocator's own output when the service failed to start.
  returned: when the restart failed
  type: str
  sample: "Error: Failed to configure entire amount of requested memory. This indicates insufficient system resources."
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.opencontracts.enclave.plugins.module_utils import allocator
from ansible_collections.opencontracts.enclave.plugins.module_utils.nitro_cli import (
    NitroCliError, NitroCliNotFoundError, describe_enclaves, run_nitro_cli)

SERVICE = "nitro-enclaves-allocator.service"
MEMINFO = "/proc/meminfo"
C_LOCALE = {"LANG": "C", "LC_ALL": "C", "LC_MESSAGES": "C"}


def host_topology(module):
    lscpu = module.get_bin_path("lscpu", required=True)
    rc, out, err = module.run_command([lscpu, "-p=CPU,CORE"], environ_update=C_LOCALE)
    if rc != 0:
        module.fail_json(msg="lscpu failed: %s" % (err or out).strip())
    with open(MEMINFO) as meminfo:
        memory_mib = allocator.parse_meminfo(meminfo.read())
    return allocator.Topology(allocator.parse_lscpu(out), memory_mib)


def service_active(module):
    systemctl = module.get_bin_path("systemctl", required=True)
    rc, _out, _err = module.run_command([systemctl, "is-active", "--quiet", SERVICE], environ_update=C_LOCALE)
    return rc == 0


def allocator_journal(module):
    journalctl = module.get_bin_path("journalctl")
    if not journalctl:
        return ""
    _rc, out, _err = module.run_command([journalctl, "-u", SERVICE, "-n", "20", "--no-pager", "-o", "cat"],
                                        environ_update=C_LOCALE)
    # The lines of the last run: from the last start announcement on.
    lines = out.strip().splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("Starting ")]
    return "\n".join(lines[starts[-1] + 1:] if starts else lines).strip()


def stop_running_enclaves(module, result):
    """The allocator cannot restart while enclaves run: refuse, or terminate them when allowed."""
    try:
        running = [e for e in describe_enclaves(module) if e.get("State") == "RUNNING"]
    except NitroCliNotFoundError:
        if module.check_mode:
            module.warn("nitro-cli is not installed yet: cannot tell whether enclaves would block the restart")
            return
        module.fail_json(msg="nitro-cli is not installed: cannot list running enclaves before restarting %s" % SERVICE,
                         **result)
    except NitroCliError as exc:
        module.fail_json(msg="cannot list running enclaves before restarting %s: %s" % (SERVICE, exc), **result)
    if running and not module.params["terminate_running"]:
        names = ", ".join("%s (%s)" % (e.get("EnclaveName"), e.get("EnclaveID")) for e in running)
        module.fail_json(msg="%s must be restarted to apply the new reservation, but enclaves are running: %s. "
                             "Nothing was changed. Stop them first or set terminate_running=true." % (SERVICE, names),
                         **result)
    for enclave in running:
        result["terminated"].append(enclave["EnclaveID"])
        if module.check_mode:
            continue
        try:
            run_nitro_cli(module, ["terminate-enclave", "--enclave-id", enclave["EnclaveID"]])
        except NitroCliError as exc:
            module.fail_json(msg="could not terminate enclave %s: %s" % (enclave.get("EnclaveID"), exc), **result)


def with_fix_hint(msg, params):
    """``msg``, and when O(fix_settings) is given, which of those settings to change (the host cannot give them)."""
    names = params["fix_settings"]
    if not names:
        return msg
    cpus = ""
    if params["cpu_pool"] and names["cpu_pool"]:
        cpus = " or %s (now %s)" % (names["cpu_pool"], params["cpu_pool"])
    elif params["cpu_count"] is not None and names["cpu_count"]:
        cpus = " or %s (now %d)" % (names["cpu_count"], params["cpu_count"])
    hint = " To fix it, lower %s (now %d MiB)%s for this host, or move it to a larger instance type." % (
        names["memory_mib"], params["memory_mib"], cpus)
    msg = msg.rstrip()
    return msg + ("" if msg.endswith(".") else ".") + hint + (" " + names["note"] if names["note"] else "")


def restart(module, result):
    """Restart the allocator service; fail with the allocator's own error."""
    systemctl = module.get_bin_path("systemctl", required=True)
    rc, out, err = module.run_command([systemctl, "restart", SERVICE], environ_update=C_LOCALE)
    result["restarted"] = True
    if rc != 0:
        detail = allocator_journal(module) or (err or out).strip()
        result["allocator_error"] = detail
        module.fail_json(msg=with_fix_hint("%s failed to reserve %s MiB and the CPUs: %s" % (
            SERVICE, module.params["memory_mib"], detail), module.params), **result)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            memory_mib=dict(type="int", required=True),
            cpu_count=dict(type="int"),
            cpu_pool=dict(type="str"),
            path=dict(type="path", default="/etc/nitro_enclaves/allocator.yaml"),
            apply=dict(type="bool", default=True),
            terminate_running=dict(type="bool", default=False),
            host_reserved_mib=dict(type="int", default=2048),
            fix_settings=dict(type="dict", options=dict(
                memory_mib=dict(type="str", required=True),
                cpu_count=dict(type="str"),
                cpu_pool=dict(type="str"),
                note=dict(type="str", default=""),
            )),
        ),
        mutually_exclusive=[("cpu_count", "cpu_pool")],
        required_one_of=[("cpu_count", "cpu_pool")],
        supports_check_mode=True,
    )
    params = module.params
    path = params["path"]
    result = dict(changed=False, restarted=False, terminated=[], repaired=[], enclave_cpus=[], config={})

    try:
        topology = host_topology(module)
        result["enclave_cpus"] = allocator.validate(
            topology, params["memory_mib"], cpu_count=params["cpu_count"], cpu_pool=params["cpu_pool"],
            host_reserved_mib=params["host_reserved_mib"])
    except allocator.AllocatorConfigError as exc:
        module.fail_json(msg=with_fix_hint("refusing to configure the Nitro Enclaves allocator: %s" % exc, params), **result)
    except (IOError, OSError) as exc:
        module.fail_json(msg="cannot read the host's CPUs and memory: %s" % to_native(exc), **result)

    try:
        with open(path) as current:
            before_text = current.read()
    except (IOError, OSError) as exc:
        if os.path.exists(path):
            module.fail_json(msg="cannot read %s: %s" % (path, to_native(exc)), **result)
        before_text = ""

    wanted = dict(memory_mib=params["memory_mib"])
    if params["cpu_count"] is not None:
        wanted["cpu_count"] = params["cpu_count"]
    else:
        wanted["cpu_pool"] = ",".join(str(cpu) for cpu in allocator.parse_cpulist(params["cpu_pool"]))

    before_values, problems = allocator.parse(before_text)
    result["repaired"] = problems
    result["config"]["before"] = allocator.typed_config(before_values)
    result["config"]["after"] = allocator.typed_config(wanted)
    file_changed = bool(problems) or result["config"]["before"] != result["config"]["after"]

    needs_restart = params["apply"] and (file_changed or not service_active(module))
    if needs_restart:
        # Before anything is written: a refused restart must leave the file as it was.
        stop_running_enclaves(module, result)

    if file_changed:
        after_text = allocator.render(before_text, wanted)
        result["changed"] = True
        if module._diff:
            result["diff"] = dict(before=before_text, after=after_text, before_header=path, after_header=path)
        if not module.check_mode:
            write(module, path, after_text, result)

    if needs_restart:
        result["changed"] = True
        if module.check_mode:
            result["restarted"] = True
        else:
            restart(module, result)

    module.exit_json(**result)


def write(module, path, text, result):
    """Replace the file atomically, keeping its owner and mode (0644 for a new file)."""
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        module.fail_json(msg="%s does not exist: is the Nitro Enclaves CLI installed?" % directory, **result)
    tmp_path = os.path.join(directory, ".%s.ansible-tmp" % os.path.basename(path))
    try:
        with open(tmp_path, "w") as tmp:
            tmp.write(text)
        if not os.path.exists(path):
            os.chmod(tmp_path, 0o644)
        module.atomic_move(tmp_path, path)
    except (IOError, OSError) as exc:
        module.fail_json(msg="cannot write %s: %s" % (path, to_native(exc)), **result)
    finally:
        if os.path.exists(tmp_path):
            os.unlink(tmp_path)


if __name__ == "__main__":
    main()
