"""opencontracts.enclave.serve_settings: the module around module_utils/serve_script.py."""

import os
import stat
import subprocess

import pytest

from module_runner import run_module
from ansible_collections.opencontracts.enclave.plugins.modules import serve_settings

SCRIPT = "#!/bin/sh\n# settings\nPROVIDER=\nPRICE=\nMEMORY=11000\n\nnitro-cli run-enclave --memory \"$MEMORY\"\n"


@pytest.fixture(name="script")
def fixture_script(tmp_path):
    path = tmp_path / "serve_oracle.sh"
    path.write_text(SCRIPT)
    os.chmod(str(path), 0o750)
    return path


class Shell:
    """run_command for the module's syntax check: runs /bin/sh -n for real, records the calls, refuses anything else."""

    def __init__(self):
        self.calls = []

    def __call__(self, module, args, **kwargs):  # pylint: disable=unused-argument
        assert list(args[:2]) == ["/bin/sh", "-n"] and len(args) == 3, args
        self.calls.append(list(args))
        done = subprocess.run(list(args), capture_output=True, text=True, check=False)
        return done.returncode, done.stdout, done.stderr


def run(args, **kwargs):
    kwargs.setdefault("commands", Shell())
    return run_module(serve_settings.main, args, **kwargs)


def test_changes_and_reports(script):
    result = run({"path": str(script), "settings": {"PRICE": "42", "PROVIDER": "0xabc"}, "_ansible_diff": True})
    assert result["failed"] is False
    assert result["changed"] is True
    assert sorted(result["changed_names"]) == ["PRICE", "PROVIDER"]
    assert script.read_text() == SCRIPT.replace("PRICE=\n", "PRICE=42\n").replace("PROVIDER=\n", "PROVIDER=0xabc\n")
    assert result["diff"]["before"] == SCRIPT
    assert result["diff"]["after"] == script.read_text()
    assert stat.S_IMODE(os.stat(str(script)).st_mode) == 0o750


def test_second_run_changes_nothing(script):
    run({"path": str(script), "settings": {"PRICE": 42}})
    mtime = os.stat(str(script)).st_mtime_ns
    result = run({"path": str(script), "settings": {"PRICE": 42}})
    assert result["changed"] is False
    assert result["changed_names"] == []
    assert os.stat(str(script)).st_mtime_ns == mtime


def sha1sum(data):
    """The coreutils tool's digest of the bytes: the module's own code is not used to check it."""
    return subprocess.run(["sha1sum"], input=data, stdout=subprocess.PIPE, check=True).stdout.split()[0].decode()


def test_checksum_is_the_scripts_after_the_run(script):
    changed = run({"path": str(script), "settings": {"PRICE": "42"}})
    assert changed["checksum"] == sha1sum(script.read_bytes())
    assert changed["checksum"] != sha1sum(SCRIPT.encode())
    unchanged = run({"path": str(script), "settings": {"PRICE": "42"}})
    assert unchanged["changed"] is False
    assert unchanged["checksum"] == changed["checksum"]


def test_checksum_in_check_mode_is_the_script_it_would_write(script):
    result = run({"path": str(script), "settings": {"PRICE": "42"}, "_ansible_diff": True}, check_mode=True)
    assert result["checksum"] == sha1sum(result["diff"]["after"].encode())
    assert script.read_text() == SCRIPT


def test_check_mode_writes_nothing(script):
    result = run({"path": str(script), "settings": {"PRICE": "42"}, "_ansible_diff": True}, check_mode=True)
    assert result["changed"] is True
    assert "PRICE=42" in result["diff"]["after"]
    assert script.read_text() == SCRIPT


def test_missing_fails_clearly_and_changes_nothing(script):
    result = run({"path": str(script), "settings": {"PRICE": "1", "REGISTRY": "203.0.113.10"}})
    assert result["failed"] is True
    assert "REGISTRY" in result["msg"] and str(script) in result["msg"]
    assert "Traceback" not in result["msg"]
    assert script.read_text() == SCRIPT


