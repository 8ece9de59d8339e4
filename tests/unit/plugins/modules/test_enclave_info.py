"""opencontracts.enclave.enclave_info: recorded nitro-cli outputs, a fake systemctl, real files and sockets."""

import datetime
import json
import socket

import pytest

import eif_builder as builder
import module_runner
from ansible.module_utils import basic
from ansible_collections.opencontracts.enclave.plugins.module_utils import enclave_info as info_utils
from ansible_collections.opencontracts.enclave.plugins.modules import enclave_info

PCR0_GUIDE = "ba19b0568898f7eed74c911b29cccd6d026f918fa77953a705f142d06d33f51dfb00bda8f4e90e13755374548b0430e4"
PCR1 = "bcdf05fefccaa8e55bf2c8d6dee9e79bbff31e34bf28a99aa19e6b29c37ee80b214a414b7607236edf26fcb78654e63f"
EMPTY_PCR = "21b9efbc184807662e966d34f390821309eeac6802309798826296bf3e8bec7c10edb30948c90ba67310f7b964fc500a"
ENCLAVE_ID = "i-0e5a1c0de0e5a1c0d-enc18a2e5b46b0c3d41"

# `nitro-cli describe-enclaves` as nitro-cli 1.4 prints it (2-space JSON, keys in this order).
DESCRIBE_ONE = """[
  {
    "EnclaveName": "oracle",
    "EnclaveID": "%s",
    "ProcessID": 4181,
    "EnclaveCID": 16,
    "NumberOfCPUs": 2,
    "CPUIDs": [
      1,
      9
    ],
    "MemoryMiB": 11000,
    "State": "RUNNING",
    "Flags": "DEBUG_MODE",
    "Measurements": {
      "HashAlgorithm": "Sha384 { ... }",
      "PCR0": "%s",
      "PCR1": "%s",
      "PCR2": "%s"
    }
  }
]
""" % (ENCLAVE_ID, PCR0_GUIDE.upper(), PCR1, EMPTY_PCR)

E19 = ("[ E19 ] File operation failure. Such error appears when the system fails to perform the requested file operations, "
       "such as opening the EIF file when launching an enclave, or seeking or reading it.\n\n"
       "For more details, please visit https://docs.aws.amazon.com/enclaves/latest/user/cli-errors.html#E19\n")

# `systemctl show --property=...` of systemd 252 for an active unit, a missing one and a failed one.
SHOW_ACTIVE = """Id=opencontracts-oracle.service
LoadState=loaded
ActiveState=active
SubState=running
UnitFileState=enabled
Result=success
MainPID=4170
NRestarts=1
InvocationID=3f1e0c6b9d7a4e2f8c5b1a0d9e8f7a6b
ActiveEnterTimestamp=Thu 2026-11-26 08:00:00 UTC
ActiveEnterTimestampMonotonic=1000000000
"""
SHOW_NOT_FOUND = """Id=opencontracts-registry.service
LoadState=not-found
ActiveState=inactive
SubState=dead
UnitFileState=
Result=success
MainPID=0
NRestarts=0
InvocationID=
ActiveEnterTimestamp=
ActiveEnterTimestampMonotonic=0
"""
SHOW_FAILED = """Id=opencontracts-oracle.service
LoadState=loaded
ActiveState=failed
SubState=failed
UnitFileState=enabled
Result=exit-code
MainPID=0
NRestarts=5
InvocationID=
ActiveEnterTimestamp=Thu 2026-11-26 08:00:00 UTC
ActiveEnterTimestampMonotonic=1000000000
"""


# `journalctl --unit opencontracts-oracle.service --lines 5 --output json` of systemd 252 after a crash loop that hit
# the start limit (fields trimmed to those read): the serve script's last words, then systemd's own lines.
JOURNAL_START_LIMIT = "\n".join(json.dumps(entry) for entry in [
    {"SYSLOG_IDENTIFIER": "opencontracts-oracle", "_PID": "10502", "MESSAGE": "the oracle enclave stopped"},
    {"SYSLOG_IDENTIFIER": "systemd", "_PID": "1",
     "MESSAGE": "opencontracts-oracle.service: Main process exited, code=exited, status=1/FAILURE"},
    {"SYSLOG_IDENTIFIER": "systemd", "_PID": "1", "MESSAGE": "opencontracts-oracle.service: Start request repeated too quickly."},
    {"SYSLOG_IDENTIFIER": "systemd", "_PID": "1", "MESSAGE": "opencontracts-oracle.service: Failed with result 'exit-code'."},
    # journald keeps a message that is not valid UTF-8 as an array of bytes.
    {"SYSLOG_IDENTIFIER": "systemd", "_PID": "1", "MESSAGE": list(b"Failed to start opencontracts-oracle.service \xff")},
]) + "\n"


