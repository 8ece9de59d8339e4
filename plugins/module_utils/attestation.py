# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Verify AWS Nitro Enclaves attestation documents the way an Open Contracts user does.

An attestation document is what the Nitro Security Module (NSM) signs inside an enclave:
a COSE_Sign1 structure (RFC 9052; the NSM writes it untagged, CBOR tag 18 is accepted)
whose protected header names ES384 and whose payload is a CBOR map::

    module_id   text, the enclave ID
    digest      "SHA384"
    timestamp   milliseconds since the epoch (UTC)
    pcrs        {index: 48 bytes}
    certificate the leaf certificate (DER) whose key signed the document
    cabundle    [root, intermediate, ...] (DER, root first)
    public_key, user_data, nonce   bytes or null (set by the enclave)

The signature is ECDSA P-384 over SHA-384, raw ``r || s`` (96 bytes), over the CBOR
array ``["Signature1", protected header bytes, b"", payload bytes]``.

:func:`verify` runs every check and returns the parsed facts; a failure raises an
:class:`AttestationError` (one subclass per kind of problem) whose ``reasons`` name
the checks that failed and whose ``facts`` hold what could be parsed. :func:`verification_result`
does it all from the options of the module attestation_verify (which the module
attestation_probe shares) and returns the modules' result; :func:`failure` the failed
result's message.

