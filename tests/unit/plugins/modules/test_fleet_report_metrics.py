"""fleet_report_metrics: writes the metrics file, changes nothing when it is current, and checks its input."""

import os

from module_runner import run_module
from ansible_collections.opencontracts.enclave.plugins.modules import fleet_report_metrics

REPORT = {"generated_at": "2026-11-27T09:14:05Z",
          "hosts": [{"host": "oracle-1", "kind": "oracle", "verdict": "serving", "attested": "verified"}]}
LINE = 'opencontracts_enclave_attested{host="oracle-1",kind="oracle"} 1.0\n'


def run(path, check_mode=False, diff=False, report=None):
    args = {"report": report or REPORT, "path": str(path)}
    if diff:
        args["_ansible_diff"] = True
    return run_module(fleet_report_metrics.main, args, check_mode=check_mode)


def test_writes_then_unchanged(tmp_path):
    path = tmp_path / "fleet.prom"
    result = run(path, check_mode=True, diff=True)
    assert result["changed"] and not path.exists()
    assert LINE in result["diff"]["after"] and result["diff"]["before"] == ""
    result = run(path)
    assert result["changed"] and not result["failed"] and result["series"] == 3
    assert LINE in path.read_text()
    assert oct(os.stat(path).st_mode & 0o777) == "0o644"
    assert run(path)["changed"] is False


def test_bad_inputs(tmp_path):
    assert run(tmp_path / "fleet.txt")["msg"].startswith("path must end in .prom")
    assert run(tmp_path / "missing" / "fleet.prom")["msg"].startswith("the folder of path does not exist")
    result = run(tmp_path / "fleet.prom", report={"hosts": "nope"})
    assert result["failed"] and "must be a fleet report" in result["msg"]
