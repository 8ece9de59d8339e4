"""nitro-enclaves-allocator: the real script's parser traps, CPU and memory rules, and its state."""

import json
import os

import pytest

CONFIG = "/etc/nitro_enclaves/allocator.yaml"
RESERVATION = "/run/nitro_emulator/allocator.json"
SHIPPED_YAML = os.path.join(os.path.dirname(__file__), "..", "..", "nitro_emulator", "allocator.yaml")


def last_line(result):
    return result.stdout.rstrip("\n").splitlines()[-1]


@pytest.mark.parametrize("text, error", [
    pytest.param("memory_mib: 512\ncpu_count: 2\n",
                 "Error: Config error: missing memory reservation (`memory_mib`).", id="no-document-start"),
    pytest.param("---\nmemory_mib: 512\n\ncpu_count: 2\n",
                 "Error: Error in %s:3 - unexpected: " % CONFIG, id="blank-line"),
    pytest.param("# comment\n---\nmemory_mib: 512\nfoo: 1\ncpu_count: 2\n",
                 "Error: Error in %s:4 - unexpected: foo" % CONFIG, id="unknown-key"),
    pytest.param("---\nmemory_mib: 512 # half a GiB\ncpu_count: 2\n",
                 "Error: The needed memory amount (512 # half a GiB) is invalid.", id="inline-comment"),
    pytest.param("---\nmemory_mib: 512\ncpu_count: 2",
                 "Error: Config error: missing CPU reservation (either `cpu_count` or `cpu_pool`).", id="no-final-newline"),
    pytest.param("---\nmemory_mib: 512\ncpu_count: 2\ncpu_pool: 2,10\n",
                 "Error: Config error: `cpu_count` conflicts with `cpu_pool`.", id="both-cpu-keys"),
    pytest.param("---\nmemory_mib: 512\n",
                 "Error: Config error: missing CPU reservation (either `cpu_count` or `cpu_pool`).", id="no-cpu-key"),
    pytest.param("---\nmemory_mib: 512\ncpu_count:\n",
                 "Error: Error in %s:3 - missing value for cpu_count" % CONFIG, id="missing-value"),
    pytest.param("---\nmemory_mib: 512\ncpu_count: 3\n",
                 "Error: The CPU count is not multiple of 2 (threads per core).", id="odd-cpu-count"),
    pytest.param("---\nmemory_mib: 512\ncpu_count: 0\n",
                 "Error: Provided CPU count is not higher than 0.", id="zero-cpu-count"),
    pytest.param("---\nmemory_mib: 512\ncpu_count: 18\n",
                 "Error: Provided CPU count is higher than available CPUs - 16.", id="too-many-cpus"),
    pytest.param("---\nmemory_mib: 512\ncpu_count: two\n",
                 "Error: The CPU count value (two) is invalid.", id="cpu-count-not-a-number"),
    pytest.param("---\nmemory_mib: 512\ncpu_count: 16\n",
                 "Error: Failed to find suitable CPUs for the Nitro Enclaves CPU pool after checking all NUMA nodes.",
                 id="cpu-0-core-stays-with-the-parent"),
    pytest.param("---\nmemory_mib: 512\ncpu_pool: 0,8\n", "Error: Failed to configure the CPU pool.", id="cpu-0-in-pool"),
    pytest.param("---\nmemory_mib: 512\ncpu_pool: 1,8\n", "Error: Failed to configure the CPU pool.", id="sibling-of-cpu-0"),
    pytest.param("---\nmemory_mib: 512\ncpu_pool: 2,3\n", "Error: Failed to configure the CPU pool.", id="partial-cores"),
    pytest.param("---\nmemory_mib: 512\ncpu_pool: 15,16\n", "Error: Failed to configure the CPU pool.", id="cpu-does-not-exist"),
    pytest.param("---\nmemory_mib: 512\ncpu_pool: 2-\n", "Error: Failed to configure the CPU pool.", id="malformed-pool"),
])
def test_config_traps(emu, text, error):
    emu.allocator_yaml(text)
    result = emu.allocator()
    assert result.rc == 1, result
    assert last_line(result) == error
    assert not emu.exists(RESERVATION)


