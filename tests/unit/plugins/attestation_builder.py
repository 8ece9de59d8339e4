"""Build Nitro-style attestation documents under a test CA, independently of the code under test.

The documents follow the AWS Nitro Enclaves format (an untagged COSE_Sign1, ES384, the payload map
of the NSM) and are written with cbor2 and cryptography directly; nothing here imports the
collection's attestation code.
"""

import datetime

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

UTC = datetime.timezone.utc
HOUR = datetime.timedelta(hours=1)


def pcr(fill):
    """A 48-byte PCR value made of one repeated byte."""
    return bytes([fill]) * 48


DEFAULT_PCRS = {0: pcr(0xA5), 1: pcr(0xB1), 2: pcr(0x21), 3: pcr(0), 4: pcr(0xC4)}


def name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test"), x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def new_key():
    return ec.generate_private_key(ec.SECP384R1())


def ca_certificate(subject, key, issuer, issuer_key, not_before, not_after, path_length):
    builder = (x509.CertificateBuilder()
               .subject_name(subject).issuer_name(issuer)
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(not_before).not_valid_after(not_after)
               .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                            crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    if issuer_key is not key:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    return builder.sign(issuer_key, hashes.SHA384())


class TestCA:
    """A root and an intermediate (P-384) valid ten years around ``now``, issuing short-lived leaves."""

    __test__ = False  # not a pytest class

    def __init__(self, now, label="test"):
        self.now = now
        self.root_key = new_key()
        self.root = ca_certificate(name("%s root" % label), self.root_key, name("%s root" % label), self.root_key,
                                   now - 3650 * 24 * HOUR, now + 3650 * 24 * HOUR, None)
        self.intermediate_key = new_key()
        self.intermediate = ca_certificate(name("%s intermediate" % label), self.intermediate_key, self.root.subject,
                                           self.root_key, now - 365 * 24 * HOUR, now + 365 * 24 * HOUR, 0)

    def root_pem(self):
        return self.root.public_bytes(serialization.Encoding.PEM)

    def leaf(self, not_before=None, not_after=None, key=None):
        """(key, certificate) of a signing certificate like an NSM's: valid three hours by default."""
        key = key or new_key()
        not_before = not_before or self.now - datetime.timedelta(minutes=1)
        not_after = not_after or not_before + 3 * HOUR
        certificate = (x509.CertificateBuilder()
                       .subject_name(name("i-0123456789abcdef0-enc0123456789abcdef"))
                       .issuer_name(self.intermediate.subject)
                       .public_key(key.public_key())
                       .serial_number(x509.random_serial_number())
                       .not_valid_before(not_before).not_valid_after(not_after)
                       .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                       .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                                    data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                                    crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
                       .sign(self.intermediate_key, hashes.SHA384()))
        return key, certificate

    def cabundle(self):
        return [self.root.public_bytes(serialization.Encoding.DER), self.intermediate.public_bytes(serialization.Encoding.DER)]


def raw_signature(key, data):
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA384())))
    return r.to_bytes(48, "big") + s.to_bytes(48, "big")


def payload_map(ca, certificate, timestamp, pcrs=None, module_id="i-0123456789abcdef0-enc0123456789abcdef",
                digest="SHA384", public_key=None, user_data=None, nonce=None):
    return {
        "module_id": module_id,
        "digest": digest,
        "timestamp": int(timestamp.timestamp() * 1000),
        "pcrs": dict(DEFAULT_PCRS if pcrs is None else pcrs),
        "certificate": certificate.public_bytes(serialization.Encoding.DER),
        "cabundle": ca.cabundle(),
        "public_key": public_key,
        "user_data": user_data,
        "nonce": nonce,
    }


def sign1(payload_bytes, key, alg=-35, tagged=False, protected=None):
    """Raw bytes of a COSE_Sign1 over ``payload_bytes``."""
    protected = cbor2.dumps({1: alg}) if protected is None else protected
    signature = raw_signature(key, cbor2.dumps(["Signature1", protected, b"", payload_bytes]))
    structure = [protected, {}, payload_bytes, signature]
    if tagged:
        structure = cbor2.CBORTag(18, structure)
    return cbor2.dumps(structure)


def document(ca, timestamp=None, leaf=None, alg=-35, tagged=False, **fields):
    """A signed document (raw bytes) at ``timestamp`` (default: the CA's ``now``)."""
    timestamp = timestamp or ca.now
    key, certificate = leaf or ca.leaf()
    payload = payload_map(ca, certificate, timestamp, **fields)
    return sign1(cbor2.dumps(payload), key, alg=alg, tagged=tagged)


def now():
    return datetime.datetime.now(UTC).replace(microsecond=0)
