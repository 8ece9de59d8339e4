"""nitro_allocator: validation before any write, files the real parser accepts, restarts only when needed."""

import json
import os

import pytest

from ansible_collections.opencontracts.enclave.plugins.modules import nitro_allocator

from module_runner import run_module

SHIPPED = """---
# Enclave configuration file.
#
# How much memory to allocate for enclaves (in MiB).
memory_mib: 512
#
# How many CPUs to reserve for enclaves.
cpu_count: 2
"""

# A c5a.4xlarge: 16 vCPUs, CPU i and i+8 on one core, 32 GiB.
LSCPU = "# CPU,Core\n" + "".join("%d,%d\n" % (cpu, cpu % 8) for cpu in range(16))
MEMINFO = "MemTotal:       32505856 kB\nMemFree:        30000000 kB\n"
RUNNING = [{"EnclaveName": "oracle", "EnclaveID": "i-0abc-enc0123456789abcdef", "State": "RUNNING", "Flags": "NONE"}]


class FakeHost:
    """Answers the module's commands like a Nitro host would; records them."""

    def __init__(self, active=True, enclaves=(), restart_rc=0, journal=""):
        self.active = active
        self.enclaves = list(enclaves)
        self.restart_rc = restart_rc
        self.journal = journal
        self.calls = []

    def __call__(self, module, argv, **kwargs):  # pylint: disable=unused-argument
        self.calls.append(list(argv))
        words = argv[1:]
        if words == ["-p=CPU,CORE"]:
            return 0, LSCPU, ""
        if words[:1] == ["is-active"]:
            return (0 if self.active else 3), "", ""
        if words[:1] == ["restart"]:
            return self.restart_rc, "", "Job failed" if self.restart_rc else ""
        if words[:1] == ["-u"]:
            return 0, self.journal, ""
        if words == ["describe-enclaves"]:
            return 0, json.dumps(self.enclaves), ""
        if words[:1] == ["terminate-enclave"]:
            self.enclaves = []
            return 0, json.dumps({"EnclaveID": words[2], "Terminated": True}), ""
        raise AssertionError("unexpected command %r" % (argv,))

    def ran(self, word):
        return [call for call in self.calls if word in call]


@pytest.fixture
def host(tmp_path, monkeypatch):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text(MEMINFO)
    monkeypatch.setattr(nitro_allocator, "MEMINFO", str(meminfo))
    config = tmp_path / "allocator.yaml"
    config.write_text(SHIPPED)
    return config


def run(config, fake, check_mode=False, **params):
    args = dict(path=str(config), **params)
    args["_ansible_diff"] = True
    return run_module(nitro_allocator.main, args, check_mode=check_mode, commands=fake, bin_path="/usr/bin/tool")


def test_guide_values_are_written_and_applied(host):
    fake = FakeHost()
    result = run(host, fake, memory_mib=11000, cpu_count=2)
    assert not result["failed"], result["msg"]
    assert result["changed"] and result["restarted"]
    assert host.read_text() == SHIPPED.replace("memory_mib: 512", "memory_mib: 11000")
    assert result["config"] == {"before": {"memory_mib": 512, "cpu_count": 2}, "after": {"memory_mib": 11000, "cpu_count": 2}}
    assert result["enclave_cpus"] == [1, 9]
    assert "memory_mib: 11000" in result["diff"]["after"]
    assert fake.ran("restart")


def test_nothing_changes_when_values_are_right_and_service_active(host):
    host.write_text(SHIPPED.replace("512", "11000"))
    before = os.stat(str(host)).st_mtime_ns
    fake = FakeHost(active=True)
    result = run(host, fake, memory_mib=11000, cpu_count=2)
    assert not result["changed"] and not result["restarted"]
    assert os.stat(str(host)).st_mtime_ns == before
    assert not fake.ran("restart") and not fake.ran("describe-enclaves")


def test_inactive_service_is_started_without_rewriting(host):
    host.write_text(SHIPPED.replace("512", "11000"))
    fake = FakeHost(active=False)
    result = run(host, fake, memory_mib=11000, cpu_count=2)
    assert result["changed"] and result["restarted"]
    assert "diff" not in result


def test_check_mode_reports_and_touches_nothing(host):
    fake = FakeHost()
    result = run(host, fake, check_mode=True, memory_mib=11000, cpu_count=2)
    assert result["changed"] and result["restarted"]
    assert host.read_text() == SHIPPED
    assert not fake.ran("restart")


def test_apply_false_never_touches_the_service(host):
    fake = FakeHost(active=False)
    result = run(host, fake, memory_mib=11000, cpu_count=2, apply=False)
    assert result["changed"] and not result["restarted"]
    assert not fake.ran("is-active") and not fake.ran("restart")


