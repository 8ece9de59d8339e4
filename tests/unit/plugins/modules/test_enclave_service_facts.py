"""opencontracts.enclave.enclave_service_facts on real temporary files and recorded systemctl / git output."""

import grp
import hashlib
import os
import pwd
import subprocess

import pytest

from module_runner import CommandRecorder, run_module
from ansible_collections.opencontracts.enclave.plugins.modules import enclave_service_facts as esf

UNIT = "opencontracts-oracle.service"
UNIT_TEXT = "[Unit]\nDescription=Open Contracts oracle enclave\n\n[Service]\nExecStart=/bin/sh serve_oracle.sh\n"
SCRIPT = "#!/bin/sh\nPROVIDER=0xabc\nPRICE=42\nMEMORY=11000\nnitro-cli run-enclave --memory \"$MEMORY\"\n"
HELPER = "#!/bin/sh\necho terminate\n"
EIF = b"an enclave image"
# 2026-12-02 13:22:01 UTC
STARTED = 1796217721
ACTIVE = ("LoadState=loaded\nActiveState=active\nUnitFileState=enabled\n"
          "ActiveEnterTimestamp=Wed 2026-12-02 13:22:01 UTC\n")


def sha(data, algorithm):
    """The coreutils tool's digest: the module's own code is not used to check it."""
    return subprocess.run(["%ssum" % algorithm], input=data, stdout=subprocess.PIPE, check=True).stdout.split()[0].decode()


@pytest.fixture(name="host")
def fixture_host(tmp_path, monkeypatch):
    """A host as the role leaves it: script with the settings, image, helper, unit; every file older than the start."""
    # The files belong to whoever runs the tests: let them count as root's.
    monkeypatch.setattr(esf, "ROOT_FILE", {"owner": pwd.getpwuid(os.getuid()).pw_name,
                                           "group": grp.getgrgid(os.getgid()).gr_name})
    repo = tmp_path / "repo"
    (repo / "oracle_enclave").mkdir(parents=True)
    script = repo / "oracle_enclave" / "serve_oracle.sh"
    script.write_text(SCRIPT)
    eif = repo / "oracle_enclave" / "oracle_enclave.eif"
    eif.write_bytes(EIF)
    os.chmod(str(eif), 0o644)
    helpers = tmp_path / "libexec"
    helpers.mkdir()
    (helpers / "terminate-enclave").write_text(HELPER)
    os.chmod(str(helpers / "terminate-enclave"), 0o755)
    unit = tmp_path / UNIT
    unit.write_text(UNIT_TEXT)
    os.chmod(str(unit), 0o644)
    for path in (script, eif, helpers / "terminate-enclave", unit):
        os.utime(str(path), (STARTED - 60, STARTED - 60))
    return {"repo": repo, "script": script, "eif": eif, "helpers": helpers, "unit": unit}


def args_for(host, **overrides):
    args = {
        "unit": UNIT,
        "unit_path": str(host["unit"]),
        "unit_content": UNIT_TEXT,
        "script": str(host["script"]),
        "repo_dir": str(host["repo"]),
        "settings": {"PROVIDER": "0xabc", "PRICE": "42", "MEMORY": 11000, "CPU_COUNT": 2},
        "optional": ["MEMORY", "CPU_COUNT"],
        "eif": str(host["eif"]),
        "eif_sha256": hashlib.sha256(EIF).hexdigest().upper(),
        "helper_dir": str(host["helpers"]),
        "helpers": {"terminate-enclave": HELPER},
    }
    args.update(overrides)
    return args


def commands(host, systemctl=ACTIVE, git="S oracle_enclave/serve_oracle.sh\n"):
    return CommandRecorder({
        "show": (0, systemctl, ""),
        str(host["repo"]): (0, git, ""),
    })


def run(host, check_mode=False, recorder=None, bin_path="/usr/bin/tool", **overrides):
    recorder = recorder or commands(host)
    return run_module(esf.main, args_for(host, **overrides), check_mode=check_mode, commands=recorder,
                      bin_path=bin_path)


def test_a_host_as_the_role_leaves_it_is_current(host):
    result = run(host)
    assert result["failed"] is False
    assert result["changed"] is False
    assert result["current"] is True
    assert result["script"] == {
        "path": str(host["script"]), "exists": True, "checksum": sha(SCRIPT.encode(), "sha1"),
        "settings_current": True, "settings_changes": [], "settings_error": None,
        "git_tracked": True, "git_skip_worktree": True, "current": True}
    assert result["eif"]["current"] is True and result["eif"]["wanted"] is True
    assert result["eif"]["checksum"] == sha(EIF, "sha256")
    assert result["helpers"]["stale"] == [] and result["helpers"]["current"] is True
    assert result["helpers"]["files"]["terminate-enclave"]["checksum"] == sha(HELPER.encode(), "sha1")
    assert result["unit"]["current"] is True
    assert result["unit"]["checksum"] == sha(UNIT_TEXT.encode(), "sha1")
    assert result["unit"]["active"] is True and result["unit"]["enabled"] is True
    assert result["unit"]["active_since"] == STARTED
    assert result["changed_since_start"] == []


