"""An independent, test-side EIF writer and PCR oracle.

Nothing here imports the collection's eif.py: the files are laid out with
``struct`` and ``zlib`` from the format description, and the expected PCRs are
computed by the ``openssl`` command line tool (``openssl dgst -sha384
-binary``), so a mistake in the collection's hashing code cannot hide in the
expected values.
"""

import json
import os
import shutil
import struct
import subprocess
import zlib

HEADER_FORMAT = ">4sHHQQHH32Q32QII"
HEADER_SIZE = 548
SECTION_HEADER_SIZE = 12

KERNEL, CMDLINE, RAMDISK, SIGNATURE, METADATA = 1, 2, 3, 4, 5
TYPE_NAMES = {KERNEL: "kernel", CMDLINE: "cmdline", RAMDISK: "ramdisk", SIGNATURE: "signature", METADATA: "metadata"}


class Section:
    """A section to write: ``stype`` (any integer, to write invalid ones too), ``data``, ``flags``."""

    def __init__(self, stype, data, flags=0):
        self.stype = stype
        self.data = bytes(data)
        self.flags = flags


def kernel(data=b"\x7fELF fake kernel " * 100):
    return Section(KERNEL, data)


def cmdline(text=b"reboot=k panic=30 pci=off nomodules console=ttyS0 random.trust_cpu=on root=/dev/ram0"):
    return Section(CMDLINE, text)


def ramdisk(data):
    return Section(RAMDISK, data)


def metadata(obj=None, raw=None):
    if raw is None:
        raw = json.dumps(obj if obj is not None else {"ImageName": "oracle", "ImageVersion": "1.0",
                                                      "BuildMetadata": {"BuildTool": "test"}}).encode()
    return Section(METADATA, raw)


def signature(raw):
    return Section(SIGNATURE, raw)


def standard_sections(ramdisks=2, with_metadata=True, seed=b"app"):
    """kernel, cmdline, [metadata], ramdisks, like nitro-cli writes them."""
    sections = [kernel(), cmdline()]
    if with_metadata:
        sections.append(metadata())
    for index in range(ramdisks):
        sections.append(ramdisk(pseudo_random(1000 + 7919 * index, seed + b"%d" % index)))
    return sections


def pseudo_random(size, seed=b"seed"):
    """Deterministic bytes without hashlib (zlib.crc32 counter stream)."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += struct.pack(">I", zlib.crc32(seed + struct.pack(">Q", counter)))
        counter += 1
    return bytes(out[:size])


def build_eif(path, sections, version=4, flags=0, magic=b".eif", default_mem=512 * 1024 * 1024, default_cpus=2,
              num_sections=None, offsets=None, sizes=None, section_sizes=None, crc=None, corrupt_crc=False,
              truncate=0, trailing=b""):
    """Write an EIF and return its bytes.

    Corruption knobs: ``magic``, ``version``; ``num_sections`` (header count,
    e.g. 33); ``offsets`` / ``sizes`` (override the header's table);
    ``section_sizes`` (override the size written in section headers, by
    index); ``crc`` or ``corrupt_crc`` (wrong CRC); ``truncate`` (drop that
    many bytes from the end); ``trailing`` (extra bytes after the last section).
    """
    section_sizes = section_sizes or {}
    table_offsets, table_sizes, body = [], [], bytearray()
    position = HEADER_SIZE
    for index, section in enumerate(sections):
        table_offsets.append(position)
        table_sizes.append(len(section.data))
        declared = section_sizes.get(index, len(section.data))
        chunk = struct.pack(">HHQ", section.stype, section.flags, declared) + section.data
        body += chunk
        position += len(chunk)
    if offsets is not None:
        table_offsets = list(offsets)
    if sizes is not None:
        table_sizes = list(sizes)
    count = len(sections) if num_sections is None else num_sections

    def header(value):
        padded_offsets = (table_offsets + [0] * 32)[:32]
        padded_sizes = (table_sizes + [0] * 32)[:32]
        return struct.pack(HEADER_FORMAT, magic, version, flags, default_mem, default_cpus, 0, count,
                           *(padded_offsets + padded_sizes + [0, value]))

    computed = zlib.crc32(body, zlib.crc32(header(0)[:544])) & 0xFFFFFFFF
    if crc is None:
        crc = computed ^ 0x5A5A5A5A if corrupt_crc else computed
    data = header(crc) + bytes(body) + trailing
    if truncate:
        data = data[:-truncate]
    with open(path, "wb") as handle:
        handle.write(data)
    return data


# --------------------------------------------------------------------------
# The oracle: openssl, not hashlib
# --------------------------------------------------------------------------

def openssl_available():
    return shutil.which("openssl") is not None


def openssl_sha384(data):
    proc = subprocess.run(["openssl", "dgst", "-sha384", "-binary"], input=data, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, check=True)
    assert len(proc.stdout) == 48, proc.stderr
    return proc.stdout


def openssl_pcr(data):
    """SHA384(48 zero bytes || SHA384(data)), lowercase hex, computed by openssl."""
    return openssl_sha384(b"\x00" * 48 + openssl_sha384(data)).hex()


def expected_pcrs(sections, certificate_der=None):
    """The PCRs of ``sections`` by the rules, computed with openssl."""
    pcr0, pcr1, pcr2 = b"", b"", b""
    ramdisks = 0
    for section in sections:
        if section.stype in (KERNEL, CMDLINE):
            pcr0 += section.data
            pcr1 += section.data
        elif section.stype == RAMDISK:
            pcr0 += section.data
            if ramdisks == 0:
                pcr1 += section.data
            else:
                pcr2 += section.data
            ramdisks += 1
    result = {"PCR0": openssl_pcr(pcr0), "PCR1": openssl_pcr(pcr1), "PCR2": openssl_pcr(pcr2)}
    if certificate_der is not None:
        result["PCR8"] = openssl_pcr(certificate_der)
    return result


def make_certificate(directory):
    """A self-signed EC P-384 certificate made by openssl; returns (pem bytes, der bytes)."""
    key = os.path.join(directory, "signing-key.pem")
    cert = os.path.join(directory, "signing-cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:secp384r1", "-nodes",
                    "-keyout", key, "-out", cert, "-subj", "/CN=opencontracts-test-signer", "-days", "2"],
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True)
    der = subprocess.run(["openssl", "x509", "-in", cert, "-outform", "DER"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, check=True).stdout
    with open(cert, "rb") as handle:
        pem = handle.read()
    return pem, der


def signature_section(pem, as_integer_array=True, cose=b"\xd2\x84\x43\xa1\x01\x38\x22\xa0\x58\x00\x58\x00"):
    """A signature section as nitro-cli writes it (CBOR built with cbor2)."""
    import cbor2  # pylint: disable=import-outside-toplevel

    certificate = list(pem) if as_integer_array else bytes(pem)
    return signature(cbor2.dumps([{"signing_certificate": certificate, "signature": list(cose)}]))
