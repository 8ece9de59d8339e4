"""Enclave Image File (EIF) version 4: writer, reader and PCR measurements.

Layout (big-endian): a 548-byte header `>4sHHQQHH32Q32QII` (magic ".eif",
version, flags, default_mem, default_cpus, reserved, num_sections, 32 section
offsets, 32 section sizes, unused, crc32), then the sections back to back from
offset 548, each a 12-byte header `>HHQ` (type, flags, size) and its data.
The CRC-32 covers header bytes [0:544] and then every section header and data.
"""

import hashlib
import struct
import zlib

HEADER_FORMAT = ">4sHHQQHH32Q32QII"
HEADER_SIZE = struct.calcsize(HEADER_FORMAT)  # 548
SECTION_FORMAT = ">HHQ"
SECTION_HEADER_SIZE = struct.calcsize(SECTION_FORMAT)  # 12
MAGIC = b".eif"
VERSION = 4
MAX_SECTIONS = 32
CRC_COVERED = HEADER_SIZE - 4  # the crc field itself is excluded

KERNEL, CMDLINE, RAMDISK, SIGNATURE, METADATA = 1, 2, 3, 4, 5
SECTION_NAMES = {KERNEL: "kernel", CMDLINE: "cmdline", RAMDISK: "ramdisk", SIGNATURE: "signature", METADATA: "metadata"}

HASH_ALGORITHM = "Sha384 { ... }"


class EifError(ValueError):
    """The file is not a well-formed EIF."""


def pcr_value(chunks):
    """PCR = SHA384(48 zero bytes || SHA384(concatenation of chunks)), lowercase hex."""
    inner = hashlib.sha384()
    for chunk in chunks:
        inner.update(chunk)
    return hashlib.sha384(b"\0" * 48 + inner.digest()).hexdigest()


def measure(sections):
    """PCR0/1/2 of (type, data) sections in file order."""
    boot, app = [], []
    ramdisks = 0
    for section_type, data in sections:
        if section_type in (KERNEL, CMDLINE):
            boot.append(data)
        elif section_type == RAMDISK:
            (boot if ramdisks == 0 else app).append(data)
            ramdisks += 1
    return {
        "HashAlgorithm": HASH_ALGORITHM,
        "PCR0": pcr_value(boot + app),
        "PCR1": pcr_value(boot),
        "PCR2": pcr_value(app),
    }


def serialize(sections, flags=0, default_mem=0, default_cpus=0):
    """The bytes of an EIF holding (type, data) sections in the given order."""
    if len(sections) > MAX_SECTIONS:
        raise EifError("too many sections")
    offsets, sizes, parts = [], [], []
    position = HEADER_SIZE
    for section_type, data in sections:
        offsets.append(position)
        sizes.append(len(data))
        parts.append(struct.pack(SECTION_FORMAT, section_type, 0, len(data)))
        parts.append(bytes(data))
        position += SECTION_HEADER_SIZE + len(data)
    pad = [0] * (MAX_SECTIONS - len(sections))
    fields = [MAGIC, VERSION, flags, default_mem, default_cpus, 0, len(sections)] + offsets + pad + sizes + pad + [0]
    header_without_crc = struct.pack(HEADER_FORMAT, *(fields + [0]))
    crc = zlib.crc32(header_without_crc[:CRC_COVERED])
    for part in parts:
        crc = zlib.crc32(part, crc)
    header = struct.pack(HEADER_FORMAT, *(fields + [crc & 0xFFFFFFFF]))
    return header + b"".join(parts)


class ParsedEif:
    """A parsed EIF: header fields, sections, measurements and whether its CRC matches."""

    def __init__(self, version, flags, sections, crc_ok):
        self.version = version
        self.flags = flags
        self.sections = sections
        self.crc_ok = crc_ok
        self.measurements = measure(sections)

    def first(self, section_type):
        for current, data in self.sections:
            if current == section_type:
                return data
        return None


def parse(data):
    """Parse EIF bytes; raise EifError when they are not a well-formed EIF."""
    if len(data) < HEADER_SIZE:
        raise EifError("file is shorter than the EIF header (%d < %d bytes)" % (len(data), HEADER_SIZE))
    fields = struct.unpack(HEADER_FORMAT, data[:HEADER_SIZE])
    magic, version, flags = fields[0], fields[1], fields[2]
    num_sections = fields[6]
    offsets = fields[7:7 + MAX_SECTIONS]
    sizes = fields[7 + MAX_SECTIONS:7 + 2 * MAX_SECTIONS]
    stored_crc = fields[-1]
    if magic != MAGIC:
        raise EifError("bad magic %r (expected %r)" % (magic, MAGIC))
    if version < 1 or version > VERSION:
        raise EifError("unsupported EIF version %d" % version)
    if num_sections > MAX_SECTIONS:
        raise EifError("header announces %d sections (at most %d)" % (num_sections, MAX_SECTIONS))
    sections = []
    crc = zlib.crc32(data[:CRC_COVERED])
    position = HEADER_SIZE
    while position < len(data):
        if position + SECTION_HEADER_SIZE > len(data):
            raise EifError("truncated section header at offset %d" % position)
        section_type, _flags, size = struct.unpack(SECTION_FORMAT, data[position:position + SECTION_HEADER_SIZE])
        if section_type not in SECTION_NAMES:
            raise EifError("invalid section type %d at offset %d" % (section_type, position))
        end = position + SECTION_HEADER_SIZE + size
        if end > len(data):
            raise EifError("section at offset %d runs past the end of the file" % position)
        index = len(sections)
        if index >= num_sections or offsets[index] != position or sizes[index] != size:
            raise EifError("section %d at offset %d does not match the header's section table" % (index, position))
        crc = zlib.crc32(data[position:end], crc)
        sections.append((section_type, data[position + SECTION_HEADER_SIZE:end]))
        position = end
    if len(sections) != num_sections:
        raise EifError("header announces %d sections, file holds %d" % (num_sections, len(sections)))
    kinds = [kind for kind, _data in sections]
    for required in (KERNEL, CMDLINE, RAMDISK):
        if required not in kinds:
            raise EifError("no %s section" % SECTION_NAMES[required])
    return ParsedEif(version, flags, sections, (crc & 0xFFFFFFFF) == stored_crc)


def read(path):
    with open(path, "rb") as handle:
        return parse(handle.read())