class FakeHost:
    """run_command for nitro-cli, systemctl and journalctl; records every argv."""

    def __init__(self, describe=(0, DESCRIBE_ONE, ""), units=None, version=(0, "Nitro CLI 1.4.2\n", ""), journal=""):
        self.journal = journal
        self.describe = describe
        self.units = units if units is not None else {"opencontracts-oracle.service": SHOW_ACTIVE,
                                                      "opencontracts-registry.service": SHOW_NOT_FOUND}
        self.version = version
        self.calls = []

    def __call__(self, module, argv, **kwargs):
        self.calls.append((list(argv), kwargs))
        if argv[0].endswith("nitro-cli"):
            if argv[1:] == ["--version"]:
                return self.version
            if argv[1:] == ["describe-enclaves"]:
                return self.describe
        if argv[0].endswith("systemctl"):
            assert argv[1:3] == ["show", "--no-pager"] and argv[-2] == "--", argv
            assert argv[3].startswith("--property=") and "ActiveEnterTimestampMonotonic" in argv[3]
            return 0, self.units.get(argv[-1], SHOW_NOT_FOUND.replace("opencontracts-registry.service", argv[-1])), ""
        if argv[0].endswith("journalctl"):
            assert argv[1:3] == ["--unit", "opencontracts-oracle.service"] and argv[3] == "--lines", argv
            return 0, self.journal, ""
        raise AssertionError("unexpected command %r" % (argv,))


@pytest.fixture(name="closed_port")
def fixture_closed_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


@pytest.fixture(name="open_port")
def fixture_open_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4)
    yield sock.getsockname()[1]
    sock.close()


def run(monkeypatch, args=None, host=None, bin_paths=None, check_mode=False, now_usec=1000000000 + 90061 * 1000000):
    """Run the module against ``host``; ``bin_paths`` maps nitro-cli / systemctl to a path or None (not installed)."""
    host = host or FakeHost()
    paths = {"nitro-cli": "/usr/bin/nitro-cli", "systemctl": "/usr/bin/systemctl", "journalctl": "/usr/bin/journalctl"}
    paths.update(bin_paths or {})
    monkeypatch.setattr(info_utils, "monotonic_usec", lambda: now_usec)
    monkeypatch.setattr(info_utils, "_UTC_NOW", lambda: datetime.datetime(2026, 11, 27, 9, 14, 3, tzinfo=datetime.timezone.utc))

    def run_command(self, argv, **kwargs):
        return host(self, argv, **kwargs)

    def get_bin_path(self, arg, required=False, opt_dirs=None):  # pylint: disable=unused-argument
        return paths.get(arg)

    monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", get_bin_path)
    args = dict(args or {})
    if check_mode:
        args["_ansible_check_mode"] = True
    with module_runner.module_args(args):
        monkeypatch.setattr(basic.AnsibleModule, "exit_json", module_runner._exit_json)  # pylint: disable=protected-access
        monkeypatch.setattr(basic.AnsibleModule, "fail_json", module_runner._fail_json)  # pylint: disable=protected-access
        try:
            enclave_info.main()
        except module_runner.ModuleExit as done:
            json.dumps(done.result)
            return done.result
    raise AssertionError("the module returned without calling exit_json or fail_json")


# --------------------------------------------------------------------------
# Enclaves
# --------------------------------------------------------------------------

