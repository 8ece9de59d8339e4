"""allocator.yaml as the real allocator reads it, and requested values checked against the host."""

import resource
import time
import tracemalloc

import pytest

from ansible_collections.opencontracts.enclave.plugins.module_utils import allocator

SHIPPED = """---
# Enclave configuration file.
#
# How much memory to allocate for enclaves (in MiB).
memory_mib: 512
#
# How many CPUs to reserve for enclaves.
cpu_count: 2
#
# Alternatively, the exact CPUs to be reserved for the enclave can be explicitly
# configured by using `cpu_pool` (like below), instead of `cpu_count`.
# Note: cpu_count and cpu_pool conflict with each other. Only use exactly one of them.
# Example of reserving CPUs 2, 3, and 6 through 9:
# cpu_pool: 2,3,6-9
"""

# lscpu -p=CPU,CORE on a c5a.4xlarge: 8 cores, CPU i and i+8 share a core.
C5A_LSCPU = "# CPU,Core\n" + "".join("%d,%d\n" % (cpu, cpu % 8) for cpu in range(16))
C5A = allocator.Topology(allocator.parse_lscpu(C5A_LSCPU), 32768)


def test_shipped_file_is_accepted():
    values, problems = allocator.parse(SHIPPED)
    assert problems == []
    assert values == {"memory_mib": "512", "cpu_count": "2"}


@pytest.mark.parametrize("text, problem", [
    ("memory_mib: 512\ncpu_count: 2\n", "no line is exactly '---'"),
    ("---\nmemory_mib: 512\n\ncpu_count: 2\n", "line 3: unexpected key ''"),
    ("---\nmemory_mib: 512\ncpu_count: 2\nfoo: 1\n", "line 4: unexpected key 'foo'"),
    ("---\nmemory_mib: 512 # more later\ncpu_count: 2\n", "memory_mib is not a whole number"),
    ("---\nmemory_mib: 512\ncpu_count: 2", "no final newline"),
    ("---\nmemory_mib: 512\ncpu_count: 2\ncpu_pool: 1,9\n", "cpu_count conflicts with cpu_pool"),
    ("---\nmemory_mib: 512\n", "missing CPU reservation"),
    ("---\ncpu_count: 2\n", "missing memory reservation"),
])
def test_parser_traps(text, problem):
    _values, problems = allocator.parse(text)
    assert any(problem in p for p in problems), problems


def test_last_line_without_newline_is_lost():
    values, _problems = allocator.parse("---\nmemory_mib: 512\ncpu_count: 2")
    assert "cpu_count" not in values


def test_render_replaces_values_in_place_and_keeps_comments():
    text = allocator.render(SHIPPED, {"memory_mib": 11000, "cpu_count": 2})
    assert text == SHIPPED.replace("memory_mib: 512", "memory_mib: 11000")
    assert allocator.parse(text) == ({"memory_mib": "11000", "cpu_count": "2"}, [])


def test_render_never_touches_other_512s():
    # The guide's `sed s/512/11000/g` would also rewrite this comment.
    text = "---\n# keep 512 MiB for the parent? no: 2048\nmemory_mib: 512\ncpu_count: 2\n"
    out = allocator.render(text, {"memory_mib": 11000, "cpu_count": 2})
    assert "# keep 512 MiB for the parent? no: 2048" in out
    assert "memory_mib: 11000" in out


def test_render_repairs_every_trap():
    broken = "memory_mib: 512 # small\n---\n\nmemory_mib: 512 # small\ncpu_count: 2\ncpu_pool: 1,9\nbogus: 1"
    out = allocator.render(broken, {"memory_mib": 4096, "cpu_pool": "1,9"})
    values, problems = allocator.parse(out)
    assert problems == []
    assert values == {"memory_mib": "4096", "cpu_pool": "1,9"}
    assert "# small" in out
    assert out.endswith("\n")


def test_render_adds_document_start_and_missing_keys():
    out = allocator.render("", {"memory_mib": 2048, "cpu_count": 4})
    assert out == "---\nmemory_mib: 2048\ncpu_count: 4\n"


@pytest.mark.parametrize("cpulist, cpus", [("2,3,6-9", [2, 3, 6, 7, 8, 9]), ("1", [1]), ("9,1", [1, 9])])
def test_cpulist(cpulist, cpus):
    assert allocator.parse_cpulist(cpulist) == cpus


@pytest.mark.parametrize("cpulist", ["", "1,,2", "a", "3-1", "1,1", "1-"])
def test_cpulist_malformed(cpulist):
    with pytest.raises(allocator.AllocatorConfigError):
        allocator.parse_cpulist(cpulist)


