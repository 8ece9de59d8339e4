"""nitro-enclaves-allocator: reserve CPUs and hugepage memory for enclaves.

The real program is a bash script that reads /etc/nitro_enclaves/allocator.yaml
with `while read line`; this module reproduces that parser and its traps, then
"reserves" resources by writing /run/nitro_emulator/allocator.json. Every
message goes to stdout (the script echoes); failures print `Error: ...` and
exit 1.
"""

import datetime
import re
import sys

from . import machine as machine_mod
from . import paths, state

try:
    from . import attestation
except ImportError:  # the host lacks python3-cryptography: enclaves serve no attestation documents
    attestation = None

KNOWN_KEYS = ("memory_mib", "cpu_count", "cpu_pool")


class AllocatorError(Exception):
    """A failure; str() is the text after `Error: `."""


class _KeepReservation(AllocatorError):
    """A failure that leaves the current reservation in place (enclaves still hold it)."""


def bash_read_lines(data):
    """What `while read line` sees: one string per complete line.

    Like bash `read` without -r and with the default IFS: a backslash escapes the
    next character (a trailing backslash joins the next line), unescaped leading
    and trailing blanks are stripped, and a last line without a newline is lost.
    """
    text = data.decode("utf-8", "replace").replace("\0", "")
    lines = []
    chars = []  # (character, escaped)
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            following = text[index + 1]
            if following != "\n":
                chars.append((following, True))
            index += 2
            continue
        if char == "\\":
            index += 1
            continue
        if char == "\n":
            lines.append(_strip_ifs(chars))
            chars = []
        else:
            chars.append((char, False))
        index += 1
    return lines  # a final line without "\n" makes read fail: the loop body never sees it


def _strip_ifs(chars):
    start, end = 0, len(chars)
    while start < end and chars[start][0] in " \t" and not chars[start][1]:
        start += 1
    while end > start and chars[end - 1][0] in " \t" and not chars[end - 1][1]:
        end -= 1
    return "".join(char for char, _escaped in chars[start:end])


def parse_config(data, shown_path=paths.ALLOCATOR_YAML):
    """{key: value} from allocator.yaml bytes, with the real script's errors."""
    values = {}
    started = False
    for number, line in enumerate(bash_read_lines(data), 1):
        if line.startswith("#"):
            continue
        if not started:
            started = line == "---"
            continue
        before_colon = line.split(":", 1)[0]
        match = re.match(r"[-_a-zA-Z0-9]+", before_colon)
        key = match.group(0) if match else ""
        if key not in KNOWN_KEYS:
            raise AllocatorError("Error in %s:%d - unexpected: %s" % (shown_path, number, key))
        value = line.rsplit(":", 1)[-1]
        value = value.lstrip(" \t")
        if value.startswith('"'):
            value = value[1:]
        if value.endswith('"'):
            value = value[:-1]
        if not value:
            raise AllocatorError("Error in %s:%d - missing value for %s" % (shown_path, number, key))
        values[key] = value
    if "memory_mib" not in values:
        raise AllocatorError("Config error: missing memory reservation (`memory_mib`).")
    if "cpu_count" not in values and "cpu_pool" not in values:
        raise AllocatorError("Config error: missing CPU reservation (either `cpu_count` or `cpu_pool`).")
    if "cpu_count" in values and "cpu_pool" in values:
        raise AllocatorError("Config error: `cpu_count` conflicts with `cpu_pool`.")
    return values


def parse_cpulist(text):
    """CPU ids of a Linux cpulist such as `2,3,6-9`; None when malformed."""
    cpus = []
    for item in text.split(","):
        match = re.match(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$", item)
        if not match:
            return None
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) is not None else first
        if last < first:
            return None
        cpus.extend(cpu for cpu in range(first, last + 1) if cpu not in cpus)
    return cpus


def pool_by_count(machine, text):
    print("Auto-generating the enclave CPU pool by using the CPU count...")
    if not re.match(r"^[0-9]+$", text):
        raise AllocatorError("The CPU count value (%s) is invalid." % text)
    count = int(text)
    if count <= 0:
        raise AllocatorError("Provided CPU count is not higher than 0.")
    if count > machine.vcpus:
        raise AllocatorError("Provided CPU count is higher than available CPUs - %d." % machine.vcpus)
    if count % machine.threads_per_core:
        raise AllocatorError("The CPU count is not multiple of %d (threads per core)." % machine.threads_per_core)
    cores_needed = count // machine.threads_per_core
    parent_core = machine.core_of(0)
    for node in range(machine.numa_nodes):
        cores = [core for core in range(machine.cores) if core != parent_core and machine.node_of_core(core) == node]
        if len(cores) >= cores_needed:
            pool = []
            for core in cores[:cores_needed]:
                pool.extend(machine.siblings(core))
            print("Auto-generated the enclave CPU pool: %s." % ",".join(str(cpu) for cpu in pool))
            return pool
    raise AllocatorError("Failed to find suitable CPUs for the Nitro Enclaves CPU pool after checking all NUMA nodes.")


