"""The attestation part of the fleet report: probe results and their verification judged, documents archived.

The probe results are written out by hand as the module attestation_probe returns them with allowed_pcr0
(its RETURN block; the verification is attestation_verify's result); the document is built here under a
throwaway certificate whose expiry the test chooses.
"""

import datetime
import json

import cbor2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

import fleet_samples as samples
from ansible_collections.opencontracts.enclave.plugins.plugin_utils import fleet_report as fr
from ansible_collections.opencontracts.enclave.plugins.plugin_utils import fleet_report_attestation as fa

NOW = datetime.datetime(2026, 11, 27, 9, 14, 5, tzinfo=datetime.timezone.utc)
LEAF_NOT_AFTER = datetime.datetime(2026, 11, 27, 12, 0, 0, tzinfo=datetime.timezone.utc)
MODULE_ID = "i-0e5a1c0de0e5a1c0d-enc18a2e5b46b0c3d41"


def leaf_document(not_after=LEAF_NOT_AFTER, tagged=False):
    """Hex of a COSE_Sign1 whose payload carries a leaf certificate expiring at not_after (not signed)."""
    key = ec.generate_private_key(ec.SECP384R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, MODULE_ID)])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(not_after - datetime.timedelta(hours=3)).not_valid_after(not_after)
            .sign(key, hashes.SHA384()))
    payload = cbor2.dumps({"module_id": MODULE_ID, "digest": "SHA384", "timestamp": 0, "pcrs": {0: bytes(48)},
                           "certificate": cert.public_bytes(Encoding.DER), "cabundle": []})
    message = [cbor2.dumps({1: -35}), {}, payload, bytes(96)]
    return cbor2.dumps(cbor2.CBORTag(18, message) if tagged else message).hex()


def probe(document, status="attestation", **extra):
    result = {"changed": False, "failed": False, "status": status, "attestation": document if status == "attestation" else None,
              "sign_this": "ab" * 32 if status == "attestation" else None, "url": "ws://203.0.113.21:8080", "elapsed": 0.05,
              "error": None}
    result.update(extra)
    return result


def verified(pcr0=samples.FIXTURE_PCR0, timestamp="2026-11-27T09:14:00Z", ok=True, reasons=None):
    return {"verified": ok, "pcrs": {"PCR0": pcr0, "PCR1": pcr0, "PCR2": "00" * 48},
            "matched_pcr0": pcr0 if ok else None, "module_id": MODULE_ID, "timestamp": timestamp,
            "public_key": "0x" + "11" * 20, "user_data": "30820122", "nonce": None, "reasons": reasons or []}


def build(hostvars, groups):
    return fr.build_report(fr.collect_inputs(sorted(hostvars), hostvars, groups), generated_at="2026-11-27T09:14:05Z")


def row_of(report, host):
    (row,) = [r for r in report["hosts"] if r["host"] == host and r["kind"] == "oracle"]
    return row


@pytest.fixture(name="fleet")
def fixture_fleet():
    return samples.sample_fleet()


def test_leaf_expiry_read_from_the_document():
    assert fa.leaf_not_after(leaf_document()) == "2026-11-27T12:00:00Z"
    assert fa.leaf_not_after(leaf_document(tagged=True)) == "2026-11-27T12:00:00Z"
    assert fa.leaf_not_after("not hex") is None and fa.leaf_not_after("a0") is None and fa.leaf_not_after(None) is None


def test_verified_oracle_stays_serving(fleet):
    hostvars, groups = fleet
    document = leaf_document()
    hostvars["oracle-1"]["__fleet_report_attest_probe"] = probe(document)
    hostvars["oracle-1"]["__fleet_report_attest_probe"]["verification"] = verified()
    report = build(hostvars, groups)
    row = row_of(report, "oracle-1")
    assert row["verdict"] == "serving" and row["reasons"] == [] and row["notes"] == []
    assert row["attested"] == "verified"
    assert row["attestation"] == {
        "status": "verified", "reason": None, "url": "ws://203.0.113.21:8080", "pcr0": samples.FIXTURE_PCR0,
        "matched_pcr0": samples.FIXTURE_PCR0, "module_id": MODULE_ID, "timestamp": "2026-11-27T09:14:00Z",
        "age_seconds": 5, "leaf_not_after": "2026-11-27T12:00:00Z", "leaf_expires_in_seconds": 2 * 3600 + 45 * 60 + 55}
    assert report["totals"]["attested"] == {"verified": 1, "failed": 0, "busy": 0, "not_checked": 6}
    assert report["totals"]["attestation_failed"] == {"count": 0, "hosts": []}
    line = [line for line in fr.render_table(report).splitlines() if line.startswith("oracle-1 ")][0]
    assert " verified 5s " in line
    assert "attestation of the oracles: 1 verified, 0 failed, 0 busy, 6 not checked" in fr.render_table(report)