Needs the Python packages ``cbor2`` and ``cryptography`` (45 or later: the chain is
verified with ``cryptography.x509.verification``); no cryptography is written here.
"""

import binascii
import datetime
import os
import re
import stat
import traceback

from collections.abc import Mapping

from ansible.module_utils.basic import missing_required_lib

try:
    import cbor2
    HAS_CBOR2 = True
    CBOR2_IMPORT_ERROR = None
except ImportError:
    cbor2 = None
    HAS_CBOR2 = False
    CBOR2_IMPORT_ERROR = traceback.format_exc()

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
    from cryptography.x509 import verification
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
except ImportError:
    x509 = hashes = ec = encode_dss_signature = verification = None
    InvalidSignature = Exception
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = traceback.format_exc()


# The AWS Nitro Enclaves Root-G1 certificate (CN=aws.nitro-enclaves, valid 2019-10-28 to
# 2049-10-28), as AWS publishes it in https://aws-nitro-enclaves.amazonaws.com/AWS_NitroEnclaves_Root-G1.zip
# and as the protocol's browser client embeds it. It is checked against the SHA-256 fingerprint AWS
# publishes (https://docs.aws.amazon.com/enclaves/latest/user/verify-root.html) every time it is used.
AWS_NITRO_ROOT_G1_PEM = """-----BEGIN CERTIFICATE-----
MIICETCCAZagAwIBAgIRAPkxdWgbkK/hHUbMtOTn+FYwCgYIKoZIzj0EAwMwSTEL
MAkGA1UEBhMCVVMxDzANBgNVBAoMBkFtYXpvbjEMMAoGA1UECwwDQVdTMRswGQYD
VQQDDBJhd3Mubml0cm8tZW5jbGF2ZXMwHhcNMTkxMDI4MTMyODA1WhcNNDkxMDI4
MTQyODA1WjBJMQswCQYDVQQGEwJVUzEPMA0GA1UECgwGQW1hem9uMQwwCgYDVQQL
DANBV1MxGzAZBgNVBAMMEmF3cy5uaXRyby1lbmNsYXZlczB2MBAGByqGSM49AgEG
BSuBBAAiA2IABPwCVOumCMHzaHDimtqQvkY4MpJzbolL//Zy2YlES1BR5TSksfbb
48C8WBoyt7F2Bw7eEtaaP+ohG2bnUs990d0JX28TcPQXCEPZ3BABIeTPYwEoCWZE
h8l5YoQwTcU/9KNCMEAwDwYDVR0TAQH/BAUwAwEB/zAdBgNVHQ4EFgQUkCW1DdkF
R+eWw5b6cp3PmanfS5YwDgYDVR0PAQH/BAQDAgGGMAoGCCqGSM49BAMDA2kAMGYC
MQCjfy+Rocm9Xue4YnwWmNJVA44fA0P5W2OpYow9OYCVRaEevL8uO1XYru5xtMPW
rfMCMQCi85sWBbJwKKXdS6BptQFuZbT73o/gBh1qUxl/nNr12UO8Yfwr6wPLb+6N
IwLz3/Y=
-----END CERTIFICATE-----
"""
AWS_NITRO_ROOT_G1_SHA256 = "641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b"

COSE_SIGN1_TAG = 18
COSE_HEADER_ALG = 1
COSE_ALG_ES384 = -35
PCR_LENGTH = 48
SIGNATURE_LENGTH = 96
# Real documents are 4-5 KiB (16 PCRs, a four-certificate bundle, up to 3 KiB of
# public_key, user_data and nonce); anything far larger is not an attestation document.
MAX_DOCUMENT_BYTES = 64 * 1024
# A document dated this far after the verification time is refused (clock skew allowance).
FUTURE_SKEW_SECONDS = 60

_HEX_RE = re.compile(r"^[0-9a-f]*$")
_PCR_HEX_RE = re.compile(r"^[0-9a-f]{96}$")
REQUIRED_FIELDS = ("module_id", "digest", "timestamp", "pcrs", "certificate", "cabundle")


class AttestationError(Exception):
    """A check failed. ``check`` names the first failed check, ``reasons`` lists every
    failure as ``"<check>: <why>"``, ``facts`` holds the result keys parsed so far."""

    check = "document"

    def __init__(self, why, check=None, facts=None, reasons=None):
        if check is not None:
            self.check = check
        self.why = why
        self.reasons = list(reasons) if reasons else ["%s: %s" % (self.check, why)]
        self.facts = dict(facts or {})
        super(AttestationError, self).__init__("; ".join(self.reasons))


class AttestationInputError(AttestationError):
    """An option or the input file is unusable (not a document problem)."""

    check = "input"


class AttestationFormatError(AttestationError):
    """The bytes are not a Nitro attestation document (CBOR, COSE_Sign1, payload fields)."""

    check = "format"


class AttestationCheckError(AttestationError):
    """The document is well formed but at least one verification check failed."""

    check = "verification"


class MissingLibraryError(AttestationError):
    """cbor2 or cryptography is missing or too old; ``package`` names it."""

    check = "requirements"

    def __init__(self, why, package):
        self.package = package
        super(MissingLibraryError, self).__init__(why)


# --------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------

def require_libraries():
    """Raise MissingLibraryError unless cbor2 and a recent enough cryptography are importable."""
    if not HAS_CBOR2:
        raise MissingLibraryError("the Python package cbor2 is needed to decode attestation documents", "cbor2")
    if not HAS_CRYPTOGRAPHY:
        raise MissingLibraryError("the Python package cryptography is needed to verify attestation documents", "cryptography")
    if not hasattr(verification.PolicyBuilder, "extension_policies"):
        raise MissingLibraryError(
            "cryptography 45 or later is needed to verify the certificate chain of attestation documents "
            "(cryptography.x509.verification.ExtensionPolicy)", "cryptography>=45")


def decode_hex(text, name="document"):
    """Bytes from hex text (whitespace and a leading 0x ignored); AttestationInputError if it is not hex."""
    if not isinstance(text, str):
        raise AttestationInputError("%s must be hex text, got %s" % (name, type(text).__name__))
    compact = "".join(text.split()).lower()
    if compact.startswith("0x"):
        compact = compact[2:]
    if not compact:
        raise AttestationInputError("%s is empty" % name)
    if not _HEX_RE.match(compact):
        bad = next(char for char in compact if char not in "0123456789abcdef")
        raise AttestationInputError("%s is not hex text (found %r)" % (name, bad))
    if len(compact) % 2:
        raise AttestationInputError("%s has an odd number of hex digits (%d)" % (name, len(compact)))
    return binascii.unhexlify(compact)


def read_document_file(path):
    """The raw bytes of a document file; AttestationInputError for anything but a readable regular file."""
    try:
        info = os.stat(path)
    except OSError as exc:
        if not os.path.lexists(path):
            raise AttestationInputError("document_path %s does not exist" % path)
        raise AttestationInputError("cannot read document_path %s: %s" % (path, exc.strerror or exc))
    if stat.S_ISDIR(info.st_mode):
        raise AttestationInputError("document_path %s is a directory, not a file" % path)
    if not stat.S_ISREG(info.st_mode):
        # Never open a FIFO, socket or device: reading one can block or never end.
        raise AttestationInputError("document_path %s is not a regular file (a FIFO, socket or device)" % path)
    if info.st_size > MAX_DOCUMENT_BYTES:
        raise AttestationInputError("document_path %s has %d bytes, more than any attestation document (%d)"
                                    % (path, info.st_size, MAX_DOCUMENT_BYTES))
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_DOCUMENT_BYTES + 1)
    except (OSError, IOError) as exc:
        raise AttestationInputError("cannot read document_path %s: %s" % (path, exc.strerror or exc))
    if not data:
        raise AttestationInputError("document_path %s is empty" % path)
    return data


def normalize_allowed(values):
    """The allow-list as lowercase hex; AttestationInputError naming the first bad entry."""
    if not values:
        raise AttestationInputError("allowed_pcr0 must list at least one PCR0 value")
    allowed = []
    for index, value in enumerate(values):
        text = value.strip().lower() if isinstance(value, str) else None
        if text is None or not _PCR_HEX_RE.match(text):
            raise AttestationInputError("allowed_pcr0[%d] must be 96 hex characters (a SHA-384 PCR value), got %r" % (index, value))
        allowed.append(text)
    return allowed


def parse_at(value, timestamp_ms=None, now=None):
    """The verification time (aware UTC datetime) for ``at``: "now", "document" or an ISO 8601 time.

    A time without a zone is taken as UTC. ``timestamp_ms`` is the document's timestamp,
    needed for "document"; ``now`` replaces the clock (tests).
    """
    text = (value or "now").strip()
    if text.lower() == "now":
        return now or datetime.datetime.now(datetime.timezone.utc)
    if text.lower() == "document":
        if timestamp_ms is None:
            raise AttestationInputError("at=document needs the document's timestamp")
        return from_milliseconds(timestamp_ms)
    iso = text[:-1] + "+00:00" if text[-1:] in ("Z", "z") else text
    try:
        moment = datetime.datetime.fromisoformat(iso)
    except ValueError:
        raise AttestationInputError("at must be now, document or an ISO 8601 time such as 2025-05-22T07:30:00Z, got %r" % value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone(datetime.timezone.utc)


def from_milliseconds(timestamp_ms):
    return datetime.datetime.fromtimestamp(timestamp_ms / 1000.0, datetime.timezone.utc)


def iso(moment):
    """ISO 8601 in UTC with a Z, millisecond precision."""
    moment = moment.astimezone(datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (moment.microsecond // 1000)


# --------------------------------------------------------------------------
# Trusted root
# --------------------------------------------------------------------------

def sha256_fingerprint(certificate):
    return certificate.fingerprint(hashes.SHA256()).hex()


def default_root():
    """The shipped AWS Nitro Enclaves Root-G1 certificate, refused unless its fingerprint is AWS's."""
    root = x509.load_pem_x509_certificate(AWS_NITRO_ROOT_G1_PEM.encode("ascii"))
    found = sha256_fingerprint(root)
    if found != AWS_NITRO_ROOT_G1_SHA256:
        raise AttestationInputError("the shipped AWS Nitro Enclaves root certificate has SHA-256 fingerprint %s, not the "
                                    "published %s: the collection is damaged" % (found, AWS_NITRO_ROOT_G1_SHA256))
    return root