def test_check_mode_reads_the_same(host):
    assert run(host, check_mode=True)["current"] is True


def test_a_changed_price_is_a_settings_change(host):
    result = run(host, settings={"PROVIDER": "0xabc", "PRICE": "43"}, optional=[])
    assert result["script"]["settings_current"] is False
    assert result["script"]["settings_changes"] == ["PRICE"]
    assert result["script"]["current"] is False
    assert result["current"] is False
    # Only read.
    assert host["script"].read_text() == SCRIPT


def test_a_setting_serve_settings_would_refuse_is_reported_not_raised(host):
    result = run(host, settings={"PRICE": "42", "REGISTRY": "192.0.2.10"}, optional=[])
    assert result["failed"] is False
    assert "REGISTRY" in result["script"]["settings_error"]
    assert result["script"]["settings_current"] is False and result["current"] is False


def test_a_missing_script(host):
    host["script"].unlink()
    result = run(host)
    assert result["script"]["exists"] is False and result["script"]["checksum"] is None
    assert result["script"]["current"] is False and result["current"] is False


def test_git_tracks_the_script_without_ignoring_its_settings(host):
    recorder = commands(host, git="H oracle_enclave/serve_oracle.sh\n")
    result = run(host, recorder=recorder)
    assert result["script"]["git_tracked"] is True and result["script"]["git_skip_worktree"] is False
    assert result["current"] is False
    git_call = [call for call, dummy in recorder.calls if call[0].endswith("tool") and "ls-files" in call][0]
    assert git_call[-2:] == ["--", os.path.join("oracle_enclave", "serve_oracle.sh")]


def test_an_untracked_script_needs_no_git_flag(host):
    result = run(host, recorder=commands(host, git=""))
    assert result["script"]["git_tracked"] is False
    assert result["script"]["current"] is True and result["current"] is True


@pytest.mark.parametrize("drift", ["content", "mode"])
def test_a_unit_file_that_differs_is_not_current(host, drift):
    if drift == "content":
        host["unit"].write_text(UNIT_TEXT + "# edited\n")
    else:
        os.chmod(str(host["unit"]), 0o600)
    result = run(host)
    assert result["unit"]["current"] is False
    assert result["current"] is False


def test_a_deleted_helper_is_stale(host):
    (host["helpers"] / "terminate-enclave").unlink()
    result = run(host, helpers={"terminate-enclave": HELPER, "serve-in-tmux": "#!/bin/sh\n"})
    assert result["helpers"]["stale"] == ["serve-in-tmux", "terminate-enclave"]
    assert result["helpers"]["files"]["terminate-enclave"]["exists"] is False
    assert result["current"] is False


def test_a_helper_that_is_not_executable_is_stale(host):
    os.chmod(str(host["helpers"] / "terminate-enclave"), 0o644)
    assert run(host)["helpers"]["stale"] == ["terminate-enclave"]


def test_a_different_image_is_not_current(host):
    host["eif"].write_bytes(b"another image")
    os.utime(str(host["eif"]), (STARTED - 60, STARTED - 60))
    result = run(host)
    assert result["eif"]["current"] is False and result["current"] is False


def test_no_image_is_wanted_without_its_checksum(host):
    host["eif"].unlink()
    result = run(host, eif_sha256="")
    assert result["eif"]["wanted"] is False and result["eif"]["current"] is True
    result = run(host, eif="")
    assert result["eif"]["wanted"] is False and result["eif"]["exists"] is False


def test_a_stopped_unit_is_not_current(host):
    stopped = "LoadState=loaded\nActiveState=failed\nUnitFileState=enabled\nActiveEnterTimestamp=Wed 2026-12-02 13:22:01 UTC\n"
    result = run(host, recorder=commands(host, systemctl=stopped))
    assert result["unit"]["active"] is False and result["unit"]["active_state"] == "failed"
    assert result["unit"]["active_since"] is None
    assert result["changed_since_start"] == []
    assert result["current"] is False


def test_a_disabled_unit_is_not_current(host):
    disabled = ACTIVE.replace("UnitFileState=enabled", "UnitFileState=disabled")
    result = run(host, recorder=commands(host, systemctl=disabled))
    assert result["unit"]["enabled"] is False and result["current"] is False