def test_missing_appended_when_asked(script):
    result = run({"path": str(script), "settings": {"REGISTRY": "203.0.113.10"}, "missing": "append"})
    assert result["changed"] is True
    assert result["settings"]["REGISTRY"]["status"] == "appended"
    assert "MEMORY=11000\nREGISTRY=203.0.113.10\n" in script.read_text()


def test_optional(script):
    result = run({"path": str(script), "settings": {"MEMORY": 12000, "CPU_COUNT": 2}, "optional": ["MEMORY", "CPU_COUNT"]})
    assert result["changed"] is True
    assert result["settings"]["CPU_COUNT"]["status"] == "absent"
    assert "MEMORY=12000\n" in script.read_text()


def test_optional_must_be_settings(script):
    result = run({"path": str(script), "settings": {"MEMORY": 1}, "optional": ["CPU_COUNT"]})
    assert result["failed"] is True
    assert "CPU_COUNT" in result["msg"]


def test_no_such_script(tmp_path):
    result = run({"path": str(tmp_path / "nope.sh"), "settings": {"PRICE": "1"}})
    assert result["failed"] is True
    assert "does not exist" in result["msg"]


def test_backup(script):
    result = run({"path": str(script), "settings": {"PRICE": "9"}, "backup": True})
    assert result["backup_file"] and open(result["backup_file"]).read() == SCRIPT


GUIDE_SCRIPT = (
    "#!/bin/sh\n"
    "PROVIDER=<---the Ethereum address that should get your rewards-->\n"
    "REGISTRY=<---the IP of an existing registry--->\n"
    "PRICE=<---the amount of OPN * 10^18 that you demand users pay when submitting your results. --->\n"
    "NO_DEMAND_TIMEOUT=<---how long the oracle enclave should run before shutting down if no user arrives. "
    "leave empty to run forever-->\n"
    "\nnitro-cli run-enclave --eif-path oracle.eif\n")
GUIDE_SETTINGS = {"PROVIDER": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "REGISTRY": "203.0.113.10", "PRICE": "7",
                  "NO_DEMAND_TIMEOUT": ""}


def test_the_guides_placeholders_become_valid_shell(script):
    script.write_text(GUIDE_SCRIPT)
    result = run({"path": str(script), "settings": GUIDE_SETTINGS})
    assert result["failed"] is False and result["changed"] is True
    assert script.read_text().splitlines()[1:5] == [
        "PROVIDER=0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "REGISTRY=203.0.113.10", "PRICE=7", "NO_DEMAND_TIMEOUT="]
    assert subprocess.run(["/bin/sh", "-n", str(script)], check=False).returncode == 0


def test_a_command_substitution_is_rewritten_whole(script):
    script.write_text(SCRIPT.replace("PRICE=\n", "PRICE=$(cat price.txt)\n"))
    result = run({"path": str(script), "settings": {"PRICE": 7}})
    assert result["failed"] is False and result["settings"]["PRICE"]["before"] is None
    assert "PRICE=7\n" in script.read_text() and "(cat price.txt)" not in script.read_text()


@pytest.mark.parametrize("check_mode", [False, True])
def test_a_result_that_is_not_valid_shell_fails_and_leaves_the_script(script, check_mode):
    broken = SCRIPT + "if true; then\n  echo never closed\n"
    script.write_text(broken)
    result = run({"path": str(script), "settings": {"PRICE": 7}}, check_mode=check_mode)
    assert result["failed"] is True
    assert "not valid shell" in result["msg"] and "sh -n" in result["msg"]
    assert str(script) in result["msg"] and "/.serve_oracle.sh." not in result["msg"]
    assert script.read_text() == broken
    assert sorted(os.listdir(str(script.parent))) == ["serve_oracle.sh"]


def test_a_here_document_fails_with_its_line_and_leaves_the_script(script):
    text = SCRIPT.replace("PRICE=\n", "PRICE=$(cat <<EOF\n5\nEOF\n)\n")
    script.write_text(text)
    result = run({"path": str(script), "settings": {"PRICE": 7}})
    assert result["failed"] is True and "line 4 (PRICE)" in result["msg"]
    assert script.read_text() == text