def test_failed_check_degrades_with_its_reason(fleet):
    hostvars, groups = fleet
    hostvars["oracle-2"]["__fleet_report_attest_probe"] = probe(leaf_document())
    hostvars["oracle-2"]["__fleet_report_attest_probe"]["verification"] = dict(
        verified(pcr0="00" * 48, ok=False, reasons=["debug mode: PCR0 is all zeros"]),
        msg="attestation check failed: debug mode: PCR0 is all zeros")
    report = build(hostvars, groups)
    row = row_of(report, "oracle-2")
    assert row["verdict"] == "degraded"
    assert row["reasons"] == ["attestation failed: debug mode: PCR0 is all zeros"]
    assert row["attested"] == "failed" and row["attestation"]["pcr0"] == "00" * 48
    assert row["attestation"]["matched_pcr0"] is None
    assert report["totals"]["attestation_failed"] == {"count": 1, "hosts": ["oracle-2"]}


def test_failed_without_reasons_takes_the_message(fleet):
    hostvars, groups = fleet
    hostvars["oracle-2"]["__fleet_report_attest_probe"] = probe(leaf_document())
    hostvars["oracle-2"]["__fleet_report_attest_probe"].update(
        failed=True, msg="Failed to import the required Python library (cbor2)", verification={"verified": False, "reasons": []})
    row = row_of(build(hostvars, groups), "oracle-2")
    assert row["reasons"] == ["attestation failed: Failed to import the required Python library (cbor2)"]


def test_probe_error_is_a_failure(fleet):
    hostvars, groups = fleet
    hostvars["oracle-3"]["__fleet_report_attest_probe"] = probe(
        None, status="error", error="cannot talk to ws://203.0.113.21:8080: [Errno 111] Connection refused",
        msg="attestation probe of ws://203.0.113.21:8080 failed")
    row = row_of(build(hostvars, groups), "oracle-3")
    assert row["verdict"] == "degraded" and row["attested"] == "failed"
    assert row["reasons"] == ["attestation failed: probe: cannot talk to ws://203.0.113.21:8080: [Errno 111] Connection refused"]


def test_busy_is_not_a_failure(fleet):
    hostvars, groups = fleet
    hostvars["oracle-1"]["__fleet_report_attest_probe"] = probe(None, status="busy")
    report = build(hostvars, groups)
    row = row_of(report, "oracle-1")
    assert row["verdict"] == "serving" and row["reasons"] == []
    assert row["attested"] == "busy" and row["attestation"]["status"] == "busy"
    assert row["notes"] == ["attestation not checked: the oracle was busy with a user's session"]
    assert report["totals"]["attested"]["busy"] == 1


def test_not_probed_is_not_checked(fleet):
    hostvars, groups = fleet
    hostvars["oracle-1"]["__fleet_report_attest_probe"] = {"skipped": True, "changed": False}
    report = build(hostvars, groups)
    assert row_of(report, "oracle-1")["attested"] == "not_checked"
    assert row_of(report, "oracle-1")["verdict"] == "serving"
    # Down hosts are not judged further: no attestation object.
    assert row_of(report, "oracle-6")["attested"] == "not_checked" and row_of(report, "oracle-6")["attestation"] is None
    assert "attested" not in [r for r in report["hosts"] if r["kind"] == "registry"][0]
    assert "attestation of the oracles" not in fr.render_table(report)


def test_archive_keeps_only_verified_documents(fleet):
    hostvars, groups = fleet
    document = leaf_document()
    hostvars["oracle-1"]["__fleet_report_attest_probe"] = probe(document)
    hostvars["oracle-1"]["__fleet_report_attest_probe"]["verification"] = verified()
    hostvars["oracle-2"]["__fleet_report_attest_probe"] = probe(leaf_document())
    hostvars["oracle-2"]["__fleet_report_attest_probe"]["verification"] = verified(ok=False, reasons=["signature: does not verify"])
    report = build(hostvars, groups)
    records = fa.archive_records(report["hosts"], hostvars, "__fleet_report_attest_probe", "2026-11-27T09:14:05Z")
    assert records == [{
        "schema": "opencontracts.enclave/attestation", "host": "oracle-1", "kind": "oracle", "url": "ws://203.0.113.21:8080",
        "checked_at": "2026-11-27T09:14:05Z", "document": document, "sign_this": "ab" * 32,
        "result": {"verified": True, "pcr0": samples.FIXTURE_PCR0, "matched_pcr0": samples.FIXTURE_PCR0,
                   "module_id": MODULE_ID, "timestamp": "2026-11-27T09:14:00Z", "nonce": None, "reasons": []}}]


def test_archive_text_appends_json_lines():
    first = fa.archive_text("", [{"host": "a", "n": 1}])
    assert first == '{"host":"a","n":1}\n'
    # lookup('file') strips the last newline; the text keeps one line per record either way.
    second = fa.archive_text(first.rstrip("\n"), [{"host": "b", "n": 2}, {"host": "c", "n": 3}])
    assert [json.loads(line)["host"] for line in second.splitlines()] == ["a", "b", "c"]
    assert second.endswith("}\n")
    assert fa.archive_text("", []) == "" and fa.archive_text(first, []) == first


def test_leaf_expiry_from_the_verifier_first():
    verification = dict(verified(), leaf_not_after="2026-11-27T10:14:05Z")
    attested, attestation = fa.judge_attestation(probe(leaf_document(), verification=verification), NOW)
    assert attested == "verified"
    assert attestation["leaf_not_after"] == "2026-11-27T10:14:05Z" and attestation["leaf_expires_in_seconds"] == 3600