def test_a_file_changed_after_the_start_is_reported(host):
    os.utime(str(host["script"]), (STARTED + 5, STARTED + 5))
    # Within the start's second counts as before it.
    os.utime(str(host["eif"]), (STARTED + 0.9, STARTED + 0.9))
    result = run(host)
    assert result["changed_since_start"] == [str(host["script"])]
    assert result["script"]["current"] is True
    assert result["current"] is False


def test_systemctl_is_asked_in_utc(host):
    recorder = commands(host)
    run(host, recorder=recorder)
    timestamp_calls = [kwargs for call, kwargs in recorder.calls if "--property=ActiveEnterTimestamp" in call]
    assert timestamp_calls and timestamp_calls[0]["environ_update"]["TZ"] == "UTC"


def test_without_systemd_nothing_runs(host):
    recorder = CommandRecorder({})
    result = run(host, recorder=recorder, bin_path=None)
    assert result["unit"]["active"] is False and result["unit"]["active_since"] is None
    assert result["script"]["git_tracked"] is False
    assert recorder.calls == []
    assert result["current"] is False


@pytest.mark.parametrize("value, expected", [
    ("Wed 2026-12-02 13:22:01 UTC", STARTED),
    ("", None),
    ("n/a", None),
    ("Wed 2026-12-02 14:22:01 CET", None),
    ("Wed 2026-13-02 13:22:01 UTC", None),
])
def test_parse_timestamp(value, expected):
    assert esf.parse_timestamp(value) == expected


@pytest.mark.parametrize("overrides, message", [
    ({"unit": "opencontracts-oracle"}, "unit must be a service unit's name"),
    ({"unit": "../x.service"}, "unit must be a service unit's name"),
    ({"optional": ["NOPE"]}, "optional names NOPE are not in settings"),
    ({"helpers": {"../evil": "x"}}, "helper names must be plain file names"),
])
def test_bad_arguments_fail_cleanly(host, overrides, message):
    result = run(host, **overrides)
    assert result["failed"] is True
    assert message in result["msg"]


class Accounts:
    """pwd/grp stand-ins: an opencontracts user (primary group opencontracts) and the groups below."""

    def __init__(self, members):
        self.members = members

    def getpwnam(self, name):
        if name == "root":
            return pwd_entry("root", 0, 0)
        if name == "opencontracts":
            return pwd_entry(name, 990, 990)
        raise KeyError(name)

    def getgrgid(self, gid):
        return grp_entry({0: "root", 990: "opencontracts"}[gid], gid, [])

    def getgrnam(self, name):
        for group in self.getgrall():
            if group.gr_name == name:
                return group
        raise KeyError(name)

    def getgrall(self):
        return [grp_entry(name, 900 + index, members) for index, (name, members) in enumerate(sorted(self.members.items()))]


def pwd_entry(name, uid, gid):
    return type("Passwd", (), {"pw_name": name, "pw_uid": uid, "pw_gid": gid})()


def grp_entry(name, gid, members):
    return type("Group", (), {"gr_name": name, "gr_gid": gid, "gr_mem": members})()


@pytest.mark.parametrize("user,members,expected", [
    ("root", {"ne": []}, {"exists": True, "in_ne": True, "groups": ["root"], "current": True}),
    ("opencontracts", {"ne": ["opencontracts"], "docker": ["admin"]},
     {"exists": True, "in_ne": True, "groups": ["opencontracts", "ne"], "current": True}),
    ("opencontracts", {"ne": ["admin"], "docker": ["opencontracts"]},
     {"exists": True, "in_ne": False, "groups": ["opencontracts", "docker"], "current": False}),
    ("oracle", {"ne": ["oracle"]}, {"exists": False, "in_ne": False, "groups": [], "current": False}),
])
def test_the_service_user_must_exist_and_be_in_ne(host, monkeypatch, user, members, expected):
    accounts = Accounts(members)
    monkeypatch.setattr(esf, "pwd", accounts)
    monkeypatch.setattr(esf, "grp", accounts)
    result = run(host, user=user)
    assert result["failed"] is False
    assert result["user"] == dict(expected, name=user, ne_exists=True)
    assert result["current"] is expected["current"]


def test_a_fresh_host_has_no_group_ne_yet(host, monkeypatch):
    accounts = Accounts({"docker": []})
    monkeypatch.setattr(esf, "pwd", accounts)
    monkeypatch.setattr(esf, "grp", accounts)
    result = run(host, user="opencontracts", check_mode=True)
    assert result["user"]["ne_exists"] is False and result["user"]["in_ne"] is False and result["current"] is False
