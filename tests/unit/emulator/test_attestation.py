"""The emulator's attestation documents, verified by the collection's independent verifier.

The emulator (nitro_emulator/attestation.py, cryptography + its own CBOR encoder) and the
collection (module_utils/attestation.py, cbor2 + cryptography's chain verification) share no
code; a document one signs must verify with the other. The emulator runs in a subprocess
under its own NITRO_EMULATOR_ROOT, as on an emulated host.
"""

import datetime
import json
import os
import stat
import subprocess
import sys

import cbor2
import pytest
from cryptography import x509

from ansible_collections.opencontracts.enclave.plugins.module_utils import attestation

EMULATOR_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "nitro_emulator"))

ENCLAVE_ID = "i-0e5a1c0de0e5a1c0d-enc0123456789abcdef"
PCRS = {0: "a5" * 48, 1: "b1" * 48, 2: "21" * 48}
ZEROS = {0: "00" * 48, 1: "00" * 48, 2: "00" * 48}

SCRIPT = """
import json, sys
from nitro_emulator import attestation
request = json.loads(sys.argv[1])
if request.get("ensure_only"):
    print(json.dumps({"first": attestation.ensure_ca(), "second": attestation.ensure_ca(), "path": attestation.root_pem_path()}))
    sys.exit(0)
optional = dict((name, bytes.fromhex(request[name]) if request.get(name) is not None else None)
                for name in ("public_key", "user_data", "nonce"))
raw = attestation.document(dict((int(k), bytes.fromhex(v)) for k, v in request["pcrs"].items()), request["module_id"],
                           timestamp_ms=request.get("timestamp_ms"), **optional)
print(json.dumps({"document": raw.hex(), "root": attestation.root_pem_path()}))
"""


def emulator(emu, **request):
    done = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(request)], cwd=EMULATOR_DIR, env=emu.env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    return json.loads(done.stdout)


def make_document(emu, pcrs=None, **fields):
    answer = emulator(emu, pcrs=pcrs or PCRS, module_id=ENCLAVE_ID, **fields)
    with open(answer["root"], "rb") as handle:
        root = x509.load_pem_x509_certificate(handle.read())
    return bytes.fromhex(answer["document"]), root


def test_document_verifies_with_the_collection(emu):
    raw, root = make_document(emu, public_key=b"0xOracleKey".hex(), user_data=b"rsa-spki".hex(), nonce="0102")
    facts = attestation.verify(raw, [PCRS[0]], root=root, nonce=b"\x01\x02")
    assert facts["module_id"] == ENCLAVE_ID
    assert facts["pcrs"] == {"PCR0": PCRS[0], "PCR1": PCRS[1], "PCR2": PCRS[2]}
    assert facts["matched_pcr0"] == PCRS[0]
    assert (facts["public_key"], facts["user_data"], facts["nonce"]) == (b"0xOracleKey".hex(), b"rsa-spki".hex(), "0102")
    assert abs(facts["age_seconds"]) < 30


def test_document_has_the_nsm_layout(emu):
    raw = make_document(emu)[0]
    structure = cbor2.loads(raw)  # untagged: a plain array of four
    assert isinstance(structure, list) and len(structure) == 4
    protected, unprotected, payload, signature = structure
    assert cbor2.loads(protected) == {1: -35}
    assert unprotected == {}
    assert len(signature) == 96
    fields = cbor2.loads(payload)
    assert list(fields) == ["module_id", "digest", "timestamp", "pcrs", "certificate", "cabundle", "public_key", "user_data", "nonce"]
    assert fields["digest"] == "SHA384"
    root, intermediate = [x509.load_der_x509_certificate(der) for der in fields["cabundle"]]
    assert root.subject == root.issuer  # root first
    assert intermediate.issuer == root.subject
    leaf = x509.load_der_x509_certificate(fields["certificate"])
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc == datetime.timedelta(hours=3)
    assert (fields["public_key"], fields["user_data"], fields["nonce"]) == (None, None, None)


def test_debug_mode_document_fails_as_debug_mode(emu):
    raw, root = make_document(emu, pcrs=ZEROS)
    with pytest.raises(attestation.AttestationError) as caught:
        attestation.verify(raw, [PCRS[0]], root=root)
    assert caught.value.check == "debug_mode"
    assert caught.value.facts["pcrs"]["PCR0"] == "00" * 48
    # chain and signature are fine: only the PCR checks fail
    assert [reason.split(":")[0] for reason in caught.value.reasons] == ["debug_mode", "pcr0_allowed"]


def test_not_under_the_aws_root(emu):
    raw = make_document(emu)[0]
    with pytest.raises(attestation.AttestationError) as caught:
        attestation.verify(raw, [PCRS[0]])
    assert caught.value.check == "chain"


def test_old_timestamp_verifies_only_at_its_time(emu):
    then = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=2)
    raw, root = make_document(emu, timestamp_ms=int(then.timestamp() * 1000))
    assert attestation.verify(raw, [PCRS[0]], root=root, at="document")["age_seconds"] == 0
    with pytest.raises(attestation.AttestationError) as caught:
        attestation.verify(raw, [PCRS[0]], root=root)
    assert [reason.split(":")[0] for reason in caught.value.reasons] == ["chain", "age"]


def test_ca_is_made_once_with_keys_any_enclave_user_can_read(emu):
    answer = emulator(emu, ensure_only=True)
    root_pem = os.path.join(emu.root, "var/lib/nitro_emulator/attestation/root.pem")
    assert answer == {"first": root_pem, "second": root_pem, "path": root_pem}
    with open(root_pem, "rb") as handle:
        first = handle.read()
    directory = os.path.dirname(root_pem)
    for name in ("root.key", "intermediate.key"):
        # the enclave process signs as the service's user, not root
        assert stat.S_IMODE(os.stat(os.path.join(directory, name)).st_mode) == 0o644
    make_document(emu)  # documents reuse the CA
    with open(root_pem, "rb") as handle:
        assert handle.read() == first


def test_concurrent_first_use_makes_one_ca(emu):
    procs = [subprocess.Popen([sys.executable, "-c", SCRIPT, json.dumps({"pcrs": PCRS, "module_id": ENCLAVE_ID})],
                              cwd=EMULATOR_DIR, env=emu.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _index in range(4)]
    documents = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()
        documents.append(bytes.fromhex(json.loads(out)["document"]))
    with open(os.path.join(emu.root, "var/lib/nitro_emulator/attestation/root.pem"), "rb") as handle:
        root = x509.load_pem_x509_certificate(handle.read())
    for raw in documents:
        assert attestation.verify(raw, [PCRS[0]], root=root)["module_id"] == ENCLAVE_ID