def load_root(path):
    """The first certificate of a PEM file (root_certificate)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_DOCUMENT_BYTES)
    except (OSError, IOError) as exc:
        raise AttestationInputError("cannot read root_certificate %s: %s" % (path, exc.strerror or exc))
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError as exc:
        raise AttestationInputError("root_certificate %s is not a PEM certificate: %s" % (path, exc))


# --------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------

class CoseSign1(object):
    """The four parts of a COSE_Sign1 structure (``protected`` and ``payload`` as bytes)."""

    def __init__(self, protected, unprotected, payload, signature, tagged):
        self.protected = protected
        self.unprotected = unprotected
        self.payload = payload
        self.signature = signature
        self.tagged = tagged

    def signed_data(self):
        """The Sig_structure the signature covers (RFC 9052, section 4.4), external_aad empty."""
        return cbor2.dumps(["Signature1", self.protected, b"", self.payload])


def cbor_loads(data, what):
    try:
        return cbor2.loads(data)
    except Exception as exc:  # cbor2 raises several types (CBORDecodeError, ValueError, ...) on bad input
        raise AttestationFormatError("%s is not valid CBOR: %s" % (what, exc))


def parse_cose_sign1(raw):
    """Split a COSE_Sign1 (untagged or with tag 18) into its parts."""
    item = cbor_loads(raw, "the document")
    tagged = False
    if isinstance(item, cbor2.CBORTag):
        if item.tag != COSE_SIGN1_TAG:
            raise AttestationFormatError("the document has CBOR tag %d, not COSE_Sign1 (%d)" % (item.tag, COSE_SIGN1_TAG))
        item, tagged = item.value, True
    # inside a tag cbor2 decodes arrays as tuples and maps as immutable mappings
    if not isinstance(item, (list, tuple)) or len(item) != 4:
        raise AttestationFormatError("the document is not a COSE_Sign1 structure (a CBOR array of 4 items)")
    protected, unprotected, payload, signature = item
    for name, value in (("protected header", protected), ("payload", payload), ("signature", signature)):
        if not isinstance(value, bytes):
            raise AttestationFormatError("the COSE_Sign1 %s is not a byte string" % name)
    if not isinstance(unprotected, Mapping):
        raise AttestationFormatError("the COSE_Sign1 unprotected header is not a map")
    return CoseSign1(protected, unprotected, payload, signature, tagged)


def check_algorithm(cose):
    """The protected header must name ES384 (-35), the NSM's only algorithm."""
    header = cbor_loads(cose.protected, "the protected header") if cose.protected else {}
    if not isinstance(header, dict):
        raise AttestationFormatError("the protected header is not a CBOR map", check="algorithm")
    alg = header.get(COSE_HEADER_ALG)
    if alg != COSE_ALG_ES384:
        raise AttestationFormatError("the protected header's algorithm is %r, not ES384 (%d)" % (alg, COSE_ALG_ES384), check="algorithm")


