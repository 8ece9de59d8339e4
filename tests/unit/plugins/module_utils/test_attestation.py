"""module_utils/attestation.py: every check fails on a document built to fail it; real AWS documents verify."""

import base64
import datetime
import hashlib
import os
import re

import cbor2
import pytest

import attestation_builder as builder
from ansible_collections.opencontracts.enclave.plugins.module_utils import attestation

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "attestation")
PCR0 = builder.pcr(0xA5).hex()
OTHER = builder.pcr(0x5A).hex()

# Read from the fixtures with cbor2 alone (see fixtures/attestation/README.md).
REAL = {
    "aws-2025-04-15.hex": {
        "module_id": "i-06e4b98c6549ff803-enc0196373b195fb723",
        "timestamp": "2025-04-15T02:25:23.696Z",
        "PCR0": "cbe1afb6ed0ff89f10295af0b802247ec5670da8f886e71a4226373b032c322f4e42c9c98288e7211682b258684505a2",
        "public_key": "e8e62201dbe293b703c759f653107acbc2c911fa1d2e66f2c747bec95971a2af",
        "leaf_not_after": "2025-04-15T05:17:50.000Z",
    },
    "aws-2025-05-22.hex": {
        "module_id": "i-07d2111bce50814e1-enc0196f6e27ae4a4e1",
        "timestamp": "2025-05-22T07:27:54.851Z",
        "PCR0": "566b27dd57d5595ed526ddbd3ed3f8b82f128853fa6550013f57648f71c81305b5f6aded6e4cc2363e7506ed92cb1865",
        "public_key": "95fa41f7e34c773ade7e14b3436f59f6997675ac351193bd0f0a37c51b8ea63e",
        "leaf_not_after": "2025-05-22T10:27:54.000Z",
    },
}


@pytest.fixture(name="ca", scope="module")
def fixture_ca():
    return builder.TestCA(builder.now())


def run(raw, ca, allowed=(PCR0,), **kwargs):
    kwargs.setdefault("now", ca.now)
    return attestation.verify(raw, list(allowed), root=ca.root, **kwargs)


def failure(raw, ca, **kwargs):
    with pytest.raises(attestation.AttestationError) as caught:
        run(raw, ca, **kwargs)
    return caught.value