HUGE_POOLS = ["1-200000000", "1-" + "9" * 30, "9" * 5000, "1-" + "9" * 5000, "2,4-" + "1" * 4400]


def virtual_memory():
    """This process's virtual memory size in bytes (VmSize)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmSize in /proc/self/status")


def expand_quickly(function, *args, **kwargs):
    """Call function and return the AllocatorConfigError it raises, after checking it took little time and memory.

    Code that expands the list anyway gets a MemoryError (the address space is capped at 512 MiB more than
    now while it runs) instead of taking the machine's memory.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = virtual_memory() + (512 << 20)
    resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(allocator.AllocatorConfigError) as error:
            function(*args, **kwargs)
    finally:
        dummy, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    assert time.monotonic() - started < 1
    assert peak < 1 << 20  # a 200000000-CPU list would take gigabytes
    return str(error.value)


@pytest.mark.parametrize("cpulist", HUGE_POOLS)
def test_a_huge_cpulist_is_refused_before_it_is_expanded(cpulist):
    message = expand_quickly(allocator.parse_cpulist, cpulist)
    assert "at most CPU %d" % (allocator.MAX_CPUS - 1) in message


def test_a_cpulist_beyond_the_hosts_cpus_is_refused_before_it_is_expanded():
    message = expand_quickly(allocator.parse_cpulist, "2-3,10-5000", max_cpu=15)
    assert "at most CPU 15" in message
    assert allocator.parse_cpulist("2-3,10-15", max_cpu=15) == [2, 3, 10, 11, 12, 13, 14, 15]


@pytest.mark.parametrize("cpulist", HUGE_POOLS + ["1-16", "16"])
def test_validate_bounds_a_pool_by_the_hosts_cpus(cpulist):
    message = expand_quickly(allocator.validate, C5A, 11000, cpu_pool=cpulist)
    assert "this host does not have" in message and "it has 16 CPUs, 0-15" in message


@pytest.mark.parametrize("cpulist", ["\u0661,\u0669", "1,9\n"])
def test_cpulist_digits_are_ascii_and_nothing_follows(cpulist):
    with pytest.raises(allocator.AllocatorConfigError):
        allocator.parse_cpulist(cpulist)


def test_a_huge_pool_in_the_file_is_kept_as_text():
    assert allocator.typed_config({"cpu_pool": "1-200000000"}) == {"cpu_pool": "1-200000000"}


def test_cpu_count_takes_whole_cores_after_cpu0s():
    assert allocator.validate(C5A, 11000, cpu_count=2) == [1, 9]
    assert allocator.validate(C5A, 11000, cpu_count=4) == [1, 9, 2, 10]


@pytest.mark.parametrize("kwargs, message", [
    ({"memory_mib": 11000, "cpu_count": 3}, "not a multiple of 2"),
    ({"memory_mib": 11000, "cpu_count": 16}, "more than the 14 CPUs"),
    ({"memory_mib": 11000, "cpu_count": 0}, "more than 0"),
    ({"memory_mib": 0, "cpu_count": 2}, "memory_mib must be more than 0"),
    ({"memory_mib": 31000, "cpu_count": 2}, "use at most 30720"),
    ({"memory_mib": 11000, "cpu_pool": "0,8"}, "CPU 0 and its siblings"),
    ({"memory_mib": 11000, "cpu_pool": "1"}, "whole cores: add the siblings 9"),
    ({"memory_mib": 11000, "cpu_pool": "1,17"}, "does not have: 17"),
])
def test_validate_refuses(kwargs, message):
    with pytest.raises(allocator.AllocatorConfigError, match=message):
        allocator.validate(C5A, **kwargs)


def test_smt_off_host_accepts_odd_counts():
    graviton = allocator.Topology(dict((cpu, str(cpu)) for cpu in range(4)), 8192)
    assert allocator.validate(graviton, 4096, cpu_count=3) == [1, 2, 3]


def test_meminfo():
    assert allocator.parse_meminfo("MemTotal:       32505856 kB\nMemFree: 1 kB\n") == 31744


def test_typed_config_compares_values_as_the_allocator_reads_them():
    assert allocator.typed_config({"memory_mib": "11000", "cpu_pool": "3,1-2"}) == {"memory_mib": 11000, "cpu_pool": [1, 2, 3]}
    # A value that does not convert stays text, so it never equals a wanted number.
    assert allocator.typed_config({"cpu_count": "two"}) == {"cpu_count": "two"}
    assert allocator.typed_config({"cpu_pool": "x-y"}) == {"cpu_pool": "x-y"}