def optional_bytes(payload, name):
    value = payload.get(name)
    if value is not None and not isinstance(value, bytes):
        raise AttestationFormatError("payload field %s is %s, not bytes or null" % (name, type(value).__name__), check="payload")
    return value


def parse_payload(data):
    """The payload map, with every field's type checked."""
    payload = cbor_loads(data, "the payload")
    if not isinstance(payload, dict):
        raise AttestationFormatError("the payload is not a CBOR map", check="payload")
    missing = [name for name in REQUIRED_FIELDS if name not in payload]
    if missing:
        raise AttestationFormatError("the payload lacks %s" % ", ".join(missing), check="payload")
    expected = (("module_id", str), ("digest", str), ("pcrs", dict), ("certificate", bytes), ("cabundle", list))
    for name, kind in expected:
        if not isinstance(payload[name], kind):
            raise AttestationFormatError("payload field %s is %s, not %s" % (name, type(payload[name]).__name__, kind.__name__), check="payload")
    if isinstance(payload["timestamp"], bool) or not isinstance(payload["timestamp"], int) or payload["timestamp"] <= 0:
        raise AttestationFormatError("payload field timestamp is %r, not a positive integer (milliseconds)" % (payload["timestamp"],), check="payload")
    if not payload["cabundle"] or not all(isinstance(der, bytes) for der in payload["cabundle"]):
        raise AttestationFormatError("payload field cabundle is not a non-empty list of certificates", check="payload")
    for key in payload["pcrs"]:
        if isinstance(key, bool) or not isinstance(key, int) or not 0 <= key < 32:
            raise AttestationFormatError("payload field pcrs has the key %r, not a PCR index 0-31" % (key,), check="payload")
    for name in ("public_key", "user_data", "nonce"):
        optional_bytes(payload, name)
    return payload