@pytest.mark.parametrize("check_mode", [False, True])
def test_running_enclave_unit_and_open_port(monkeypatch, open_port, check_mode):
    host = FakeHost()
    result = run(monkeypatch, {"ports": [open_port], "eif_paths": ["/nonexistent/oracle.eif"]}, host=host, check_mode=check_mode)
    assert result["failed"] is False and result["changed"] is False
    assert result["checked_at"] == "2026-11-27T09:14:03Z"
    assert result["nitro_cli"] == {"available": True, "path": "/usr/bin/nitro-cli", "version": "1.4.2", "error": None, "hint": None}
    assert result["enclaves"] == [{
        "name": "oracle", "id": ENCLAVE_ID, "process_id": 4181, "cid": 16, "state": "RUNNING", "flags": "DEBUG_MODE",
        "cpu_count": 2, "cpu_ids": [1, 9], "memory_mib": 11000,
        "measurements": {"PCR0": PCR0_GUIDE, "PCR1": PCR1, "PCR2": EMPTY_PCR},
    }]
    oracle, registry = result["services"]
    # 90061 s after ActiveEnterTimestampMonotonic (1000 s): 1 day, 1 hour, 1 minute, 1 second.
    assert oracle == {
        "unit": "opencontracts-oracle.service", "load_state": "loaded", "active_state": "active", "sub_state": "running",
        "unit_file_state": "enabled", "result": "success", "main_pid": 4170, "restarts": 1,
        "invocation_id": "3f1e0c6b9d7a4e2f8c5b1a0d9e8f7a6b", "active_since": "Thu 2026-11-26 08:00:00 UTC",
        "uptime_seconds": 90061, "journal": None, "error": None,
    }
    assert registry["load_state"] == "not-found" and registry["active_state"] == "inactive"
    assert registry["uptime_seconds"] is None and registry["unit_file_state"] is None and registry["invocation_id"] is None
    assert len(result["ports"]) == 1
    assert result["ports"][0]["port"] == open_port and result["ports"][0]["open"] is True
    assert result["ports"][0]["host"] == "127.0.0.1" and result["ports"][0]["error"] is None
    assert result["notes"] == []
    # Every command is an argv list in the C locale.
    for argv, kwargs in host.calls:
        assert isinstance(argv, list) and kwargs["environ_update"]["LC_ALL"] == "C"
    assert [argv[-1] for argv, _kw in host.calls if argv[0].endswith("systemctl")] == [
        "opencontracts-oracle.service", "opencontracts-registry.service"]


def test_no_enclave_is_a_clear_result(monkeypatch, closed_port):
    result = run(monkeypatch, {"ports": [closed_port], "eif_paths": []}, host=FakeHost(describe=(0, "[]\n", "")))
    assert result["failed"] is False
    assert result["enclaves"] == [] and result["eifs"] == []
    assert result["nitro_cli"]["available"] is True and result["nitro_cli"]["error"] is None
    assert result["notes"] == ["no enclave is running (nitro-cli describe-enclaves lists none)"]
    assert result["ports"][0]["open"] is False and "refused" in result["ports"][0]["error"].lower()


def test_nitro_cli_missing_is_a_clear_result(monkeypatch):
    host = FakeHost()
    result = run(monkeypatch, {"ports": [], "eif_paths": []}, host=host, bin_paths={"nitro-cli": None})
    assert result["failed"] is False
    assert result["nitro_cli"]["available"] is False and result["nitro_cli"]["path"] is None
    assert "nitro-cli is not installed" in result["nitro_cli"]["error"] and "aws-nitro-enclaves-cli" in result["nitro_cli"]["hint"]
    assert result["enclaves"] == []
    assert result["notes"] == [result["nitro_cli"]["error"]]
    assert not [argv for argv, _kw in host.calls if argv[0].endswith("nitro-cli")]
    assert result["services"][0]["active_state"] == "active"  # the other probes still ran


def test_nitro_cli_failing_is_reported_not_fatal(monkeypatch):
    host = FakeHost(describe=(19, "", E19))
    result = run(monkeypatch, {"ports": [], "eif_paths": []}, host=host)
    assert result["failed"] is False
    assert result["nitro_cli"]["available"] is True
    assert "E19" in result["nitro_cli"]["error"] and "enclave support" in result["nitro_cli"]["hint"]
    assert result["enclaves"] == []
    assert result["notes"] == [result["nitro_cli"]["error"]]


def test_nitro_cli_path_that_does_not_exist(monkeypatch, tmp_path):
    path = str(tmp_path / "nitro-cli")
    result = run(monkeypatch, {"ports": [], "eif_paths": [], "nitro_cli_path": path})
    assert result["failed"] is False and result["nitro_cli"]["available"] is False
    assert path in result["nitro_cli"]["error"]


# --------------------------------------------------------------------------
# Service units
# --------------------------------------------------------------------------

