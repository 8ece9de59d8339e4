"""fleet_report_files: the report's JSON and HTML, the fleet-latest links and the attestation archive."""

import json
import os

from module_runner import run_module
from ansible_collections.opencontracts.enclave.plugins.modules import fleet_report_files

REPORT = {"generated_at": "2026-11-27T09:14:05Z", "hosts": [{"host": "oracle-1", "verdict": "serving"}]}
LINE = '{"host":"oracle-1","kind":"oracle"}\n'


def run(folder, check_mode=False, **extra):
    args = dict({"report": REPORT, "html": "<html>report</html>", "dir": str(folder)}, **extra)
    return run_module(fleet_report_files.main, args, check_mode=check_mode)


def test_writes_the_report_and_points_fleet_latest_at_it(tmp_path):
    folder = tmp_path / "reports"
    result = run(folder)
    assert not result["failed"], result
    json_path, html_path = folder / "fleet-20261127T091405Z.json", folder / "fleet-20261127T091405Z.html"
    assert result["json"] == str(json_path) and result["html"] == str(html_path) and result["archive"] is None
    assert result["ansible_facts"] == {"fleet_report_files": {"json": str(json_path), "html": str(html_path)}}
    assert json.loads(json_path.read_text()) == REPORT and json_path.read_text().endswith("}\n")
    assert html_path.read_text() == "<html>report</html>"
    assert os.readlink(folder / "fleet-latest.json") == "fleet-20261127T091405Z.json"
    assert os.readlink(folder / "fleet-latest.html") == "fleet-20261127T091405Z.html"
    assert oct(os.stat(json_path).st_mode & 0o777) == "0o644" and oct(os.stat(folder).st_mode & 0o777) == "0o755"
    assert not (folder / "attestations-20261127.jsonl").exists()


def test_a_later_report_moves_the_links(tmp_path):
    run(tmp_path)
    later = dict(REPORT, generated_at="2026-11-27T10:00:00Z")
    assert not run(tmp_path, report=later)["failed"]
    assert os.readlink(tmp_path / "fleet-latest.json") == "fleet-20261127T100000Z.json"
    assert (tmp_path / "fleet-20261127T091405Z.json").exists()


def test_attestations_are_appended_to_the_day_s_archive(tmp_path):
    archive = tmp_path / "attestations-20261127.jsonl"
    archive.write_text('{"host":"oracle-0"}')  # no newline at the end: the next line still starts a line
    result = run(tmp_path, attestations=LINE)
    assert result["archive"] == str(archive)
    assert archive.read_text().splitlines() == ['{"host":"oracle-0"}', LINE.strip()]
    run(tmp_path, attestations=LINE)
    assert len(archive.read_text().splitlines()) == 3 and archive.read_text().endswith("\n")


def test_check_mode_writes_nothing(tmp_path):
    folder = tmp_path / "reports"
    result = run(folder, check_mode=True, attestations=LINE)
    assert not result["failed"] and result["changed"]
    assert result["archive"] == str(folder / "attestations-20261127.jsonl")
    assert not folder.exists()


def test_bad_input_fails_clearly(tmp_path):
    result = run(tmp_path, report={"hosts": []})
    assert result["failed"] and result["msg"].startswith("report.generated_at must be a UTC time")
    plain = tmp_path / "file"
    plain.write_text("")
    result = run(plain)
    assert result["failed"] and result["msg"] == "dir is not a folder: %s" % plain