def check_digest(payload):
    if payload["digest"] != "SHA384":
        raise AttestationFormatError("the payload's digest is %r, not SHA384" % payload["digest"], check="digest")


def check_pcr_lengths(payload):
    for index in sorted(payload["pcrs"]):
        value = payload["pcrs"][index]
        if not isinstance(value, bytes) or len(value) != PCR_LENGTH:
            size = len(value) if isinstance(value, bytes) else type(value).__name__
            raise AttestationFormatError("PCR%d is %s bytes, not %d (SHA-384)" % (index, size, PCR_LENGTH), check="pcrs")
    if 0 not in payload["pcrs"]:
        raise AttestationFormatError("the document carries no PCR0", check="pcrs")


def hex_or_none(value):
    return value.hex() if value is not None else None


def payload_facts(payload):
    """The result keys the payload provides (before any check of its signature)."""
    return {
        "module_id": payload["module_id"],
        "timestamp": iso(from_milliseconds(payload["timestamp"])),
        "pcrs": dict(("PCR%d" % index, payload["pcrs"][index].hex()) for index in sorted(payload["pcrs"])),
        "public_key": hex_or_none(payload.get("public_key")),
        "user_data": hex_or_none(payload.get("user_data")),
        "nonce": hex_or_none(payload.get("nonce")),
    }


def parse_document(raw):
    """(CoseSign1, payload) after the structural checks: format, algorithm, digest, PCR sizes."""
    cose = parse_cose_sign1(raw)
    check_algorithm(cose)
    payload = parse_payload(cose.payload)
    facts = payload_facts_safe(payload)
    try:
        check_digest(payload)
        check_pcr_lengths(payload)
    except AttestationError as exc:
        exc.facts.update(facts)
        raise
    return cose, payload


def payload_facts_safe(payload):
    """payload_facts, or the part of it that does not depend on well-formed PCRs."""
    pcrs = payload["pcrs"]
    if all(isinstance(value, bytes) for value in pcrs.values()):
        return payload_facts(payload)
    facts = payload_facts(dict(payload, pcrs={}))
    facts.pop("pcrs")
    return facts


# --------------------------------------------------------------------------
# Checks on a well-formed document; each returns a reason (str) or None
# --------------------------------------------------------------------------

def load_certificate(der, what):
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise AttestationFormatError("the %s is not a DER certificate: %s" % (what, exc), check="chain")


def leaf_basic_constraints(policy, certificate, extension):  # pylint: disable=unused-argument
    """ee_policy validator: the signing certificate must not be a CA."""
    if extension.ca:
        raise ValueError("the leaf certificate is a CA certificate")


def leaf_key_usage(policy, certificate, extension):  # pylint: disable=unused-argument
    """ee_policy validator: the signing certificate must allow digital signatures."""
    if not extension.digital_signature:
        raise ValueError("the leaf certificate's key usage does not include digitalSignature")