def pool_by_list(machine, text):
    cpus = parse_cpulist(text)
    if not cpus:
        raise AllocatorError("Failed to configure the CPU pool.")
    parent = set(machine.siblings(0))
    for cpu in cpus:
        # The driver refuses CPUs that do not exist, CPU 0's core, partial cores and several NUMA nodes.
        if cpu >= machine.vcpus or cpu in parent or not set(machine.siblings(cpu)) <= set(cpus):
            raise AllocatorError("Failed to configure the CPU pool.")
    if len({machine.node_of(cpu) for cpu in cpus}) > 1:
        raise AllocatorError("Failed to configure the CPU pool.")
    return cpus


def configure_memory(machine, text):
    print("Configuring the huge page memory...")
    if not re.match(r"^[0-9]+$", text):
        raise AllocatorError("The needed memory amount (%s) is invalid." % text)
    requested = int(text)
    reserved = (requested + 1) // 2 * 2  # whole 2 MiB hugepages, rounded up
    if reserved > machine.allocatable_memory_mib():
        print("Memory configuration failed, rolling back memory reservations...")
        raise AllocatorError("Failed to configure entire amount of requested memory. This indicates insufficient system resources.")
    return requested, reserved


def allocate():
    """One allocator run; raises AllocatorError. Returns the success line."""
    try:
        with open(paths.host(paths.ALLOCATOR_YAML), "rb") as handle:
            data = handle.read()
    except OSError:
        raise AllocatorError("Config file %s not found." % paths.ALLOCATOR_YAML)
    values = parse_config(data)
    try:
        machine = machine_mod.load()
    except machine_mod.MachineConfigError as exc:
        raise AllocatorError("nitro-emulator: invalid %s: %s" % (paths.MACHINE_CONF, exc))
    if not machine.driver:
        raise AllocatorError("The CPU pool file is missing. Please make sure the Nitro Enclaves driver is inserted.")
    if state.running_enclaves():
        raise _KeepReservation("Could not re-online CPUs because there is at least one enclave currently running. "
                               "Make sure you stop all enclaves prior to re-starting the nitro-enclaves-allocator.service.")
    state.remove_reservation()  # the previous pool is released first, as the real script re-onlines its CPUs
    if "cpu_count" in values:
        cpus = pool_by_count(machine, values["cpu_count"])
        mode = "cpu_count"
    else:
        cpus = pool_by_list(machine, values["cpu_pool"])
        mode = "cpu_pool"
    requested, reserved = configure_memory(machine, values["memory_mib"])
    pool_text = ",".join(str(cpu) for cpu in cpus)
    state.write_reservation({
        "memory_mib": reserved,
        "requested_memory_mib": requested,
        "cpu_ids": cpus,
        "cpu_pool": pool_text,
        "mode": mode,
        "time": datetime.datetime.now(datetime.timezone.utc).isoformat(),
    })
    if mode == "cpu_count":
        return "Successfully allocated Nitro Enclaves resources: %d MiB, %d CPUs" % (requested, len(cpus))
    return "Successfully allocated Nitro Enclaves resources: %d MiB, CPU pool: %s" % (requested, pool_text)


def main(argv=None):
    del argv  # the real script takes no arguments
    # The emulated NSM's CA, made once when the host boots (this service runs at boot), so that its
    # root (/var/lib/nitro_emulator/attestation/root.pem) is there before any enclave attests.
    if attestation is not None:
        try:
            attestation.ensure_ca()
        except OSError as exc:
            print("Warning: cannot create the emulated attestation CA: %s" % exc, file=sys.stderr)
    try:
        with state.state_lock():
            try:
                print(allocate())
            except _KeepReservation:
                raise
            except AllocatorError:
                state.remove_reservation()
                raise
    except AllocatorError as exc:
        print("Error: %s" % exc)
        sys.stdout.flush()
        return 1
    except OSError as exc:
        print("Error: %s" % exc)
        return 1
    sys.stdout.flush()
    return 0
