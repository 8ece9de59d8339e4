"""opencontracts.enclave.enclave_health: recorded nitro-cli output, a real TCP listener on 127.0.0.1."""

import json
import socket

import pytest

from module_runner import CommandRecorder, run_module
from ansible_collections.opencontracts.enclave.plugins.module_utils import enclave_health as health_utils
from ansible_collections.opencontracts.enclave.plugins.modules import enclave_health

PERMITTED = "ba19b0568898f7eed74c911b29cccd6d026f918fa77953a705f142d06d33f51dfb00bda8f4e90e13755374548b0430e4"
OTHER = "a5e152ec8d45c1d137a7823e8edbb236dc010823a3b06506ca493ec35d9197ecf335868900bf6ab40156874d6fcbd0ad"
UNIT = "opencontracts-oracle.service"
JOURNAL = "2024-01-01T00:00:00+0000 host sh[1]: [ E26 ] Insufficient memory requested.\n"


def enclave(name="oracle", state="RUNNING", flags="NONE", pcr0=PERMITTED, enclave_id="i-0e5a1c0de0e5a1c0d-enc0123456789abcdef"):
    return {"EnclaveName": name, "EnclaveID": enclave_id, "ProcessID": 42, "EnclaveCID": 16,
            "NumberOfCPUs": 2, "CPUIDs": [1, 9], "MemoryMiB": 11000, "State": state, "Flags": flags,
            "Measurements": {"HashAlgorithm": "Sha384 { ... }", "PCR0": pcr0.upper(), "PCR1": OTHER, "PCR2": OTHER}}


def describe(*enclaves):
    return CommandRecorder({"describe-enclaves": (0, json.dumps(list(enclaves), indent=2), ""), UNIT: (0, JOURNAL, "")})


@pytest.fixture(name="port")
def fixture_port():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    yield server.getsockname()[1]
    server.close()


@pytest.fixture(name="closed_port")
def fixture_closed_port():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    number = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    return number


def args(port, **more):
    base = {"enclave_name": "oracle", "allowed_pcr0": [OTHER, PERMITTED], "port": port, "timeout": 0, "unit": UNIT}
    base.update(more)
    return base


@pytest.mark.parametrize("check_mode", [False, True])
def test_healthy(port, check_mode):
    result = run_module(enclave_health.main, args(port), commands=describe(enclave(), enclave(name="registry")), check_mode=check_mode)
    assert result["failed"] is False
    assert result["changed"] is False
    assert result["healthy"] is True
    assert result["problems"] == []
    assert result["pcr0"] == PERMITTED and result["matched_pcr0"] == PERMITTED and result["pcr0_permitted"] is True
    assert result["enclave"]["state"] == "RUNNING" and result["enclave"]["cid"] == 16
    assert result["port_open"] is True
    assert "journal" not in result


def test_not_permitted_fails_at_once_with_the_journal(port):
    commands = describe(enclave(pcr0=OTHER))
    result = run_module(enclave_health.main, args(port, allowed_pcr0=[PERMITTED], timeout=60), commands=commands)
    assert result["failed"] is True
    assert result["checks"] == 1  # final: no waiting
    assert result["pcr0_permitted"] is False and result["matched_pcr0"] is None
    assert OTHER in result["msg"] and "not one of the permitted values" in result["msg"]
    assert "[ E26 ] Insufficient memory requested." in result["msg"]
    assert result["journal"] == JOURNAL.splitlines()
    journal_calls = [argv for argv, dummy in commands.calls if "--unit" in argv]
    assert journal_calls and journal_calls[0][journal_calls[0].index("--unit") + 1] == UNIT


def test_debug_mode_refused_unless_allowed(port):
    result = run_module(enclave_health.main, args(port, timeout=60), commands=describe(enclave(flags="DEBUG_MODE")))
    assert result["failed"] is True and result["checks"] == 1
    assert "debug mode" in result["msg"]
    allowed = run_module(enclave_health.main, args(port, allow_debug_mode=True), commands=describe(enclave(flags="DEBUG_MODE")))
    assert allowed["failed"] is False and allowed["debug_mode"] is True


def test_closed_port(closed_port):
    result = run_module(enclave_health.main, args(closed_port), commands=describe(enclave()))
    assert result["failed"] is True
    assert result["port_open"] is False
    assert "port %d on 127.0.0.1 does not accept TCP connections" % closed_port in result["msg"]


@pytest.mark.parametrize("listed,problem", [((), "the enclave named oracle is not in nitro-cli describe-enclaves (enclaves: none)"),
                                            ((enclave(state="TERMINATING"),), "state TERMINATING, not RUNNING")])
def test_not_running(port, listed, problem):
    result = run_module(enclave_health.main, args(port), commands=describe(*listed))
    assert result["failed"] is True
    assert problem in result["msg"]


