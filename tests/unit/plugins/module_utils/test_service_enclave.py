"""module_utils.service_enclave: which enclave is the service's, on recorded describe-enclaves output with several."""

import io
import json

import pytest

from ansible_collections.opencontracts.enclave.plugins.module_utils import service_enclave

ORACLE = "ba19b0568898f7eed74c911b29cccd6d026f918fa77953a705f142d06d33f51dfb00bda8f4e90e13755374548b0430e4"
REGISTRY = "87eb8417e993acfa43fc8e46a1ef0fe50cce86e9b8dcaf22b1e623f8f11a272a0352b851a0503327fb55fd6ecf0259d3"
OLD = "a5e152ec8d45c1d137a7823e8edbb236dc010823a3b06506ca493ec35d9197ecf335868900bf6ab40156874d6fcbd0ad"

# nitro-cli describe-enclaves on a host with three enclaves: the oracle started without --enclave-name (named
# after its EIF), a registry started with a name, and an enclave of an older oracle image that someone started by
# hand from a file of the same name (nitro-cli appended _1). PCR0 in upper case, as some versions print it.
DESCRIBED = """[
  {
    "EnclaveName": "registry",
    "EnclaveID": "i-0e5a1c0de0e5a1c0d-enc18d2f0a3b4c5d6e7",
    "ProcessID": 2211,
    "EnclaveCID": 16,
    "NumberOfCPUs": 2,
    "CPUIDs": [1, 9],
    "MemoryMiB": 2048,
    "State": "RUNNING",
    "Flags": "NONE",
    "Measurements": {"HashAlgorithm": "Sha384 { ... }", "PCR0": "%s", "PCR1": "%s", "PCR2": "%s"}
  },
  {
    "EnclaveName": "oracle_enclave",
    "EnclaveID": "i-0e5a1c0de0e5a1c0d-enc18d2f0a3b4c5d6e8",
    "ProcessID": 2305,
    "EnclaveCID": 17,
    "NumberOfCPUs": 2,
    "CPUIDs": [2, 10],
    "MemoryMiB": 11000,
    "State": "RUNNING",
    "Flags": "NONE",
    "Measurements": {"HashAlgorithm": "Sha384 { ... }", "PCR0": "%s", "PCR1": "%s", "PCR2": "%s"}
  },
  {
    "EnclaveName": "oracle_enclave_1",
    "EnclaveID": "i-0e5a1c0de0e5a1c0d-enc18d2f0a3b4c5d6e9",
    "ProcessID": 2410,
    "EnclaveCID": 18,
    "NumberOfCPUs": 2,
    "CPUIDs": [3, 11],
    "MemoryMiB": 4096,
    "State": "RUNNING",
    "Flags": "DEBUG_MODE",
    "Measurements": {"HashAlgorithm": "Sha384 { ... }", "PCR0": "%s", "PCR1": "%s", "PCR2": "%s"}
  }
]
""" % (REGISTRY, REGISTRY, OLD, ORACLE.upper(), ORACLE.upper(), OLD, OLD, OLD, OLD)


def enclaves():
    return json.loads(DESCRIBED)


def ids(found):
    return [entry["EnclaveID"][-4:] for entry in found]


def test_by_image_finds_the_enclave_named_after_its_eif():
    assert ids(service_enclave.select_enclaves(enclaves(), pcr0=ORACLE)) == ["d6e8"]
    assert ids(service_enclave.select_enclaves(enclaves(), pcr0=" %s " % ORACLE.upper())) == ["d6e8"]
    assert ids(service_enclave.select_enclaves(enclaves(), pcr0=REGISTRY)) == ["d6e7"]


def test_a_name_wins_over_the_image():
    # The operator named the enclave: an enclave of the served image under another name is not the service's.
    assert ids(service_enclave.select_enclaves(enclaves(), name="oracle_enclave_1", pcr0=ORACLE)) == ["d6e9"]
    assert service_enclave.select_enclaves(enclaves(), name="oracle") == []


def test_several_enclaves_of_one_image_are_all_the_services():
    described = enclaves()
    described[2]["Measurements"]["PCR0"] = ORACLE
    assert ids(service_enclave.select_enclaves(described, pcr0=ORACLE)) == ["d6e8", "d6e9"]


def test_entries_without_measurements_or_malformed_are_skipped():
    described = [None, "text", {"EnclaveName": "x"}, {"EnclaveName": "y", "Measurements": {"PCR0": 5}}] + enclaves()
    assert ids(service_enclave.select_enclaves(described, pcr0=OLD)) == ["d6e9"]
    assert service_enclave.enclave_pcr0({"Measurements": {"pcr0": "AB"}}) == "ab"


