"""lscpu stand-in: the emulated instance's CPU topology.

The real allocator and the collection's nitro_allocator module read the CPU
topology with lscpu, so on an emulated host lscpu must describe the emulated
instance, not the machine the container runs on. Implements the summary view
and the parseable ``-p[=LIST]`` view (columns CPU, CORE, SOCKET, NODE).
"""

import sys

from nitro_emulator import machine as machine_mod

COLUMNS = {"CPU": lambda m, cpu: cpu, "CORE": lambda m, cpu: m.core_of(cpu),
           "SOCKET": lambda m, cpu: 0, "NODE": lambda m, cpu: m.node_of(cpu)}


def parseable(machine, spec):
    names = [name.strip().upper() for name in (spec or "CPU,CORE,SOCKET,NODE").split(",")]
    unknown = [name for name in names if name not in COLUMNS]
    if unknown:
        sys.stderr.write("lscpu: unknown column: %s\n" % unknown[0])
        return 1
    sys.stdout.write("# The following is the parsable format, which can be fed to other\n"
                     "# programs. Each different item in every column has an unique ID\n"
                     "# starting usually from zero.\n")
    sys.stdout.write("# %s\n" % ",".join(name.capitalize() if name != "CPU" else name for name in names))
    for cpu in range(machine.vcpus):
        sys.stdout.write(",".join(str(COLUMNS[name](machine, cpu)) for name in names) + "\n")
    return 0


def summary(machine):
    rows = [
        ("Architecture", "x86_64"),
        ("CPU(s)", machine.vcpus),
        ("On-line CPU(s) list", "0-%d" % (machine.vcpus - 1)),
        ("Thread(s) per core", machine.threads_per_core),
        ("Core(s) per socket", machine.cores),
        ("Socket(s)", 1),
        ("NUMA node(s)", machine.numa_nodes),
    ]
    for label, value in rows:
        sys.stdout.write("%-23s %s\n" % (label + ":", value))
    return 0


def main(argv):
    try:
        machine = machine_mod.load()
    except machine_mod.MachineConfigError as exc:
        sys.stderr.write("lscpu: %s\n" % exc)
        return 1
    for arg in argv:
        if arg == "-p" or arg == "--parse":
            return parseable(machine, None)
        if arg.startswith("-p=") or arg.startswith("--parse="):
            return parseable(machine, arg.split("=", 1)[1])
    if argv:
        sys.stderr.write("lscpu: only the summary and -p[=LIST] are emulated\n")
        return 1
    return summary(machine)