def test_failed_unit(monkeypatch):
    host = FakeHost(units={"opencontracts-oracle.service": SHOW_FAILED}, journal=JOURNAL_START_LIMIT)
    result = run(monkeypatch, {"ports": [], "eif_paths": [], "services": ["opencontracts-oracle.service"]}, host=host)
    (oracle,) = result["services"]
    assert (oracle["active_state"], oracle["sub_state"], oracle["result"], oracle["restarts"]) == (
        "failed", "failed", "exit-code", 5)
    assert oracle["uptime_seconds"] is None  # not active: no uptime, although ActiveEnterTimestamp is set
    # Why it stopped: the journal's last lines, oldest first, as journalctl printed them.
    assert oracle["journal"] == [
        "opencontracts-oracle: the oracle enclave stopped",
        "systemd: opencontracts-oracle.service: Main process exited, code=exited, status=1/FAILURE",
        "systemd: opencontracts-oracle.service: Start request repeated too quickly.",
        "systemd: opencontracts-oracle.service: Failed with result 'exit-code'.",
        "systemd: Failed to start opencontracts-oracle.service \ufffd",
    ]
    journal_calls = [argv for argv, _kw in host.calls if argv[0].endswith("journalctl")]
    assert journal_calls == [["/usr/bin/journalctl", "--unit", "opencontracts-oracle.service", "--lines", "10",
                              "--no-pager", "--output", "json", "--quiet"]]


def test_journal_lines_zero_reads_no_journal(monkeypatch):
    host = FakeHost(units={"opencontracts-oracle.service": SHOW_FAILED}, journal=JOURNAL_START_LIMIT)
    result = run(monkeypatch, {"ports": [], "eif_paths": [], "services": ["opencontracts-oracle.service"],
                               "journal_lines": 0}, host=host)
    assert result["services"][0]["journal"] == []
    assert not [argv for argv, _kw in host.calls if argv[0].endswith("journalctl")]


def test_active_and_missing_units_read_no_journal(monkeypatch):
    host = FakeHost(journal=JOURNAL_START_LIMIT)
    result = run(monkeypatch, {"ports": [], "eif_paths": []}, host=host)
    assert [s["journal"] for s in result["services"]] == [None, None]
    assert not [argv for argv, _kw in host.calls if argv[0].endswith("journalctl")]


def test_no_systemctl(monkeypatch):
    result = run(monkeypatch, {"ports": [], "eif_paths": []}, bin_paths={"systemctl": None})
    assert result["failed"] is False
    assert [s["error"] for s in result["services"]] == ["systemctl is not installed (the host does not run systemd)"] * 2
    assert all(s["active_state"] is None for s in result["services"])


def test_systemctl_failing(monkeypatch):
    class NoSystemd(FakeHost):
        def __call__(self, module, argv, **kwargs):
            if argv[0].endswith("systemctl"):
                return 1, "", "System has not been booted with systemd as init system (PID 1). Can't operate.\n"
            return FakeHost.__call__(self, module, argv, **kwargs)

    result = run(monkeypatch, {"ports": [], "eif_paths": [], "services": ["opencontracts-oracle.service"]}, host=NoSystemd())
    assert result["failed"] is False
    assert result["services"][0]["error"] == ("systemctl show opencontracts-oracle.service failed (exit status 1): "
                                              "System has not been booted with systemd as init system (PID 1). Can't operate.")


# --------------------------------------------------------------------------
# Installed images
# --------------------------------------------------------------------------

def test_installed_image_is_measured_and_checked_against_its_record(monkeypatch, tmp_path, openssl):  # pylint: disable=unused-argument
    sections = builder.standard_sections(ramdisks=2)
    path = str(tmp_path / "oracle.eif")
    data = builder.build_eif(path, sections)
    pcrs = builder.expected_pcrs(sections)  # computed by openssl, not by the collection
    record = {"kind": "oracle", "sha256": "ab" * 32, "size": str(len(data)), "measurements": {"PCR0": pcrs["PCR0"].upper()},
              "matched_pcr0": None, "permitted": False, "method": "tars", "commit": "0" * 40, "builder": "oracle-1"}
    (tmp_path / "oracle.eif.json").write_text(json.dumps(record))
    missing = str(tmp_path / "registry.eif")
    result = run(monkeypatch, {"ports": [], "eif_paths": [path, missing]})
    installed, absent = result["eifs"]
    assert installed["exists"] is True and installed["measured"] is True
    assert installed["size"] == len(data)
    assert installed["measurements"] == pcrs
    assert installed["crc_ok"] is True and installed["eif_version"] == 4 and installed["is_signed"] is False
    assert installed["record"]["kind"] == "oracle" and installed["record"]["size"] == len(data)
    assert installed["record"]["measurements"] == {"PCR0": pcrs["PCR0"]}
    assert "builder" not in installed["record"]  # only the documented keys
    assert installed["record_matches"] is True and installed["error"] is None
    assert installed["mtime"].endswith("Z")
    assert absent == {
        "path": missing, "exists": False, "size": None, "mtime": None, "measured": False, "measurements": {},
        "crc_ok": None, "eif_version": None, "is_signed": None, "record": None, "record_path": missing + ".json",
        "record_matches": None, "error": None,
    }


