"""opencontracts.enclave.attestation_verify: options, results and failures of the module."""

import datetime
import os
import threading

import pytest

import attestation_builder as builder
from module_runner import run_module
from ansible_collections.opencontracts.enclave.plugins.module_utils import attestation
from ansible_collections.opencontracts.enclave.plugins.modules import attestation_verify

PCR0 = builder.pcr(0xA5).hex()
OTHER = builder.pcr(0x5A).hex()
FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "attestation")
REAL_PCR0 = "566b27dd57d5595ed526ddbd3ed3f8b82f128853fa6550013f57648f71c81305b5f6aded6e4cc2363e7506ed92cb1865"


def verify(args, **kwargs):
    return run_module(attestation_verify.main, args, **kwargs)


@pytest.mark.parametrize("check_mode", [False, True])
def test_verified(ca, root_pem, check_mode):
    raw = builder.document(ca, public_key=b"0xKey", nonce=b"\x42")
    result = verify({"document": raw.hex().upper(), "allowed_pcr0": [OTHER, PCR0], "root_certificate": root_pem, "nonce": "42"},
                    check_mode=check_mode)
    assert result["failed"] is False
    assert result["changed"] is False
    assert result["verified"] is True
    assert result["reasons"] == []
    assert result["matched_pcr0"] == PCR0
    assert result["pcrs"]["PCR0"] == PCR0
    assert result["module_id"] == "i-0123456789abcdef0-enc0123456789abcdef"
    assert result["timestamp"] == ca.now.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert result["public_key"] == "30784b6579"
    assert result["user_data"] is None
    assert result["nonce"] == "42"


@pytest.mark.parametrize("check_mode", [False, True])
def test_failed_check_names_it_and_returns_what_was_parsed(ca, root_pem, check_mode):
    raw = builder.document(ca, pcrs={0: builder.pcr(0), 1: builder.pcr(1)})
    result = verify({"document": raw.hex(), "allowed_pcr0": [PCR0], "root_certificate": root_pem}, check_mode=check_mode)
    assert result["failed"] is True
    assert result["changed"] is False
    assert result["verified"] is False
    assert result["msg"].startswith("attestation document not verified: debug_mode: PCR0 is all zeros")
    assert [reason.split(":")[0] for reason in result["reasons"]] == ["debug_mode", "pcr0_allowed"]
    assert result["pcrs"] == {"PCR0": "00" * 48, "PCR1": "01" * 48}
    assert result["matched_pcr0"] is None


def test_default_root_is_aws(ca):
    result = verify({"document": builder.document(ca).hex(), "allowed_pcr0": [PCR0]})
    assert result["failed"] is True
    assert result["reasons"][0].startswith("chain: the certificate chain does not lead to the trusted root (SHA-256 641a0321a3e2")


@pytest.mark.parametrize("check_mode", [False, True])
def test_real_document_from_a_file(tmp_path, check_mode):
    with open(os.path.join(FIXTURES, "aws-2025-05-22.hex")) as handle:
        raw = bytes.fromhex(handle.read())
    path = tmp_path / "doc.cbor"
    path.write_bytes(raw)
    result = verify({"document_path": str(path), "allowed_pcr0": [REAL_PCR0], "at": "document"}, check_mode=check_mode)
    assert result["failed"] is False and result["verified"] is True
    assert result["module_id"] == "i-07d2111bce50814e1-enc0196f6e27ae4a4e1"
    assert result["age_seconds"] == 0


def test_archived_document_at_an_iso_time(ca, root_pem):
    raw = builder.document(ca)
    at = (ca.now + datetime.timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    result = verify({"document": raw.hex(), "allowed_pcr0": [PCR0], "root_certificate": root_pem, "at": at, "max_age_seconds": 600})
    assert result["verified"] is True and result["age_seconds"] == 600


def test_tampered_document_fails_the_signature(ca, root_pem):
    raw = bytearray(builder.document(ca, public_key=b"0xKey"))
    offset = raw.index(b"0xKey")
    raw[offset:offset + 5] = b"0xBad"
    result = verify({"document": bytes(raw).hex(), "allowed_pcr0": [PCR0], "root_certificate": root_pem})
    assert result["failed"] is True
    assert result["reasons"] == [
        "signature: the signature does not verify with the leaf certificate's key (the document was altered or not signed by it)"]
    assert result["public_key"] == b"0xBad".hex()


# --------------------------------------------------------------------------
# Bad input: a clear message, never a traceback
# --------------------------------------------------------------------------

def assert_input_error(result, text):
    assert result["failed"] is True
    assert result["verified"] is False
    assert result["changed"] is False
    assert text in result["msg"], result["msg"]
    assert "Traceback" not in result["msg"]


def test_garbage_hex():
    assert_input_error(verify({"document": "not hex at all", "allowed_pcr0": [PCR0]}), "document is not hex text")


def test_garbage_cbor():
    result = verify({"document": "ff00ff00", "allowed_pcr0": [PCR0]})
    assert_input_error(result, "format: the document is not valid CBOR")


def test_missing_file(tmp_path):
    result = verify({"document_path": str(tmp_path / "absent.cbor"), "allowed_pcr0": [PCR0]})
    assert_input_error(result, "absent.cbor does not exist")


def test_directory(tmp_path):
    assert_input_error(verify({"document_path": str(tmp_path), "allowed_pcr0": [PCR0]}), "is a directory, not a file")


def test_fifo_is_not_opened(tmp_path):
    fifo = tmp_path / "doc.fifo"
    os.mkfifo(str(fifo))
    results = []
    worker = threading.Thread(target=lambda: results.append(verify({"document_path": str(fifo), "allowed_pcr0": [PCR0]})))
    worker.daemon = True
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), "the module blocked on a FIFO"
    assert_input_error(results[0], "is not a regular file")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.cbor"
    path.write_bytes(b"")
    assert_input_error(verify({"document_path": str(path), "allowed_pcr0": [PCR0]}), "is empty")


def test_both_sources(tmp_path):
    result = verify({"document": "84", "document_path": str(tmp_path), "allowed_pcr0": [PCR0]})
    assert result["failed"] is True and "mutually exclusive" in result["msg"]


@pytest.mark.parametrize("args, text", [
    ({"allowed_pcr0": ["abc"]}, "allowed_pcr0[0] must be 96 hex characters"),
    ({"allowed_pcr0": []}, "at least one"),
    ({"at": "tomorrow"}, "at must be now, document or an ISO 8601 time"),
    ({"max_age_seconds": -1}, "max_age_seconds must be 0 or more"),
    ({"nonce": "xyz"}, "nonce is not hex text"),
    ({"root_certificate": "/nonexistent/root.pem"}, "cannot read root_certificate /nonexistent/root.pem"),
])
def test_bad_options(ca, args, text):
    full = {"document": builder.document(ca).hex(), "allowed_pcr0": [PCR0]}
    full.update(args)
    assert_input_error(verify(full), text)


def test_root_certificate_not_pem(ca, tmp_path):
    path = tmp_path / "root.pem"
    path.write_text("hello")
    result = verify({"document": builder.document(ca).hex(), "allowed_pcr0": [PCR0], "root_certificate": str(path)})
    assert_input_error(result, "is not a PEM certificate")


def test_missing_library(ca, monkeypatch):
    monkeypatch.setattr(attestation, "HAS_CBOR2", False)
    result = verify({"document": builder.document(ca).hex(), "allowed_pcr0": [PCR0]})
    assert_input_error(result, "cbor2")
    assert result["reasons"] == ["requirements: the Python package cbor2 is needed to decode attestation documents"]
