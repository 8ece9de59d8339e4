# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The Nitro Enclaves allocator's configuration file, as its real parser reads it.

``/etc/nitro_enclaves/allocator.yaml`` looks like YAML but is read by a shell
loop with its own rules: nothing before a line that is exactly ``---`` counts,
a blank line or an unknown key after it is fatal, inline comments are part of
the value, and a last line without a newline is lost. This module reads a file
the way that parser does, writes files it accepts, and checks requested values
against the host's CPU topology before anything is written.
"""

import re

KEYS = ("memory_mib", "cpu_count", "cpu_pool")
CPU_KEYS = ("cpu_count", "cpu_pool")
DOCUMENT_START = "---"
_KEY_RE = re.compile(r"^([-_a-zA-Z0-9]+)")
_CPULIST_RE = re.compile(r"[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*\Z", re.ASCII)
# Linux numbers at most 8192 CPUs (the largest CONFIG_NR_CPUS): a CPU list is refused above CPU 8191
# before any range in it is expanded, so "1-200000000" or a 5000-digit number is a message, not gigabytes
# of memory or a ValueError from int().
MAX_CPUS = 8192


class AllocatorConfigError(ValueError):
    """A value or file the allocator would refuse; the message says why."""


class CpuListBeyondError(AllocatorConfigError):
    """A well-formed CPU list that names a CPU above the largest allowed; ``beyond`` lists the parts that do."""

    def __init__(self, message, beyond):
        super(CpuListBeyondError, self).__init__(message)
        self.beyond = beyond


def _shorten(text, limit=40):
    text = str(text)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def format_cpulist(cpus):
    """``[0, 1, 2, 5]`` -> ``'0-2,5'``."""
    parts = []
    for cpu in sorted(cpus):
        if parts and parts[-1][1] == cpu - 1:
            parts[-1][1] = cpu
        else:
            parts.append([cpu, cpu])
    return ",".join(str(first) if first == last else "%d-%d" % (first, last) for first, last in parts)


def parse(text):
    """Read allocator.yaml text as the real allocator does.

    Returns ``(values, problems)``: ``values`` maps the keys the parser would
    see to their raw string values; ``problems`` lists what would make the
    allocator fail (empty when it accepts the file).
    """
    values = {}
    problems = []
    lines = text.split("\n")
    # The shell's `while read` loop never sees a final line without a newline.
    complete_lines = lines[:-1]
    if lines[-1].strip():
        problems.append("the last line has no final newline, so the allocator ignores it: %r" % lines[-1].strip())
    started = False
    for number, raw in enumerate(complete_lines, start=1):
        line = raw.strip()
        if line.startswith("#"):
            continue
        if line == DOCUMENT_START:
            started = True
            continue
        if not started:
            continue
        match = _KEY_RE.match(line.split(":", 1)[0])
        key = match.group(1) if match else ""
        if key not in KEYS:
            problems.append("line %d: unexpected key %r%s" % (number, key, " (a blank line)" if not line else ""))
            continue
        value = line.rsplit(":", 1)[1].strip() if ":" in line else ""
        value = value[1:] if value.startswith('"') else value
        value = value[:-1] if value.endswith('"') else value
        if not value:
            problems.append("line %d: missing value for %s" % (number, key))
            continue
        values[key] = value
    if not started:
        problems.append("no line is exactly '---', so the allocator reads no key")
    if "memory_mib" not in values:
        problems.append("missing memory reservation (memory_mib)")
    elif not values["memory_mib"].isdigit():
        problems.append("memory_mib is not a whole number: %r (inline comments are not allowed)" % values["memory_mib"])
    if "cpu_count" in values and "cpu_pool" in values:
        problems.append("cpu_count conflicts with cpu_pool")
    elif not any(key in values for key in CPU_KEYS):
        problems.append("missing CPU reservation (cpu_count or cpu_pool)")
    return values, problems


def render(text, settings):
    """Return ``text`` rewritten so the allocator reads exactly ``settings``.

    ``settings`` holds ``memory_mib`` and one of ``cpu_count`` / ``cpu_pool``.
    The operator's comment lines are kept in place; key lines are updated where
    they stand; an inline comment moves to a comment line of its own; the other
    CPU key is commented out; blank lines after ``---`` are dropped; the file
    starts its data with ``---`` and ends with a newline.
    """
    wanted = dict((key, str(value)) for key, value in settings.items() if value is not None)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines = lines[:-1]
    before, after, started = [], [], False
    for raw in lines:
        if not started and raw.strip() == DOCUMENT_START:
            started = True
            continue
        (after if started else before).append(raw)
    if not started:
        # Without a document start every key line is ignored; keep such lines as
        # comments so nothing the operator wrote disappears silently.
        before = [line if not line.strip() or line.strip().startswith("#") else "# " + line for line in before]

    written = set()
    out = []
    for raw in after:
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            out.append(raw.rstrip())
            continue
        match = _KEY_RE.match(line.split(":", 1)[0])
        key = match.group(1) if match else ""
        value_part = line.split(":", 1)[1] if ":" in line else ""
        if "#" in value_part:
            out.append("# " + value_part.split("#", 1)[1].strip())
        if key in wanted and key not in written:
            out.append("%s: %s" % (key, wanted[key]))
            written.add(key)
        elif key in KEYS:
            # A superseded CPU key or a duplicate: keep it visible, inactive.
            out.append("# %s: %s" % (key, value_part.split("#", 1)[0].strip()))
        else:
            out.append("# " + line)
    for key in ("memory_mib", "cpu_count", "cpu_pool"):
        if key in wanted and key not in written:
            out.append("%s: %s" % (key, wanted[key]))
    return "\n".join(before + [DOCUMENT_START] + out) + "\n"


def cpulist_ranges(cpulist, max_cpu=MAX_CPUS - 1):
    """``'2,3,6-9'`` -> ``[(2, 2), (3, 3), (6, 9)]``, without expanding the ranges.

    Raises AllocatorConfigError when malformed or descending, and :class:`CpuListBeyondError` when a
    CPU is above ``max_cpu``; the bound is checked on the digits before int(), so a huge number costs
    nothing.
    """
    text = str(cpulist).replace(" ", "")
    if not _CPULIST_RE.match(text):
        raise AllocatorConfigError("cpu_pool %r is not a CPU list such as '2,3' or '2-5,10'" % (_shorten(cpulist),))
    ranges = []
    beyond = []
    for part in text.split(","):
        first, _sep, last = part.partition("-")
        bounds = []
        for number in (first, last or first):
            digits = number.lstrip("0") or "0"
            bounds.append(int(digits) if len(digits) <= len(str(max_cpu)) else max_cpu + 1)
        if bounds[1] > max_cpu or bounds[0] > max_cpu:
            beyond.append(part)
            continue
        if bounds[1] < bounds[0]:
            raise AllocatorConfigError("cpu_pool %r has a descending range %r" % (_shorten(cpulist), part))
        ranges.append(tuple(bounds))
    if beyond:
        raise CpuListBeyondError("cpu_pool %r names CPUs beyond %d: %s; at most CPU %d" % (
            _shorten(cpulist), max_cpu, _shorten(",".join(beyond)), max_cpu), beyond)
    return ranges


def parse_cpulist(cpulist, max_cpu=MAX_CPUS - 1):
    """``'2,3,6-9'`` -> ``[2, 3, 6, 7, 8, 9]``; raises AllocatorConfigError when malformed or above ``max_cpu``."""
    cpus = []
    for start, end in cpulist_ranges(cpulist, max_cpu=max_cpu):
        cpus.extend(range(start, end + 1))
    if len(set(cpus)) != len(cpus):
        raise AllocatorConfigError("cpu_pool %r names a CPU twice" % (_shorten(cpulist),))
    return sorted(cpus)


class Topology(object):
    """The host's CPUs and memory, as far as the allocator cares."""

    def __init__(self, cores_by_cpu, memory_mib):
        self.cores_by_cpu = dict(cores_by_cpu)
        self.memory_mib = memory_mib

    @property
    def cpus(self):
        return sorted(self.cores_by_cpu)

    @property
    def threads_per_core(self):
        per_core = {}
        for core in self.cores_by_cpu.values():
            per_core[core] = per_core.get(core, 0) + 1
        return max(per_core.values()) if per_core else 1

    def siblings(self, cpu):
        core = self.cores_by_cpu.get(cpu)
        return sorted(c for c, k in self.cores_by_cpu.items() if k == core)

    @property
    def parent_cpus(self):
        """CPU 0 and its siblings: they always stay with the parent instance."""
        return self.siblings(0)


