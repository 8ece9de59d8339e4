"""Attestation documents like the Nitro Security Module's, signed by the emulator's own CA.

A real enclave asks its NSM for a document: an untagged COSE_Sign1 (protected header
{1: -35}, ES384; unprotected header {}) whose payload is a CBOR map of module_id,
digest "SHA384", timestamp (ms), pcrs {index: 48 bytes}, certificate (the leaf, DER),
cabundle (DER, root first), public_key, user_data and nonce; the signature is raw
r || s (96 bytes) over ["Signature1", protected, b"", payload] with the leaf's key.

The emulator signs the same structure under its own CA (a root and an intermediate,
P-384, made once per host under /var/lib/nitro_emulator/attestation/) with a fresh leaf
valid three hours per document, as AWS's leaves are. Only the root differs from AWS:
verifiers must be given root_pem_path() as their trusted root.

Written for the distribution's python3-cryptography 38 (Debian 12): no newer APIs.
"""

import datetime
import fcntl
import os
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from . import cbor, paths

ATTESTATION_DIR = paths.LIB_DIR + "/attestation"
ROOT_PEM = ATTESTATION_DIR + "/root.pem"
ROOT_KEY = ATTESTATION_DIR + "/root.key"
INTERMEDIATE_PEM = ATTESTATION_DIR + "/intermediate.pem"
INTERMEDIATE_KEY = ATTESTATION_DIR + "/intermediate.key"
CA_LOCK = ATTESTATION_DIR + "/ca.lock"

PCR_COUNT = 16
PCR_LENGTH = 48
ROOT_DAYS = 30 * 365
INTERMEDIATE_DAYS = 10 * 365
LEAF_HOURS = 3
# The CA is valid from a year before it is made, so documents with older timestamps
# (timestamp_ms) can be made and verified at their own time.
CA_BACKDATE_DAYS = 365
PROTECTED_HEADER = cbor.dumps({1: -35})  # alg: ES384


def root_pem_path():
    """The host path of the CA's root certificate (logical /var/lib/nitro_emulator/attestation/root.pem)."""
    return paths.host(ROOT_PEM)


def _name(common_name):
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Nitro emulator"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "tests"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def _new_key():
    return ec.generate_private_key(ec.SECP384R1())


def _key_usage(ca):
    return x509.KeyUsage(digital_signature=True, content_commitment=not ca, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                         encipher_only=False, decipher_only=False)