def test_memory_above_what_the_machine_has(emu):
    emu.allocator_yaml("---\nmemory_mib: 32257\ncpu_count: 2\n")
    result = emu.allocator()
    assert result.rc == 1
    assert result.stdout.strip().splitlines()[-3:] == [
        "Configuring the huge page memory...",
        "Memory configuration failed, rolling back memory reservations...",
        "Error: Failed to configure entire amount of requested memory. This indicates insufficient system resources.",
    ]


def test_success_reserves_cpus_1_and_9(emu):
    emu.allocator_yaml("---\n# the shipped defaults\nmemory_mib: 512\ncpu_count: 2\n")
    result = emu.allocator()
    assert result.rc == 0, result
    assert result.stdout.splitlines() == [
        "Auto-generating the enclave CPU pool by using the CPU count...",
        "Auto-generated the enclave CPU pool: 1,9.",
        "Configuring the huge page memory...",
        "Successfully allocated Nitro Enclaves resources: 512 MiB, 2 CPUs",
    ]
    reservation = json.loads(emu.read(RESERVATION))
    assert reservation["memory_mib"] == 512
    assert reservation["cpu_ids"] == [1, 9]


def test_shipped_default_file_works(emu):
    with open(SHIPPED_YAML, encoding="utf-8") as handle:
        shipped = handle.read()
    assert shipped.startswith("---\n") and shipped.endswith("\n")
    emu.allocate(shipped)
    assert json.loads(emu.read(RESERVATION))["cpu_ids"] == [1, 9]


def test_whole_cores_lowest_first_and_quotes(emu):
    emu.allocate('---\nmemory_mib: "1024"\ncpu_count: 4\n')
    reservation = json.loads(emu.read(RESERVATION))
    assert reservation["cpu_ids"] == [1, 9, 2, 10]
    assert reservation["memory_mib"] == 1024


def test_cpu_pool(emu):
    result = emu.allocate("---\nmemory_mib: 512\ncpu_pool: 2,10,3-3,11\n")
    assert last_line(result) == "Successfully allocated Nitro Enclaves resources: 512 MiB, CPU pool: 2,10,3,11"
    assert json.loads(emu.read(RESERVATION))["cpu_ids"] == [2, 10, 3, 11]


def test_topology_follows_machine_conf(emu):
    emu.machine("[machine]\nvcpus = 4\nthreads_per_core = 2\nmemory_mib = 8192\n")
    result = emu.allocate()
    assert "Auto-generated the enclave CPU pool: 1,3." in result.stdout
    emu.allocator_yaml("---\nmemory_mib: 512\ncpu_count: 4\n")
    result = emu.allocator()
    assert last_line(result) == "Error: Failed to find suitable CPUs for the Nitro Enclaves CPU pool after checking all NUMA nodes."


def test_failure_drops_the_previous_reservation(emu):
    emu.allocate()
    assert emu.exists(RESERVATION)
    emu.allocator_yaml("---\nmemory_mib: 512\ncpu_count: 3\n")
    assert emu.allocator().rc == 1
    assert not emu.exists(RESERVATION)


def test_driver_missing(emu):
    emu.machine("[machine]\ndriver = false\n")
    emu.allocator_yaml("---\nmemory_mib: 512\ncpu_count: 2\n")
    result = emu.allocator()
    assert result.rc == 1
    assert last_line(result) == "Error: The CPU pool file is missing. Please make sure the Nitro Enclaves driver is inserted."


def test_restart_while_an_enclave_runs_fails(app_eif):
    emu, eif_path, _measurements = app_eif
    run = emu.cli("run-enclave", "--eif-path", eif_path, "--memory", 64, "--cpu-count", 2)
    assert run.rc == 0, run
    before = emu.read(RESERVATION)
    emu.allocator_yaml("---\nmemory_mib: 1024\ncpu_count: 2\n")
    result = emu.allocator()
    assert result.rc == 1
    assert last_line(result) == ("Error: Could not re-online CPUs because there is at least one enclave currently running. "
                                 "Make sure you stop all enclaves prior to re-starting the nitro-enclaves-allocator.service.")
    assert emu.read(RESERVATION) == before
    assert emu.cli("terminate-enclave", "--all").rc == 0
    assert emu.allocator().rc == 0
    assert json.loads(emu.read(RESERVATION))["memory_mib"] == 1024