def parse_lscpu(output):
    """Map CPU -> core from ``lscpu -p=CPU,CORE`` output."""
    cores = {}
    for line in output.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split(",")
        if len(fields) < 2 or not fields[0].isdigit():
            continue
        cores[int(fields[0])] = fields[1]
    if not cores:
        raise AllocatorConfigError("could not read the CPU topology from lscpu")
    return cores


def parse_meminfo(text):
    """MemTotal in MiB from /proc/meminfo text."""
    for line in text.splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    raise AllocatorConfigError("could not read MemTotal from /proc/meminfo")


def validate(topology, memory_mib, cpu_count=None, cpu_pool=None, host_reserved_mib=2048):
    """Check requested values against the host; return the enclave CPUs the request implies.

    Raises AllocatorConfigError with a message naming the value to change.
    """
    problems = []
    threads = topology.threads_per_core
    available = [cpu for cpu in topology.cpus if cpu not in topology.parent_cpus]
    if memory_mib <= 0:
        problems.append("memory_mib must be more than 0 (got %d)" % memory_mib)
    elif topology.memory_mib is not None and memory_mib > topology.memory_mib - host_reserved_mib:
        problems.append(
            "memory_mib %d leaves less than host_reserved_mib (%d MiB) of the host's %d MiB to the parent instance; "
            "use at most %d" % (memory_mib, host_reserved_mib, topology.memory_mib, topology.memory_mib - host_reserved_mib))
    enclave_cpus = []
    if cpu_count is not None:
        if cpu_count <= 0:
            problems.append("cpu_count must be more than 0 (got %d)" % cpu_count)
        elif cpu_count % threads:
            lower = cpu_count - cpu_count % threads or threads
            problems.append("cpu_count %d is not a multiple of %d (threads per core on this host): whole cores go to "
                            "enclaves; use %d or %d" % (cpu_count, threads, lower, lower + threads))
        elif cpu_count > len(available):
            problems.append("cpu_count %d is more than the %d CPUs this host can give (CPU 0's core, CPUs %s, stays with "
                            "the parent)" % (cpu_count, len(available), ",".join(str(c) for c in topology.parent_cpus)))
        else:
            cores = []
            for cpu in available:
                if topology.cores_by_cpu[cpu] not in cores:
                    cores.append(topology.cores_by_cpu[cpu])
            for core in cores[:cpu_count // threads]:
                enclave_cpus.extend(c for c, k in sorted(topology.cores_by_cpu.items()) if k == core)
    if cpu_pool is not None:
        has = "it has %d CPUs, %s" % (len(topology.cpus), format_cpulist(topology.cpus))
        try:
            # Bounded by the host's highest CPU before a range is expanded.
            pool = parse_cpulist(cpu_pool, max_cpu=max(topology.cpus))
        except CpuListBeyondError as exc:
            problems.append("cpu_pool names CPUs this host does not have: %s (%s)" % (_shorten(",".join(exc.beyond)), has))
        except AllocatorConfigError as exc:
            problems.append(str(exc))
        else:
            unknown = [cpu for cpu in pool if cpu not in topology.cores_by_cpu]
            parent = [cpu for cpu in pool if cpu in topology.parent_cpus]
            if unknown:
                problems.append("cpu_pool names CPUs this host does not have: %s (%s)"
                                % (format_cpulist(unknown), has))
            if parent:
                problems.append("cpu_pool contains %s: CPU 0 and its siblings (%s) stay with the parent instance"
                                % (",".join(map(str, parent)), ",".join(map(str, topology.parent_cpus))))
            if not unknown and not parent:
                # The Nitro Enclaves driver only accepts whole cores.
                missing = sorted(set(s for cpu in pool for s in topology.siblings(cpu)) - set(pool))
                if missing:
                    problems.append("cpu_pool must hold whole cores: add the siblings %s" % ",".join(map(str, missing)))
            enclave_cpus = pool
    if problems:
        raise AllocatorConfigError("; ".join(problems))
    return enclave_cpus


def typed_config(values):
    """Parsed allocator.yaml values as comparable types: memory and count as int, a pool as a CPU list.

    A value that does not convert is kept as its text, so that it compares unequal to any wanted value.
    """
    out = {}
    for key, value in values.items():
        value = str(value)
        if key in ("memory_mib", "cpu_count"):
            out[key] = int(value) if value.isdigit() else value
        elif key == "cpu_pool":
            try:
                out[key] = parse_cpulist(value)
            except AllocatorConfigError:
                out[key] = value
    return out