def test_waits_until_healthy(port, monkeypatch):
    answers = [[], [enclave(state="TERMINATING")], [enclave()]]
    calls = []

    def fake_describe(module):
        calls.append(1)
        return answers[min(len(calls) - 1, len(answers) - 1)]

    monkeypatch.setattr(health_utils, "describe_enclaves", fake_describe)
    clock = iter(range(0, 1000, 2))
    monkeypatch.setattr(health_utils.time, "sleep", lambda seconds: None)
    report, waited, checks = health_utils.wait_healthy(None, "oracle", [PERMITTED], False, "127.0.0.1", port, 30, 2,
                                                       clock=lambda: next(clock), sleep=lambda s: None)
    assert report.healthy and checks == 3


def test_gives_up_after_the_timeout(monkeypatch):
    monkeypatch.setattr(health_utils, "describe_enclaves", lambda module: [enclave()])
    ticks = iter(range(0, 1000, 5))
    slept = []
    report, waited, checks = health_utils.wait_healthy(
        None, "oracle", [PERMITTED], False, "127.0.0.1", 8080, 20, 5,
        probe=lambda host, port: (False, "Connection refused"), clock=lambda: next(ticks), sleep=slept.append)
    assert not report.healthy and not report.final
    assert report.problems == ["port 8080 on 127.0.0.1 does not accept TCP connections (Connection refused)"]
    assert checks == 4 and slept == [5, 5, 5]
    assert waited <= 20


def test_bad_allow_list(port):
    result = run_module(enclave_health.main, args(port, allowed_pcr0=["abc"]), commands=describe(enclave()))
    assert result["failed"] is True
    assert "allowed_pcr0[0]" in result["msg"]


def test_nitro_cli_missing(port):
    result = run_module(enclave_health.main, args(port, timeout=60), commands=describe(), bin_path=None)
    assert result["failed"] is True
    assert result["checks"] == 1
    assert "nitro-cli is not installed" in result["msg"]


REGISTRY_PCR0 = "87eb8417e993acfa43fc8e46a1ef0fe50cce86e9b8dcaf22b1e623f8f11a272a0352b851a0503327fb55fd6ecf0259d3"


def by_image(port, **more):
    base = args(port, **more)
    base.pop("enclave_name")
    base["served_pcr0"] = PERMITTED.upper()
    return base


def test_finds_the_enclave_of_the_served_image_among_several(port):
    """Started without --enclave-name: named after its EIF, beside a registry and an enclave of another image."""
    listed = describe(enclave(name="registry", pcr0=REGISTRY_PCR0, enclave_id="i-0e5a1c0de0e5a1c0d-enc00000000000000a1"),
                      enclave(name="oracle_enclave", enclave_id="i-0e5a1c0de0e5a1c0d-enc00000000000000a2"),
                      enclave(name="oracle", pcr0=OTHER, flags="DEBUG_MODE", enclave_id="i-0e5a1c0de0e5a1c0d-enc00000000000000a3"))
    result = run_module(enclave_health.main, by_image(port), commands=listed)
    assert result["failed"] is False, result
    assert result["enclave"]["name"] == "oracle_enclave"
    assert result["enclave"]["id"] == "i-0e5a1c0de0e5a1c0d-enc00000000000000a2"
    # Found by name, the same host has no healthy "oracle": the one of that name runs another image in debug mode.
    named = run_module(enclave_health.main, args(port, timeout=60), commands=listed)
    assert named["failed"] is True and named["checks"] == 1
    assert named["enclave"]["id"] == "i-0e5a1c0de0e5a1c0d-enc00000000000000a3"


def test_two_enclaves_of_the_served_image_fail_at_once(port):
    listed = describe(enclave(name="oracle_enclave", enclave_id="i-0e5a1c0de0e5a1c0d-enc00000000000000b1"),
                      enclave(name="oracle_enclave_1", enclave_id="i-0e5a1c0de0e5a1c0d-enc00000000000000b2"))
    result = run_module(enclave_health.main, by_image(port, timeout=60), commands=listed)
    assert result["failed"] is True and result["checks"] == 1
    assert "2 enclaves are the enclave started from the served image (PCR0 ba19b0568898f7ee...)" in result["msg"]
    assert "oracle_enclave_1 i-0e5a1c0de0e5a1c0d-enc00000000000000b2" in result["msg"]


def test_served_image_not_running_names_what_runs(port):
    listed = describe(enclave(name="registry", pcr0=REGISTRY_PCR0))
    result = run_module(enclave_health.main, by_image(port), commands=listed)
    assert result["failed"] is True
    assert "the enclave started from the served image (PCR0 ba19b0568898f7ee...) is not in nitro-cli describe-enclaves" in result["msg"]
    assert "registry (RUNNING, PCR0 87eb8417e993acfa...)" in result["msg"]


@pytest.mark.parametrize("more,message", [({"enclave_name": ""}, "give the enclave's name or the served image's PCR0"),
                                          ({"enclave_name": "", "served_pcr0": "abc"}, "96 hex characters")])
def test_needs_a_name_or_the_served_pcr0(port, more, message):
    commands = describe(enclave())
    result = run_module(enclave_health.main, args(port, **more), commands=commands)
    assert result["failed"] is True and message in result["msg"]
    assert commands.calls == []