def test_a_trap_is_repaired_even_when_values_match(host):
    host.write_text("---\nmemory_mib: 11000\n\ncpu_count: 2\n")
    result = run(host, FakeHost(), memory_mib=11000, cpu_count=2)
    assert result["changed"]
    assert any("blank line" in problem for problem in result["repaired"])
    assert host.read_text() == "---\nmemory_mib: 11000\ncpu_count: 2\n"


@pytest.mark.parametrize("params, message", [
    ({"memory_mib": 11000, "cpu_count": 3}, "not a multiple of 2"),
    ({"memory_mib": 11000, "cpu_pool": "0,8"}, "CPU 0 and its siblings"),
    ({"memory_mib": 0, "cpu_count": 2}, "memory_mib must be more than 0"),
    ({"memory_mib": 40000, "cpu_count": 2}, "leaves less than host_reserved_mib"),
    ({"memory_mib": 11000, "cpu_count": 2, "cpu_pool": "1,9"}, "mutually exclusive"),
    ({"memory_mib": 11000}, "one of the following is required"),
    ({"memory_mib": 11000, "cpu_pool": "1-"}, "is not a CPU list"),
    ({"memory_mib": 11000, "cpu_pool": "1-" + "9" * 5000}, "this host does not have"),
    ({"memory_mib": 11000, "cpu_pool": "9" * 5000}, "this host does not have"),
])
def test_bad_inputs_fail_and_leave_the_file(host, params, message):
    fake = FakeHost()
    result = run(host, fake, **params)
    assert result["failed"]
    assert message in result["msg"]
    assert host.read_text() == SHIPPED
    assert not fake.ran("restart")


def test_running_enclaves_block_the_restart_before_any_write(host):
    fake = FakeHost(enclaves=RUNNING)
    result = run(host, fake, memory_mib=11000, cpu_count=2)
    assert result["failed"]
    assert "oracle (i-0abc-enc0123456789abcdef)" in result["msg"]
    assert host.read_text() == SHIPPED
    assert not fake.ran("restart") and not fake.ran("terminate-enclave")


def test_terminate_running_terminates_then_restarts(host):
    fake = FakeHost(enclaves=RUNNING)
    result = run(host, fake, memory_mib=11000, cpu_count=2, terminate_running=True)
    assert not result["failed"], result["msg"]
    assert result["terminated"] == ["i-0abc-enc0123456789abcdef"]
    terminate = fake.calls.index(fake.ran("terminate-enclave")[0])
    restart = fake.calls.index(fake.ran("restart")[0])
    assert terminate < restart


def test_allocator_failure_returns_its_message(host):
    journal = ("Starting nitro-enclaves-allocator.service...\nConfiguring the huge page memory...\n"
               "Error: Failed to configure entire amount of requested memory. This indicates insufficient system resources.\n")
    fake = FakeHost(restart_rc=1, journal=journal)
    result = run(host, fake, memory_mib=11000, cpu_count=2)
    assert result["failed"]
    assert result["allocator_error"].endswith("insufficient system resources.")
    assert "Starting" not in result["allocator_error"]
    assert "insufficient system resources" in result["msg"]


NAMES = {"memory_mib": "host_prep_allocator_memory_mib", "cpu_count": "host_prep_allocator_cpu_count",
         "cpu_pool": "host_prep_allocator_cpu_pool", "note": "The enclave must still fit."}


def test_a_failed_reservation_names_the_settings_to_lower(host):
    fake = FakeHost(restart_rc=1, journal="Error: Failed to configure entire amount of requested memory.\n")
    result = run(host, fake, memory_mib=11000, cpu_count=2, fix_settings=NAMES)
    assert result["failed"]
    assert result["msg"].endswith(
        "requested memory. To fix it, lower host_prep_allocator_memory_mib (now 11000 MiB) or "
        "host_prep_allocator_cpu_count (now 2) for this host, or move it to a larger instance type. "
        "The enclave must still fit.")


def test_a_refused_pool_names_the_pool_setting(host):
    result = run(host, FakeHost(), memory_mib=11000, cpu_pool="0,8", fix_settings=dict(NAMES, note=""))
    assert result["failed"] and "CPU 0 and its siblings" in result["msg"]
    assert "or host_prep_allocator_cpu_pool (now 0,8) for this host" in result["msg"]
    assert "cpu_count" not in result["msg"] and result["msg"].endswith("larger instance type.")


def test_running_enclaves_are_not_a_reason_to_lower_anything(host):
    result = run(host, FakeHost(enclaves=RUNNING), memory_mib=11000, cpu_count=4, fix_settings=NAMES)
    assert result["failed"] and "enclaves are running" in result["msg"]
    assert "To fix it" not in result["msg"]