def test_image_that_differs_from_its_record(monkeypatch, tmp_path):
    path = str(tmp_path / "oracle.eif")
    builder.build_eif(path, builder.standard_sections(ramdisks=2))
    (tmp_path / "oracle.eif.json").write_text(json.dumps({"measurements": {"PCR0": PCR0_GUIDE}}))
    (installed,) = run(monkeypatch, {"ports": [], "eif_paths": [path]})["eifs"]
    assert installed["record_matches"] is False and installed["measurements"]["PCR0"] != PCR0_GUIDE


def test_image_not_measured_when_asked(monkeypatch, tmp_path):
    path = str(tmp_path / "oracle.eif")
    builder.build_eif(path, builder.standard_sections(ramdisks=2))
    (installed,) = run(monkeypatch, {"ports": [], "eif_paths": [path], "measure_eifs": False})["eifs"]
    assert installed["exists"] is True and installed["measured"] is False and installed["measurements"] == {}
    assert installed["record"] is None and installed["record_matches"] is None


def test_broken_image_and_record_are_reported(monkeypatch, tmp_path):
    path = str(tmp_path / "oracle.eif")
    (tmp_path / "oracle.eif").write_bytes(b"not an eif at all" * 100)
    (tmp_path / "oracle.eif.json").write_text("{not json")
    result = run(monkeypatch, {"ports": [], "eif_paths": [path]})
    assert result["failed"] is False
    (installed,) = result["eifs"]
    assert installed["exists"] is True and installed["measured"] is False
    assert "cannot measure %s" % path in installed["error"] and "is not JSON" in installed["error"]


# --------------------------------------------------------------------------
# Arguments
# --------------------------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    ({"ports": [0]}, "ports[0]: 0 is not a TCP port number (1-65535)"),
    ({"ports": [8080, 70000]}, "ports[1]: 70000 is not a TCP port number"),
    ({"services": ["--all"]}, "services[0]: '--all' is not a systemd unit name"),
    ({"services": ["ok.service", "a b.service"]}, "services[1]: 'a b.service' is not a systemd unit name"),
    ({"port_timeout": 0}, "port_timeout: 0.0 must be more than 0 and at most 60 seconds"),
    ({"port_timeout": 61}, "port_timeout: 61.0 must be more than 0"),
    ({"eif_paths": ["relative/oracle.eif"]}, "eif_paths[0]: 'relative/oracle.eif' is not an absolute path"),
    ({"port_host": " "}, "port_host: give the address to probe"),
    ({"journal_lines": -1}, "journal_lines: -1 must be from 0 to 200"),
    ({"journal_lines": 201}, "journal_lines: 201 must be from 0 to 200"),
])
def test_bad_arguments_fail_clearly(monkeypatch, args, message):
    host = FakeHost()
    result = run(monkeypatch, args, host=host)
    assert result["failed"] is True and result["changed"] is False
    assert message in result["msg"]
    assert host.calls == []  # nothing ran


def test_documented_return_keys_match_the_result(monkeypatch):
    """Every top-level key the module returns is documented in RETURN, and the other way round."""
    import yaml  # pylint: disable=import-outside-toplevel

    documented = set(yaml.safe_load(enclave_info.RETURN))
    result = run(monkeypatch, {"ports": [], "eif_paths": []})
    assert set(result) - {"changed", "failed"} == documented
    options = yaml.safe_load(enclave_info.DOCUMENTATION)["options"]
    assert options["eif_paths"]["default"] == info_utils.DEFAULT_EIF_PATHS
    assert options["services"]["default"] == info_utils.DEFAULT_SERVICES
    assert options["ports"]["default"] == info_utils.DEFAULT_PORTS


def test_fifos_as_image_and_record_are_reported_without_blocking(monkeypatch, tmp_path):
    # Opening a FIFO for reading blocks until a writer appears: the alarm turns a hang into a failure.
    import os
    import signal

    path = str(tmp_path / "oracle.eif")
    os.mkfifo(path)
    os.mkfifo(path + ".json")

    def hung(*_args):
        raise AssertionError("enclave_info blocked on a FIFO")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(5)
    try:
        result = run(monkeypatch, {"ports": [], "eif_paths": [path]})
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    image = result["eifs"][0]
    assert image["exists"] is False and image["record"] is None
    assert "not a regular file" in image["error"]