def _ca_certificate(subject, key, issuer, issuer_key, days, path_length):
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    builder = (x509.CertificateBuilder()
               .subject_name(subject)
               .issuer_name(issuer)
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(days=CA_BACKDATE_DAYS))
               .not_valid_after(now + datetime.timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
               .add_extension(_key_usage(True), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    if issuer_key is not key:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                                        critical=False)
    return builder.sign(issuer_key, hashes.SHA384())


def _key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _cert_pem(certificate):
    return certificate.public_bytes(serialization.Encoding.PEM)


def _ca_complete():
    return all(os.path.exists(paths.host(logical)) for logical in (ROOT_KEY, INTERMEDIATE_KEY, INTERMEDIATE_PEM, ROOT_PEM))


def ensure_ca():
    """Create the emulator CA once (root and intermediate, P-384); return the host path of root.pem.

    Safe to call from several processes at once: creation happens under a lock and root.pem,
    written last, marks a complete CA. The keys are readable by every user (0644): the enclave process
    that signs documents runs as whichever user started the enclave (a service's dedicated user, not
    root), and these test keys protect nothing (a real NSM's keys never leave the Nitro hardware).
    """
    if _ca_complete():
        return root_pem_path()
    paths.ensure_dir(ATTESTATION_DIR)
    with open(paths.host(CA_LOCK), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not _ca_complete():
                root_key = _new_key()
                root = _ca_certificate(_name("nitro-emulator root"), root_key, _name("nitro-emulator root"), root_key,
                                       ROOT_DAYS, None)
                intermediate_key = _new_key()
                intermediate = _ca_certificate(_name("nitro-emulator intermediate"), intermediate_key, root.subject,
                                               root_key, INTERMEDIATE_DAYS, 0)
                paths.write_file_atomic(paths.host(ROOT_KEY), _key_pem(root_key), mode=0o644)
                paths.write_file_atomic(paths.host(INTERMEDIATE_KEY), _key_pem(intermediate_key), mode=0o644)
                paths.write_file_atomic(paths.host(INTERMEDIATE_PEM), _cert_pem(intermediate))
                paths.write_file_atomic(paths.host(ROOT_PEM), _cert_pem(root))
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return root_pem_path()


def _load_ca():
    ensure_ca()
    with open(paths.host(ROOT_PEM), "rb") as handle:
        root = x509.load_pem_x509_certificate(handle.read())
    with open(paths.host(INTERMEDIATE_PEM), "rb") as handle:
        intermediate = x509.load_pem_x509_certificate(handle.read())
    with open(paths.host(INTERMEDIATE_KEY), "rb") as handle:
        intermediate_key = serialization.load_pem_private_key(handle.read(), password=None)
    return root, intermediate, intermediate_key


def _leaf(module_id, intermediate, intermediate_key, moment):
    """(key, certificate) of a signing certificate valid LEAF_HOURS from just before ``moment``."""
    key = _new_key()
    not_before = moment.replace(microsecond=0) - datetime.timedelta(seconds=3)
    certificate = (x509.CertificateBuilder()
                   .subject_name(_name("%s.nitro-emulator" % module_id))
                   .issuer_name(intermediate.subject)
                   .public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(not_before)
                   .not_valid_after(not_before + datetime.timedelta(hours=LEAF_HOURS))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(_key_usage(False), critical=True)
                   .sign(intermediate_key, hashes.SHA384()))
    return key, certificate


def _optional_bytes(name, value):
    if value is None:
        return None
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    raise TypeError("%s must be bytes, text or None, not %s" % (name, type(value).__name__))


def _pcr_map(pcrs):
    result = {}
    for index in sorted(pcrs):
        value = pcrs[index]
        if not isinstance(index, int) or not 0 <= index < 32:
            raise ValueError("PCR index %r is not 0-31" % (index,))
        if not isinstance(value, (bytes, bytearray)) or len(value) != PCR_LENGTH:
            raise ValueError("PCR%d must be %d bytes" % (index, PCR_LENGTH))
        result[index] = bytes(value)
    return result


def document_pcrs(measurements, debug_mode):
    """PCR0..PCR15 as the NSM reports them: the image's measurements, zeros elsewhere and in debug mode."""
    pcrs = {index: bytes(PCR_LENGTH) for index in range(PCR_COUNT)}
    if not debug_mode:
        for index in (0, 1, 2, 8):
            value = measurements.get("PCR%d" % index)
            if value:
                pcrs[index] = bytes.fromhex(value)
    return pcrs


def document(pcrs, module_id, public_key=None, user_data=None, nonce=None, timestamp_ms=None):
    """The raw bytes of an untagged COSE_Sign1 attestation document, as a real NSM returns it.

    pcrs: {index: 48 bytes}; public_key, user_data, nonce: bytes (text is UTF-8 encoded) or None;
    timestamp_ms: the document's time (default: now). The leaf is fresh and valid three hours from
    that time, so an old timestamp makes a document that verifies only at its own time.
    """
    if timestamp_ms is None:
        timestamp_ms = int(time.time() * 1000)
    root, intermediate, intermediate_key = _load_ca()
    moment = datetime.datetime.fromtimestamp(timestamp_ms / 1000.0, datetime.timezone.utc)
    key, leaf = _leaf(module_id, intermediate, intermediate_key, moment)
    payload = cbor.dumps({
        "module_id": module_id,
        "digest": "SHA384",
        "timestamp": int(timestamp_ms),
        "pcrs": _pcr_map(pcrs),
        "certificate": leaf.public_bytes(serialization.Encoding.DER),
        "cabundle": [root.public_bytes(serialization.Encoding.DER), intermediate.public_bytes(serialization.Encoding.DER)],
        "public_key": _optional_bytes("public_key", public_key),
        "user_data": _optional_bytes("user_data", user_data),
        "nonce": _optional_bytes("nonce", nonce),
    })
    signed = cbor.dumps(["Signature1", PROTECTED_HEADER, b"", payload])
    r, s = decode_dss_signature(key.sign(signed, ec.ECDSA(hashes.SHA384())))
    return cbor.dumps([PROTECTED_HEADER, {}, payload, r.to_bytes(48, "big") + s.to_bytes(48, "big")])