def chain_policy(root, moment):
    """A PolicyBuilder trusting only ``root`` at ``moment``.

    CA certificates get the Web PKI profile (basicConstraints, keyUsage keyCertSign,
    authority and subject key identifiers), which the AWS intermediates meet. The AWS
    leaf has no authority key identifier, subject alternative name or extended key
    usage, all of which the Web PKI end-entity profile requires, so the leaf is held to
    what a signing certificate needs instead: not a CA, digitalSignature allowed.
    """
    ee_policy = verification.ExtensionPolicy.permit_all()
    ee_policy = ee_policy.require_present(x509.BasicConstraints, verification.Criticality.AGNOSTIC, leaf_basic_constraints)
    ee_policy = ee_policy.require_present(x509.KeyUsage, verification.Criticality.AGNOSTIC, leaf_key_usage)
    return (verification.PolicyBuilder()
            .store(verification.Store([root]))
            .time(moment)
            .extension_policies(ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(), ee_policy=ee_policy))


def check_chain(leaf, payload, root, moment):
    """The leaf must chain through the cabundle to ``root``, every certificate valid at ``moment``."""
    intermediates = [load_certificate(der, "cabundle[%d] certificate" % index) for index, der in enumerate(payload["cabundle"])]
    verifier = chain_policy(root, moment).build_client_verifier()
    try:
        verifier.verify(leaf, intermediates)
    except verification.VerificationError as exc:
        not_after = leaf.not_valid_after_utc
        not_before = leaf.not_valid_before_utc
        if moment > not_after or moment < not_before:
            return "the leaf certificate is valid from %s to %s, not at %s" % (iso(not_before), iso(not_after), iso(moment))
        return "the certificate chain does not lead to the trusted root (SHA-256 %s) at %s: %s" % (
            sha256_fingerprint(root), iso(moment), exc)
    return None


def check_signature(cose, leaf):
    """ES384 over the Sig_structure with the leaf's key."""
    key = leaf.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp384r1":
        return "the leaf certificate's key is not an ECDSA P-384 key"
    if len(cose.signature) != SIGNATURE_LENGTH:
        return "the signature has %d bytes, not %d (raw r || s of ES384)" % (len(cose.signature), SIGNATURE_LENGTH)
    half = SIGNATURE_LENGTH // 2
    der = encode_dss_signature(int.from_bytes(cose.signature[:half], "big"), int.from_bytes(cose.signature[half:], "big"))
    try:
        key.verify(der, cose.signed_data(), ec.ECDSA(hashes.SHA384()))
    except InvalidSignature:
        return "the signature does not verify with the leaf certificate's key (the document was altered or not signed by it)"
    return None


def check_debug_mode(payload):
    if payload["pcrs"][0] == b"\0" * PCR_LENGTH:
        return "PCR0 is all zeros: the enclave runs in debug mode, whose documents prove nothing about its image"
    return None


def check_allowed(pcr0, allowed):
    if pcr0 not in allowed:
        return "PCR0 %s is not one of the allowed values (allowed_pcr0: %s)" % (pcr0, ", ".join(allowed))
    return None


def check_age(timestamp, moment, max_age_seconds):
    age = (moment - timestamp).total_seconds()
    if age > max_age_seconds:
        return "the document was made at %s, %d seconds before %s (max_age_seconds %d)" % (iso(timestamp), age, iso(moment), max_age_seconds)
    if -age > FUTURE_SKEW_SECONDS:
        return "the document is dated %s, %d seconds after %s" % (iso(timestamp), -age, iso(moment))
    return None


def check_nonce(document_nonce, expected):
    if expected is None:
        return None
    if document_nonce != expected:
        found = document_nonce.hex() if document_nonce is not None else "none"
        return "the document's nonce is %s, not %s" % (found, expected.hex())
    return None


# --------------------------------------------------------------------------
# Everything
# --------------------------------------------------------------------------