@pytest.mark.parametrize("name,pcr0,message", [
    ("", "", "give the enclave's name or the served image's PCR0"),
    ("  ", None, "give the enclave's name or the served image's PCR0"),
    ("", "abc", "96 hex characters"),
    ("", ORACLE + "\n" + ORACLE, "96 hex characters"),
])
def test_refuses_to_guess(name, pcr0, message):
    with pytest.raises(ValueError, match=message):
        service_enclave.select_enclaves(enclaves(), name=name, pcr0=pcr0)


class Recorded:
    """nitro-cli with the recorded describe-enclaves output; records the commands."""

    def __init__(self, describe=(0, DESCRIBED, ""), terminate_rc=0):
        self.describe = describe
        self.terminate_rc = terminate_rc
        self.calls = []

    def __call__(self, argv):
        self.calls.append(argv)
        if argv[1] == "describe-enclaves":
            return self.describe
        return self.terminate_rc, json.dumps({"EnclaveID": argv[-1], "Terminated": True}), "[ E11 ] nope" if self.terminate_rc else ""


def test_terminate_acts_on_the_services_enclave_only():
    run, out, err = Recorded(), io.StringIO(), io.StringIO()
    assert service_enclave.terminate("/usr/bin/nitro-cli", pcr0=ORACLE, run=run, out=out, err=err) == 0
    assert run.calls == [["/usr/bin/nitro-cli", "describe-enclaves"],
                         ["/usr/bin/nitro-cli", "terminate-enclave", "--enclave-id", "i-0e5a1c0de0e5a1c0d-enc18d2f0a3b4c5d6e8"]]
    assert "terminated oracle_enclave (i-0e5a1c0de0e5a1c0d-enc18d2f0a3b4c5d6e8)" in out.getvalue()
    assert err.getvalue() == ""


def test_terminate_by_name_and_silent_when_none_runs():
    run, out = Recorded(), io.StringIO()
    assert service_enclave.terminate("nitro-cli", name="registry", run=run, out=out) == 0
    assert [argv[-1][-4:] for argv in run.calls[1:]] == ["d6e7"]
    quiet, out = Recorded(describe=(0, "[]", "")), io.StringIO()
    assert service_enclave.terminate("nitro-cli", pcr0=ORACLE, run=quiet, out=out) == 0
    assert len(quiet.calls) == 1 and out.getvalue() == ""


@pytest.mark.parametrize("recorded,message", [
    (Recorded(describe=(19, "", "[ E19 ] File operation failure.")), "describe-enclaves failed (exit status 19)"),
    (Recorded(describe=(0, "not json", "")), "printed no JSON"),
    (Recorded(terminate_rc=11), "terminating oracle_enclave (i-0e5a1c0de0e5a1c0d-enc18d2f0a3b4c5d6e8, the enclave started"),
])
def test_terminate_failures_are_reported(recorded, message):
    err = io.StringIO()
    assert service_enclave.terminate("nitro-cli", pcr0=ORACLE, run=recorded, out=io.StringIO(), err=err) == 1
    assert message in err.getvalue()


def test_command_line_refuses_bad_arguments(capsys):
    with pytest.raises(SystemExit) as exited:
        service_enclave.main(["terminate", "nitro-cli"])
    assert exited.value.code == 2
    assert "give the enclave's name or the served image's PCR0" in capsys.readouterr().err


def test_terminate_with_every_pcr0_the_service_may_have_served():
    """After a release the unit names the new image; the enclave of the previous one is the service's too."""
    run, out = Recorded(), io.StringIO()
    assert service_enclave.main.__doc__
    assert service_enclave.terminate("nitro-cli", pcr0=[ORACLE, OLD], run=run, out=out) == 0
    assert [argv[-1][-4:] for argv in run.calls[1:]] == ["d6e8", "d6e9"]
    assert "an enclave of the service's images (PCR0 ba19b0568898f7ee..., a5e152ec8d45c1d1...)" in out.getvalue()
    with pytest.raises(ValueError, match="96 hex characters"):
        service_enclave.select_enclaves(enclaves(), pcr0=[ORACLE, "xyz"])
    assert service_enclave.select_enclaves(enclaves(), pcr0=[REGISTRY.upper(), ""]) == enclaves()[:1]


def test_command_line_takes_several_pcr0(monkeypatch):
    seen = {}
    monkeypatch.setattr(service_enclave, "terminate", lambda nitro_cli, name, pcr0: seen.update(args=(nitro_cli, name, pcr0)) or 0)
    assert service_enclave.main(["terminate", "/usr/bin/nitro-cli", "--pcr0", ORACLE, "--pcr0", OLD.upper()]) == 0
    assert seen["args"] == ("/usr/bin/nitro-cli", "", [ORACLE, OLD.upper()])
