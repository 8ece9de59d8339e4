"""EIF signing (the signature section and PCR8) with the `openssl` command.

Signature section: a CBOR array holding one map
  {"signing_certificate": <PEM bytes as an array of integers>,
   "signature": <untagged COSE_Sign1 bytes as an array of integers>}
COSE_Sign1 = [protected bstr {1: alg}, {}, payload bstr, signature bstr], where
payload = CBOR {"register_index": 0, "register_value": <PCR0 bytes as integers>}
and the signature (raw r||s, as COSE wants for ECDSA) is computed by
`openssl dgst -<hash> -sign KEY` over the COSE Sig_structure
["Signature1", protected, b"", payload]. PCR8 is measured over the DER certificate.
"""

import os
import re
import ssl
import subprocess
import tempfile

from . import cbor
from .eif import pcr_value

# curve name in `openssl pkey -text` -> (COSE alg, digest, bytes per coordinate)
CURVES = {
    "prime256v1": (-7, "sha256", 32),
    "secp384r1": (-35, "sha384", 48),
    "secp521r1": (-36, "sha512", 66),
}
ALGS = {alg: (digest, size) for alg, digest, size in CURVES.values()}


class SigningError(Exception):
    """Signing or verification failed; the message says why."""


def _openssl(args, data=None):
    try:
        proc = subprocess.run(["openssl"] + args, input=data, stdin=None if data is not None else subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    except OSError as exc:
        raise SigningError("cannot run openssl: %s" % exc)
    if proc.returncode != 0:
        raise SigningError("openssl %s failed: %s" % (args[0], proc.stderr.decode("utf-8", "replace").strip()))
    return proc.stdout


# --- minimal DER -------------------------------------------------------------------

def _der_read(data, pos):
    """(tag, content start, content end) of the TLV at pos."""
    if pos + 2 > len(data):
        raise SigningError("truncated DER")
    tag, length = data[pos], data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            raise SigningError("bad DER length")
        length = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    if pos + length > len(data):
        raise SigningError("truncated DER")
    return tag, pos, pos + length


def _der_int(value):
    body = value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big")
    return b"\x02" + _der_len(len(body)) + body


def _der_len(length):
    if length < 0x80:
        return bytes([length])
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def ecdsa_der_to_raw(der, size):
    tag, start, end = _der_read(der, 0)
    if tag != 0x30:
        raise SigningError("ECDSA signature is not a DER SEQUENCE")
    values = []
    pos = start
    while pos < end:
        tag, vstart, vend = _der_read(der, pos)
        if tag != 0x02:
            raise SigningError("ECDSA signature holds a non-INTEGER")
        values.append(int.from_bytes(der[vstart:vend], "big"))
        pos = vend
    if len(values) != 2:
        raise SigningError("ECDSA signature does not hold r and s")
    return b"".join(value.to_bytes(size, "big") for value in values)


def ecdsa_raw_to_der(raw):
    half = len(raw) // 2
    body = _der_int(int.from_bytes(raw[:half], "big")) + _der_int(int.from_bytes(raw[half:], "big"))
    return b"\x30" + _der_len(len(body)) + body


def certificate_signature_hex(der):
    """The signatureValue BIT STRING of a DER certificate, hex."""
    _tag, start, end = _der_read(der, 0)
    pos = start
    items = []
    while pos < end:
        tag, vstart, vend = _der_read(der, pos)
        items.append((tag, vstart, vend))
        pos = vend
    if len(items) != 3 or items[2][0] != 0x03:
        raise SigningError("unexpected certificate structure")
    return der[items[2][1] + 1:items[2][2]].hex()


# --- certificates and keys ------------------------------------------------------------

def pem_to_der(pem_bytes):
    try:
        return ssl.PEM_cert_to_DER_cert(pem_bytes.decode("ascii").strip() + "\n")
    except (ValueError, UnicodeDecodeError):
        raise SigningError("the signing certificate is not a PEM certificate")


def key_curve(key_path):
    text = _openssl(["pkey", "-in", key_path, "-noout", "-text", "-passin", "pass:"]).decode("utf-8", "replace")
    match = re.search(r"ASN1 OID:\s*(\S+)", text)
    if not match or match.group(1) not in CURVES:
        raise SigningError("the private key must be an EC key on P-256, P-384 or P-521 (like nitro-cli)")
    return CURVES[match.group(1)]


def _sig_structure(protected, payload):
    return cbor.dumps(["Signature1", protected, b"", payload])


def build_signature_section(cert_pem, key_path, pcr0_hex):
    """(signature section bytes, PCR8 hex) for a certificate and key over PCR0."""
    der = pem_to_der(cert_pem)
    alg, digest, size = key_curve(key_path)
    protected = cbor.dumps({1: alg})
    payload = cbor.dumps({"register_index": 0, "register_value": cbor.int_array(bytes.fromhex(pcr0_hex))})
    with tempfile.TemporaryDirectory(prefix="nitro-emulator-sign-") as tmp:
        out = os.path.join(tmp, "sig.der")
        _openssl(["dgst", "-" + digest, "-sign", key_path, "-passin", "pass:", "-out", out], _sig_structure(protected, payload))
        with open(out, "rb") as handle:
            raw = ecdsa_der_to_raw(handle.read(), size)
    cose = cbor.dumps([protected, {}, payload, raw])
    section = cbor.dumps([{"signing_certificate": cbor.int_array(cert_pem), "signature": cbor.int_array(cose)}])
    return section, pcr_value([der])


def _parse_rfc2253(text):
    names = {}
    for part in re.split(r"(?<!\\),", text.strip()):
        if "=" in part:
            key, value = part.split("=", 1)
            names[key.strip()] = value.strip().replace("\\,", ",")
    return names


def certificate_info(cert_pem):
    """describe-eif's SigningCertificate object."""
    der = pem_to_der(cert_pem)
    with tempfile.TemporaryDirectory(prefix="nitro-emulator-cert-") as tmp:
        path = os.path.join(tmp, "cert.pem")
        with open(path, "wb") as handle:
            handle.write(cert_pem)
        text = _openssl(["x509", "-in", path, "-noout", "-issuer", "-startdate", "-enddate", "-nameopt", "RFC2253", "-text"]).decode("utf-8", "replace")
    issuer = re.search(r"^issuer=\s*(.*)$", text, re.M)
    start = re.search(r"^notBefore=(.*)$", text, re.M)
    end = re.search(r"^notAfter=(.*)$", text, re.M)
    algorithm = re.search(r"Signature Algorithm:\s*(\S+)", text)
    return {
        "IssuerName": _parse_rfc2253(issuer.group(1)) if issuer else {},
        "Algorithm": algorithm.group(1) if algorithm else "",
        "NotBefore": start.group(1).strip() if start else "",
        "NotAfter": end.group(1).strip() if end else "",
        "Signature": certificate_signature_hex(der),
    }


def read_signature_section(data):
    """(certificate PEM bytes, COSE_Sign1 bytes) of the first entry of a signature section."""
    try:
        entries = cbor.loads(data)
        entry = entries[0]
        return cbor.to_bytes(entry["signing_certificate"]), cbor.to_bytes(entry["signature"])
    except (cbor.DecodeError, KeyError, IndexError, TypeError) as exc:
        raise SigningError("malformed signature section: %s" % exc)


def verify(cert_pem, cose_bytes, pcr0_hex):
    """True when the COSE_Sign1 signature verifies with the certificate's key and signs this PCR0."""
    try:
        protected, _unprotected, payload, raw = cbor.loads(cose_bytes)
        alg = cbor.loads(protected).get(1)
        digest, _size = ALGS[alg]
        info = cbor.loads(payload)
        if info.get("register_index") != 0 or cbor.to_bytes(info.get("register_value")).hex() != pcr0_hex:
            return False
    except (cbor.DecodeError, ValueError, KeyError, TypeError, AttributeError):
        return False
    with tempfile.TemporaryDirectory(prefix="nitro-emulator-verify-") as tmp:
        cert_path = os.path.join(tmp, "cert.pem")
        pub_path = os.path.join(tmp, "pub.pem")
        sig_path = os.path.join(tmp, "sig.der")
        with open(cert_path, "wb") as handle:
            handle.write(cert_pem)
        with open(sig_path, "wb") as handle:
            handle.write(ecdsa_raw_to_der(raw))
        try:
            _openssl(["x509", "-in", cert_path, "-noout", "-pubkey", "-out", pub_path])
            _openssl(["dgst", "-" + digest, "-verify", pub_path, "-signature", sig_path], _sig_structure(protected, payload))
        except SigningError:
            return False
    return True