def verify(raw, allowed_pcr0, root=None, at="now", max_age_seconds=300, nonce=None, now=None):
    """Verify a document (raw bytes); return the facts or raise AttestationError.

    ``allowed_pcr0``: normalized hex values (see :func:`normalize_allowed`); ``root``: a
    trusted x509 certificate (default: the shipped AWS root); ``nonce``: bytes or None;
    ``now``: the current time (tests).
    """
    require_libraries()
    if root is None:
        root = default_root()
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise AttestationInputError("the document has %d bytes, more than any attestation document (%d)" % (len(raw), MAX_DOCUMENT_BYTES))
    cose, payload = parse_document(raw)
    facts = payload_facts(payload)
    pcr0 = facts["pcrs"]["PCR0"]
    facts["matched_pcr0"] = pcr0 if pcr0 in allowed_pcr0 else None
    timestamp = from_milliseconds(payload["timestamp"])
    moment = parse_at(at, payload["timestamp"], now=now)
    leaf = load_certificate(payload["certificate"], "leaf certificate")
    facts["leaf_not_after"] = iso(leaf.not_valid_after_utc)
    facts["age_seconds"] = int((moment - timestamp).total_seconds())

    checks = (
        ("chain", lambda: check_chain(leaf, payload, root, moment)),
        ("signature", lambda: check_signature(cose, leaf)),
        ("debug_mode", lambda: check_debug_mode(payload)),
        ("pcr0_allowed", lambda: check_allowed(pcr0, allowed_pcr0)),
        ("age", lambda: check_age(timestamp, moment, max_age_seconds)),
        ("nonce", lambda: check_nonce(payload.get("nonce"), nonce)),
    )
    reasons = []
    first = None
    for name, run in checks:
        why = run()
        if why is not None:
            first = first or (name, why)
            reasons.append("%s: %s" % (name, why))
    if reasons:
        raise AttestationCheckError(first[1], check=first[0], facts=facts, reasons=reasons)
    return facts


# --------------------------------------------------------------------------
# The modules' result (attestation_verify; attestation_probe with allowed_pcr0)
# --------------------------------------------------------------------------

def prepare(params):
    """(raw document, allowed list, root or None, nonce bytes or None); raise AttestationError on bad options."""
    require_libraries()
    allowed = normalize_allowed(params["allowed_pcr0"])
    if params["max_age_seconds"] < 0:
        raise AttestationError("max_age_seconds must be 0 or more, got %d" % params["max_age_seconds"], check="input")
    if params["at"].strip().lower() not in ("now", "document"):
        parse_at(params["at"])  # refuse a bad time before reading anything
    nonce = decode_hex(params["nonce"], "nonce") if params.get("nonce") is not None else None
    root = load_root(params["root_certificate"]) if params.get("root_certificate") is not None else None
    if params.get("document") is not None:
        raw = decode_hex(params["document"], "document")
    else:
        raw = read_document_file(params["document_path"])
    return raw, allowed, root, nonce


def verification_result(params):
    """Every check on the document that attestation_verify's options name -> (result, error).

    ``params``: ``document`` or ``document_path``, ``allowed_pcr0``, ``root_certificate``, ``max_age_seconds``,
    ``at``, ``nonce`` (the last two optional). ``result``: the module's return values (``verified``, ``reasons``,
    ``matched_pcr0`` and whatever could be parsed); ``error``: None, or the AttestationError that failed it
    (:func:`failure` gives the message).
    """
    params = dict({"at": "now", "nonce": None}, **params)
    try:
        raw, allowed, root, nonce = prepare(params)
        facts = verify(raw, allowed, root=root, at=params["at"], max_age_seconds=params["max_age_seconds"], nonce=nonce)
    except MissingLibraryError as exc:
        return {"verified": False, "matched_pcr0": None, "reasons": exc.reasons}, exc
    except AttestationError as exc:
        result = dict(exc.facts)
        result.setdefault("matched_pcr0", None)
        result.update(verified=False, reasons=exc.reasons)
        return result, exc
    return dict(facts, verified=True, reasons=[]), None


def failure(error, what="attestation document"):
    """``{msg, exception}`` for fail_json from the error :func:`verification_result` returned."""
    if isinstance(error, MissingLibraryError):
        return {"msg": missing_required_lib(error.package, reason=error.why),
                "exception": CBOR2_IMPORT_ERROR if error.package == "cbor2" else CRYPTOGRAPHY_IMPORT_ERROR}
    return {"msg": "%s not verified: %s" % (what, error)}