def real(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return attestation.decode_hex(handle.read())


# --------------------------------------------------------------------------
# The trusted root
# --------------------------------------------------------------------------

def test_shipped_root_has_the_published_fingerprint():
    body = re.sub(r"-----[A-Z ]+-----|\s", "", attestation.AWS_NITRO_ROOT_G1_PEM)
    der = base64.b64decode(body)
    assert hashlib.sha256(der).hexdigest() == "641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b"
    assert attestation.default_root().subject.rfc4514_string() == "CN=aws.nitro-enclaves,OU=AWS,O=Amazon,C=US"


def test_a_damaged_shipped_root_is_refused(monkeypatch, ca):
    monkeypatch.setattr(attestation, "AWS_NITRO_ROOT_G1_PEM", ca.root_pem().decode())
    with pytest.raises(attestation.AttestationInputError, match="fingerprint .* not the published 641a0321"):
        attestation.default_root()


# --------------------------------------------------------------------------
# Documents that verify
# --------------------------------------------------------------------------

@pytest.mark.parametrize("tagged", [False, True])
def test_valid_document(ca, tagged):
    raw = builder.document(ca, tagged=tagged, public_key=b"0xProviderKey", user_data=b"\x01\x02", nonce=b"\xab\xcd")
    facts = run(raw, ca, allowed=(OTHER, PCR0), nonce=b"\xab\xcd")
    assert facts["module_id"] == "i-0123456789abcdef0-enc0123456789abcdef"
    assert facts["timestamp"] == ca.now.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert facts["pcrs"] == {"PCR0": "a5" * 48, "PCR1": "b1" * 48, "PCR2": "21" * 48, "PCR3": "00" * 48, "PCR4": "c4" * 48}
    assert facts["matched_pcr0"] == PCR0
    assert facts["public_key"] == b"0xProviderKey".hex()
    assert facts["user_data"] == "0102"
    assert facts["nonce"] == "abcd"
    assert facts["age_seconds"] == 0
    expiry = ca.now - datetime.timedelta(minutes=1) + 3 * builder.HOUR
    assert facts["leaf_not_after"] == expiry.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_absent_optional_fields_are_null(ca):
    facts = run(builder.document(ca), ca)
    assert (facts["public_key"], facts["user_data"], facts["nonce"]) == (None, None, None)


def test_age_within_limit(ca):
    raw = builder.document(ca, timestamp=ca.now - datetime.timedelta(seconds=299))
    assert run(raw, ca, max_age_seconds=300)["age_seconds"] == 299


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_aws_document_at_its_own_time(name):
    expected = REAL[name]
    facts = attestation.verify(real(name), [OTHER, expected["PCR0"]], at="document")
    assert facts["module_id"] == expected["module_id"]
    assert facts["timestamp"] == expected["timestamp"]
    assert facts["pcrs"]["PCR0"] == facts["matched_pcr0"] == expected["PCR0"]
    assert len(facts["pcrs"]) == 16
    assert facts["public_key"] == expected["public_key"]
    assert facts["leaf_not_after"] == expected["leaf_not_after"]


def test_real_aws_document_tagged_and_at_an_iso_time():
    expected = REAL["aws-2025-05-22.hex"]
    tagged = cbor2.dumps(cbor2.CBORTag(18, cbor2.loads(real("aws-2025-05-22.hex"))))
    facts = attestation.verify(tagged, [expected["PCR0"]], at="2025-05-22T09:00:00Z", max_age_seconds=7200)
    assert facts["age_seconds"] == 5525


def test_real_aws_document_today_fails_its_chain_and_age():
    error = pytest.raises(attestation.AttestationError, attestation.verify, real("aws-2025-04-15.hex"),
                          [REAL["aws-2025-04-15.hex"]["PCR0"]]).value
    assert error.check == "chain"
    assert [reason.split(":")[0] for reason in error.reasons] == ["chain", "age"]
    assert "2025-04-15T05:17:50.000Z" in error.reasons[0]


def test_real_aws_document_with_a_flipped_signature_bit():
    structure = cbor2.loads(real("aws-2025-05-22.hex"))
    structure[3] = structure[3][:-1] + bytes([structure[3][-1] ^ 1])
    error = pytest.raises(attestation.AttestationError, attestation.verify, cbor2.dumps(structure),
                          [REAL["aws-2025-05-22.hex"]["PCR0"]], at="document").value
    assert error.reasons == [
        "signature: the signature does not verify with the leaf certificate's key (the document was altered or not signed by it)"]


def test_real_aws_document_under_another_root(ca):
    error = pytest.raises(attestation.AttestationError, attestation.verify, real("aws-2025-05-22.hex"),
                          [REAL["aws-2025-05-22.hex"]["PCR0"]], root=ca.root, at="document").value
    assert error.check == "chain"


# --------------------------------------------------------------------------
# Each check, failed
# --------------------------------------------------------------------------

def test_bad_algorithm(ca):
    error = failure(builder.document(ca, alg=-7), ca)  # ES256
    assert error.check == "algorithm"
    assert "-7" in str(error) and "ES384" in str(error)


def test_protected_header_without_algorithm(ca):
    key, certificate = ca.leaf()
    payload = cbor2.dumps(builder.payload_map(ca, certificate, ca.now))
    error = failure(builder.sign1(payload, key, protected=cbor2.dumps({4: b"kid"})), ca)
    assert error.check == "algorithm"


def test_other_tag(ca):
    wrapped = cbor2.dumps(cbor2.CBORTag(98, cbor2.loads(builder.document(ca))))
    error = failure(wrapped, ca)
    assert error.check == "format" and "tag 98" in str(error)


def test_wrong_digest(ca):
    error = failure(builder.document(ca, digest="SHA256"), ca)
    assert error.check == "digest"
    assert error.facts["module_id"] == "i-0123456789abcdef0-enc0123456789abcdef"  # still returns what it parsed


def test_short_pcr(ca):
    error = failure(builder.document(ca, pcrs={0: builder.pcr(1), 1: b"\x01" * 32}), ca)
    assert error.check == "pcrs"
    assert "PCR1 is 32 bytes" in str(error)


def test_no_pcr0(ca):
    error = failure(builder.document(ca, pcrs={1: builder.pcr(1)}), ca)
    assert error.check == "pcrs"


def test_signed_by_another_key(ca):
    _, certificate = ca.leaf()
    stranger = builder.new_key()
    payload = cbor2.dumps(builder.payload_map(ca, certificate, ca.now))
    error = failure(builder.sign1(payload, stranger), ca)
    assert error.reasons == [
        "signature: the signature does not verify with the leaf certificate's key (the document was altered or not signed by it)"]


def test_tampered_payload(ca):
    structure = cbor2.loads(builder.document(ca))
    payload = cbor2.loads(structure[2])
    payload["pcrs"][0] = builder.pcr(0x5A)  # claim another image, keep the signature
    structure[2] = cbor2.dumps(payload)
    error = failure(cbor2.dumps(structure), ca, allowed=(PCR0, OTHER))
    assert [reason.split(":")[0] for reason in error.reasons] == ["signature"]
    assert error.facts["pcrs"]["PCR0"] == OTHER


def test_short_signature(ca):
    structure = cbor2.loads(builder.document(ca))
    structure[3] = structure[3][:64]
    error = failure(cbor2.dumps(structure), ca)
    assert error.check == "signature" and "64 bytes" in str(error)


def test_chain_not_to_the_root(ca):
    other_ca = builder.TestCA(ca.now, label="other")
    error = failure(builder.document(other_ca), ca)
    assert error.check == "chain"
    assert "does not lead to the trusted root" in str(error)


def test_leaf_from_another_ca_with_the_right_bundle(ca):
    other_ca = builder.TestCA(ca.now, label="other")
    leaf = other_ca.leaf()
    error = failure(builder.document(ca, leaf=leaf), ca)  # cabundle is ca's, leaf is not
    assert error.check == "chain"


def test_expired_leaf_at_the_chosen_time(ca):
    raw = builder.document(ca)
    later = (ca.now + 4 * builder.HOUR).strftime("%Y-%m-%dT%H:%M:%SZ")
    error = failure(raw, ca, at=later, max_age_seconds=86400)
    assert error.reasons == ["chain: the leaf certificate is valid from %s to %s, not at %s" % (
        (ca.now - datetime.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        (ca.now + datetime.timedelta(minutes=179)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        (ca.now + 4 * builder.HOUR).strftime("%Y-%m-%dT%H:%M:%S.000Z"))]


def test_leaf_not_yet_valid(ca):
    leaf = ca.leaf(not_before=ca.now + builder.HOUR)
    error = failure(builder.document(ca, leaf=leaf), ca)
    assert error.check == "chain"


def test_archived_document_verifies_at_its_own_time(ca):
    old = ca.now - 30 * 24 * builder.HOUR
    raw = builder.document(ca, timestamp=old, leaf=ca.leaf(not_before=old - datetime.timedelta(minutes=1)))
    assert failure(raw, ca).check == "chain"
    assert run(raw, ca, at="document")["age_seconds"] == 0


def test_debug_mode(ca):
    zeros = {index: builder.pcr(0) for index in range(16)}
    error = failure(builder.document(ca, pcrs=zeros), ca, allowed=(PCR0, "00" * 48))
    assert error.check == "debug_mode"
    assert error.reasons == ["debug_mode: PCR0 is all zeros: the enclave runs in debug mode, whose documents prove nothing about its image"]


def test_pcr0_not_allowed(ca):
    error = failure(builder.document(ca), ca, allowed=(OTHER,))
    assert error.reasons == ["pcr0_allowed: PCR0 %s is not one of the allowed values (allowed_pcr0: %s)" % (PCR0, OTHER)]
    assert error.facts["matched_pcr0"] is None
    assert error.facts["pcrs"]["PCR0"] == PCR0


def test_too_old(ca):
    raw = builder.document(ca, timestamp=ca.now - datetime.timedelta(seconds=301))
    error = failure(raw, ca)
    assert error.check == "age"
    assert "301 seconds before" in str(error)


def test_from_the_future(ca):
    raw = builder.document(ca, timestamp=ca.now + datetime.timedelta(seconds=61))
    error = failure(raw, ca)
    assert error.check == "age" and "61 seconds after" in str(error)


def test_nonce_mismatch(ca):
    error = failure(builder.document(ca, nonce=b"\x01\x02"), ca, nonce=b"\x01\x03")
    assert error.reasons == ["nonce: the document's nonce is 0102, not 0103"]


def test_nonce_expected_but_absent(ca):
    error = failure(builder.document(ca), ca, nonce=b"\x01")
    assert error.reasons == ["nonce: the document's nonce is none, not 01"]


def test_every_failed_check_is_reported(ca):
    zeros = {0: builder.pcr(0)}
    raw = builder.document(ca, pcrs=zeros, timestamp=ca.now - datetime.timedelta(seconds=600))
    error = failure(raw, ca, nonce=b"\x09")
    assert [reason.split(":")[0] for reason in error.reasons] == ["debug_mode", "pcr0_allowed", "age", "nonce"]


# --------------------------------------------------------------------------
# Garbage
# --------------------------------------------------------------------------

@pytest.mark.parametrize("text, message", [
    ("", "document is empty"),
    ("zz", "not hex text"),
    ("abc", "odd number of hex digits"),
    ("84 44 a1", None),
])
def test_decode_hex(text, message):
    if message is None:
        assert attestation.decode_hex("0x" + text) == b"\x84\x44\xa1"
        return
    with pytest.raises(attestation.AttestationInputError, match=message):
        attestation.decode_hex(text)


@pytest.mark.parametrize("raw, check", [
    (b"\xff\x00garbage", "format"),
    (b"\x84\x44", "format"),                        # truncated
    (cbor2.dumps({"a": 1}), "format"),              # not an array
    (cbor2.dumps([b"", {}, b""]), "format"),        # three items
    (cbor2.dumps([b"\xa1\x01\x38\x22", {}, "text", b""]), "format"),
    (cbor2.dumps([b"\xa1\x01\x38\x22", [], b"", b""]), "format"),
])
def test_garbage_cbor(ca, raw, check):
    error = failure(raw, ca)
    assert error.check == check


def test_payload_not_cbor(ca):
    key, _ = ca.leaf()
    error = failure(builder.sign1(b"\xff\xfe", key), ca)
    assert error.check == "format" and "payload is not valid CBOR" in str(error)


@pytest.mark.parametrize("change, text", [
    ({"certificate": None}, "certificate is NoneType"),
    ({"timestamp": "yesterday"}, "timestamp"),
    ({"cabundle": []}, "cabundle"),
    ({"pcrs": {"0": builder.pcr(1)}}, "key '0'"),
    ({"nonce": "text"}, "nonce is str"),
])
def test_bad_payload_fields(ca, change, text):
    key, certificate = ca.leaf()
    payload = builder.payload_map(ca, certificate, ca.now)
    payload.update(change)
    error = failure(builder.sign1(cbor2.dumps(payload), key), ca)
    assert error.check == "payload" and text in str(error)


def test_missing_payload_field(ca):
    key, certificate = ca.leaf()
    payload = builder.payload_map(ca, certificate, ca.now)
    del payload["cabundle"]
    error = failure(builder.sign1(cbor2.dumps(payload), key), ca)
    assert error.check == "payload" and "lacks cabundle" in str(error)


def test_certificate_not_der(ca):
    key, certificate = ca.leaf()
    payload = builder.payload_map(ca, certificate, ca.now)
    payload["certificate"] = b"not a certificate"
    error = failure(builder.sign1(cbor2.dumps(payload), key), ca)
    assert error.check == "chain" and "not a DER certificate" in str(error)


def test_oversized_document(ca):
    with pytest.raises(attestation.AttestationInputError, match="more than any attestation document"):
        run(b"\x00" * (attestation.MAX_DOCUMENT_BYTES + 1), ca)


# --------------------------------------------------------------------------
# Options
# --------------------------------------------------------------------------

def test_allowed_list_is_normalized():
    assert attestation.normalize_allowed([" " + PCR0.upper() + "\n"]) == [PCR0]


@pytest.mark.parametrize("values, message", [([], "at least one"), (["abc"], r"allowed_pcr0\[0\]"), ([PCR0, 7], r"allowed_pcr0\[1\]")])
def test_bad_allowed_list(values, message):
    with pytest.raises(attestation.AttestationInputError, match=message):
        attestation.normalize_allowed(values)


@pytest.mark.parametrize("value, expected", [
    ("2025-05-22T09:00:00Z", datetime.datetime(2025, 5, 22, 9, 0, tzinfo=builder.UTC)),
    ("2025-05-22T11:00:00+02:00", datetime.datetime(2025, 5, 22, 9, 0, tzinfo=builder.UTC)),
    ("2025-05-22 09:00:00", datetime.datetime(2025, 5, 22, 9, 0, tzinfo=builder.UTC)),
    ("document", datetime.datetime(2025, 5, 22, 7, 27, 54, 851000, tzinfo=builder.UTC)),
])
def test_parse_at(value, expected):
    assert attestation.parse_at(value, 1747898874851) == expected


def test_parse_at_refuses_garbage():
    with pytest.raises(attestation.AttestationInputError, match="ISO 8601"):
        attestation.parse_at("yesterday")
