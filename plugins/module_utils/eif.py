# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Read Enclave Image Format (EIF) files and compute their PCR measurements.

An EIF is what ``nitro-cli build-enclave`` writes and ``nitro-cli run-enclave``
boots. This module reads one as a stream (never the whole file in memory),
checks its structure and its CRC, and computes the platform configuration
registers the Nitro hypervisor will report for it:

* PCR0: kernel, cmdline and every ramdisk;
* PCR1: kernel, cmdline and the first ramdisk (the bootstrap);
* PCR2: every later ramdisk (the application);
* PCR8: the signing certificate (signed images only).

Each is ``SHA384(48 zero bytes || SHA384(data))``. PCR0 and PCR2 both cover the
large application ramdisk, so the two digests run on two threads (hashlib
releases the GIL for large buffers): a 4 GiB image takes about as long as one
SHA-384 pass over the file, with a few MiB of buffers.

Supported versions: 2, 3 and 4 (4 is what every current nitro-cli writes). They
share the header layout and the CRC; version 3 added the signature section and
version 4 the metadata section. Versions 0 and 1 predate the CRC and anything
newer than 4 is an unknown format: both are refused with ``EifVersionError``.

Signed images need the Python package ``cbor2`` to decode the signature
section (for PCR8); unsigned images need nothing outside the standard library.

Public API: :func:`measure`, :func:`read_layout`, :func:`pcr_of_data`,
:func:`pcr_from_digest`, :func:`normalize_pcr`, :func:`crc_mismatch_reason`,
:data:`EMPTY_PCR`, :data:`PCR_NAMES`, the result classes :class:`EifLayout`,
:class:`EifMeasurement`, :class:`EifSection` and the exceptions derived from
:class:`EifError`.
"""

import hashlib
import json
import os
import re
import ssl
import stat
import struct
import threading
import traceback
import zlib

import queue

try:
    import cbor2
    HAS_CBOR2 = True
    CBOR2_IMPORT_ERROR = None
except ImportError:
    cbor2 = None
    HAS_CBOR2 = False
    CBOR2_IMPORT_ERROR = traceback.format_exc()


EIF_MAGIC = b".eif"
HEADER_FORMAT = ">4sHHQQHH32Q32QII"
HEADER_SIZE = struct.calcsize(HEADER_FORMAT)  # 548
CRC_FIELD_OFFSET = HEADER_SIZE - 4  # the CRC covers header[0:544]
SECTION_HEADER_FORMAT = ">HHQ"
SECTION_HEADER_SIZE = struct.calcsize(SECTION_HEADER_FORMAT)  # 12
MAX_SECTIONS = 32
CURRENT_VERSION = 4
SUPPORTED_VERSIONS = (2, 3, 4)
FLAG_ARCH_ARM64 = 0x1

SECTION_KERNEL = 1
SECTION_CMDLINE = 2
SECTION_RAMDISK = 3
SECTION_SIGNATURE = 4
SECTION_METADATA = 5
SECTION_TYPES = {
    SECTION_KERNEL: "kernel",
    SECTION_CMDLINE: "cmdline",
    SECTION_RAMDISK: "ramdisk",
    SECTION_SIGNATURE: "signature",
    SECTION_METADATA: "metadata",
}

PCR_NAMES = ("PCR0", "PCR1", "PCR2", "PCR8")
PCR_HEX_LENGTH = 96
PCR_ZERO_PREFIX = b"\x00" * 48

# Chunk size and ring depth of the hashing pipeline, chosen by measurement on a
# 2-core machine: on a 4 GiB image, 2 to 8 MiB chunks were within the noise of each
# other and 4 MiB x 4 buffers (16 MiB in all) the fastest; `make bench-pcr` measures it.
DEFAULT_CHUNK_SIZE = 4 * 1024 * 1024
DEFAULT_BUFFERS = 4

# Sections read into memory besides being hashed. The signature section is tiny
# in practice (a certificate and a COSE signature); a huge one is refused.
MAX_SIGNATURE_SIZE = 16 * 1024 * 1024
MAX_METADATA_SIZE = 16 * 1024 * 1024
MAX_CMDLINE_SIZE = 64 * 1024

_HEX_RE = re.compile(r"^[0-9a-f]{%d}$" % PCR_HEX_LENGTH)


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------

class EifError(Exception):
    """Base class: the file at ``path`` is not an EIF this module can measure.

    ``str(error)`` is a complete sentence naming the file; ``reason`` is the
    same without the file name.
    """

    def __init__(self, path, reason):
        self.path = path
        self.reason = reason
        super(EifError, self).__init__("%s: %s" % (path, reason))


class EifFormatError(EifError):
    """Not an EIF at all (bad magic) or too short to hold an EIF header."""


class EifVersionError(EifError):
    """An EIF version this module does not read."""


class EifTruncatedError(EifError):
    """The file ends before the data its header and section headers announce."""

    def __init__(self, path, reason, section_index=None, section_type=None, missing=0):
        self.section_index = section_index
        self.section_type = section_type
        self.missing = missing
        super(EifTruncatedError, self).__init__(path, reason)


class EifSectionError(EifError):
    """An unknown section type, or more sections than the format allows."""


class EifLayoutError(EifError):
    """The header's section table and the sequential layout of the file disagree."""


class EifCrcError(EifError):
    """The CRC stored in the header does not match the file (strict mode only).

    ``measurement`` holds the complete :class:`EifMeasurement` anyway.
    """

    def __init__(self, path, reason, measurement=None):
        self.measurement = measurement
        super(EifCrcError, self).__init__(path, reason)


class EifSignatureError(EifError):
    """The signature section cannot be decoded into a signing certificate."""


class EifDependencyError(EifError):
    """A Python package needed for this file is missing (``cbor2`` for signed EIFs)."""

    def __init__(self, path, reason, package=None):
        self.package = package
        super(EifDependencyError, self).__init__(path, reason)


# --------------------------------------------------------------------------
# PCR helpers
# --------------------------------------------------------------------------

def pcr_from_digest(digest):
    """Return the PCR (lowercase hex) for the SHA-384 ``digest`` (bytes) of the measured data."""
    return hashlib.sha384(PCR_ZERO_PREFIX + digest).hexdigest()


def pcr_of_data(data=b""):
    """Return the PCR (lowercase hex) of ``data``, as ``nitro-cli pcr`` computes it."""
    return pcr_from_digest(hashlib.sha384(data).digest())


# The PCR of nothing: PCR2 of an image with a single ramdisk.
EMPTY_PCR = pcr_of_data(b"")


def normalize_pcr(value, name="PCR"):
    """Return ``value`` as 96 lowercase hex characters, or raise ValueError.

    Case is ignored and surrounding whitespace stripped; ``name`` is used in
    the error message (e.g. ``allowed_pcr0[2]``).
    """
    if not isinstance(value, str):
        raise ValueError("%s must be a string of %d hex characters, got %s" % (name, PCR_HEX_LENGTH, type(value).__name__))
    text = value.strip().lower()
    if not _HEX_RE.match(text):
        raise ValueError(
            "%s must be %d hex characters (a SHA-384 PCR value), got %r (%d characters)"
            % (name, PCR_HEX_LENGTH, value, len(text)))
    return text


# --------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------

class EifSection:
    """One section: ``index`` in the table, ``type_id`` / ``type`` (name),
    ``flags``, ``offset`` of its 12-byte header, ``data_offset`` and ``size`` of its data."""

    __slots__ = ("index", "type_id", "type", "flags", "offset", "size")

    def __init__(self, index, type_id, flags, offset, size):
        self.index = index
        self.type_id = type_id
        self.type = SECTION_TYPES.get(type_id, "unknown")
        self.flags = flags
        self.offset = offset
        self.size = size

    @property
    def data_offset(self):
        return self.offset + SECTION_HEADER_SIZE

    @property
    def end(self):
        return self.data_offset + self.size

    def as_dict(self):
        """``{"type": name, "size": data bytes}``: the shape modules return."""
        return {"type": self.type, "size": self.size}

    def __repr__(self):
        return "EifSection(%d, %s, offset=%d, size=%d)" % (self.index, self.type, self.offset, self.size)


class EifLayout:
    """The header and the section layout of an EIF, validated, without hashing.

    Attributes: ``path``, ``size`` (file size in bytes), ``version``,
    ``flags``, ``arch`` (``x86_64`` or ``aarch64``), ``default_memory``,
    ``default_cpus``, ``crc`` (the CRC stored in the header), ``sections``
    (list of :class:`EifSection`, in file order), ``is_signed``.
    """

    def __init__(self, path, size, header, sections):
        (_magic, version, flags, default_mem, default_cpus, _reserved, _num,
         _offsets, _sizes, _unused, crc) = _unpack_header(header)
        self.path = path
        self.size = size
        self.version = version
        self.flags = flags
        self.arch = "aarch64" if flags & FLAG_ARCH_ARM64 else "x86_64"
        self.default_memory = default_mem
        self.default_cpus = default_cpus
        self.crc = crc
        self.sections = sections
        self.header = header

    @property
    def is_signed(self):
        return any(s.type_id == SECTION_SIGNATURE for s in self.sections)

    @property
    def ramdisk_count(self):
        return sum(1 for s in self.sections if s.type_id == SECTION_RAMDISK)

    def section_list(self):
        """The sections as a list of ``{"type", "size"}`` dicts."""
        return [s.as_dict() for s in self.sections]


class EifMeasurement(EifLayout):
    """An :class:`EifLayout` plus what reading every byte gives.

    Extra attributes: ``measurements`` (dict ``PCR0``, ``PCR1``, ``PCR2`` and,
    for signed images, ``PCR8``: lowercase hex), ``crc_computed``, ``crc_ok``,
    ``metadata`` (dict, when the metadata section is a JSON object, else None),
    ``signing_certificate`` (PEM text of the first signature entry, or None),
    ``cmdline`` (the kernel command line as text, or None).
    """

    def __init__(self, layout, measurements, crc_computed, metadata=None, signing_certificate=None, cmdline=None):
        super(EifMeasurement, self).__init__(layout.path, layout.size, layout.header, layout.sections)
        self.measurements = measurements
        self.crc_computed = crc_computed
        self.crc_ok = crc_computed == layout.crc
        self.metadata = metadata
        self.signing_certificate = signing_certificate
        self.cmdline = cmdline

    def as_dict(self):
        """A JSON-friendly summary with the key names modules return."""
        return {
            "path": self.path,
            "eif_version": self.version,
            "flags": self.flags,
            "arch": self.arch,
            "size": self.size,
            "sections": self.section_list(),
            "crc_ok": self.crc_ok,
            "is_signed": self.is_signed,
            "measurements": dict(self.measurements),
            "metadata": self.metadata,
        }


# --------------------------------------------------------------------------
# Layout
# --------------------------------------------------------------------------

def _unpack_header(header):
    fields = struct.unpack(HEADER_FORMAT, header)
    magic, version, flags, default_mem, default_cpus, reserved, num_sections = fields[:7]
    offsets = fields[7:7 + MAX_SECTIONS]
    sizes = fields[7 + MAX_SECTIONS:7 + 2 * MAX_SECTIONS]
    unused, crc = fields[7 + 2 * MAX_SECTIONS:]
    return magic, version, flags, default_mem, default_cpus, reserved, num_sections, offsets, sizes, unused, crc


def _read_exact(fileobj, count):
    """Read up to ``count`` bytes, looping over short reads; fewer only at EOF."""
    chunks = []
    remaining = count
    while remaining > 0:
        data = fileobj.read(remaining)
        if not data:
            break
        chunks.append(data)
        remaining -= len(data)
    return b"".join(chunks)


def _type_label(type_id):
    return SECTION_TYPES.get(type_id, "type %d" % type_id)


def _read_layout(fileobj, path):
    """Validate the header and walk the section headers; return an EifLayout."""
    file_size = os.fstat(fileobj.fileno()).st_size
    fileobj.seek(0)
    header = _read_exact(fileobj, HEADER_SIZE)
    if header[:4] != EIF_MAGIC:
        raise EifFormatError(path, "not an EIF file (it starts with %r, an EIF starts with %r)" % (header[:4], EIF_MAGIC))
    if len(header) < HEADER_SIZE:
        raise EifTruncatedError(
            path, "truncated EIF: the file has %d bytes, the EIF header alone needs %d (%d bytes short)"
            % (len(header), HEADER_SIZE, HEADER_SIZE - len(header)), missing=HEADER_SIZE - len(header))

    (_magic, version, _flags, _mem, _cpus, _reserved, num_sections,
     offsets, sizes, _unused, _crc) = _unpack_header(header)
    if version not in SUPPORTED_VERSIONS:
        raise EifVersionError(
            path, "unsupported EIF version %d (this collection reads versions %s; nitro-cli writes version %d)"
            % (version, ", ".join(str(v) for v in SUPPORTED_VERSIONS), CURRENT_VERSION))
    if num_sections > MAX_SECTIONS:
        raise EifSectionError(path, "the header declares %d sections, an EIF has at most %d" % (num_sections, MAX_SECTIONS))
    if num_sections == 0:
        raise EifSectionError(path, "the header declares no sections")

    sections = []
    position = HEADER_SIZE
    for index in range(num_sections):
        if offsets[index] != position:
            raise EifLayoutError(
                path, "section table and file layout disagree: section %d starts at offset %d when the sections are read "
                "one after the other, the header's table says %d" % (index, position, offsets[index]))
        if position + SECTION_HEADER_SIZE > file_size:
            missing = position + SECTION_HEADER_SIZE - file_size
            raise EifTruncatedError(
                path, "truncated EIF: the header of section %d (offset %d) is %d bytes short (file size %d)"
                % (index, position, missing, file_size), section_index=index, missing=missing)
        fileobj.seek(position)
        raw = _read_exact(fileobj, SECTION_HEADER_SIZE)
        if len(raw) < SECTION_HEADER_SIZE:  # the file shrank under us
            missing = SECTION_HEADER_SIZE - len(raw)
            raise EifTruncatedError(
                path, "truncated EIF: the header of section %d (offset %d) is %d bytes short" % (index, position, missing),
                section_index=index, missing=missing)
        type_id, flags, size = struct.unpack(SECTION_HEADER_FORMAT, raw)
        if type_id not in SECTION_TYPES:
            raise EifSectionError(
                path, "unknown section type %d in section %d (offset %d); known types: %s"
                % (type_id, index, position, ", ".join("%d %s" % item for item in sorted(SECTION_TYPES.items()))))
        section = EifSection(index, type_id, flags, position, size)
        if sizes[index] != size:
            raise EifLayoutError(
                path, "section table and file layout disagree: section %d (%s) has %d bytes of data according to its "
                "section header, the header's table says %d" % (index, section.type, size, sizes[index]))
        if section.end > file_size:
            missing = section.end - file_size
            raise EifTruncatedError(
                path, "truncated EIF: section %d (%s) is %d bytes short: it needs %d bytes of data from offset %d, "
                "the file ends at %d" % (index, section.type, missing, size, section.data_offset, file_size),
                section_index=index, section_type=section.type, missing=missing)
        sections.append(section)
        position = section.end
    if position != file_size:
        raise EifLayoutError(
            path, "section table and file layout disagree: the %d sections of the table end at offset %d, "
            "but the file has %d more bytes after them" % (num_sections, position, file_size - position))
    return EifLayout(path, file_size, header, sections)


class EifNotAFileError(EifError):
    """The path is not a regular file (a FIFO, a device, a folder): it is never read."""


def open_regular(path, buffering=-1):
    """Open ``path`` for reading, only when it is a regular file.

    Opened without blocking, then checked: a FIFO at ``path`` would otherwise block the open (and
    every read) until a writer appears. Raises :class:`EifNotAFileError` for anything that is not a
    regular file, OSError when it cannot be opened.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise EifNotAFileError(path, "not a regular file")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb", buffering=buffering)
    except BaseException:
        os.close(fd)
        raise


def read_layout(path):
    """Read and validate the header and section headers of the EIF at ``path``.

    Cheap (a few small reads, no hashing). Raises an :class:`EifError`
    subclass for anything that is not a well-formed EIF, OSError when the file
    cannot be read.
    """
    with open_regular(path) as fileobj:
        return _read_layout(fileobj, path)


# --------------------------------------------------------------------------
# Hashing pipeline
# --------------------------------------------------------------------------

class _Lane(threading.Thread):
    """A worker thread applying digest updates in order.

    Every chunk the reader produces is put on every lane's queue, either as
    ``(update, view)`` or as ``(None, None)`` when the lane has nothing to do
    with it; a lane releases one ``slots`` unit per item, in order. Before
    reusing a ring buffer the reader takes one unit from each lane, which
    proves every lane finished the chunk that last used that buffer.
    """

    def __init__(self, name, depth):
        super(_Lane, self).__init__(name=name)
        self.daemon = True
        self.queue = queue.SimpleQueue() if hasattr(queue, "SimpleQueue") else queue.Queue()
        self.slots = threading.Semaphore(depth)
        self.error = None

    def run(self):
        get = self.queue.get
        release = self.slots.release
        while True:
            update, view = get()
            if update is False:
                return
            if update is not None and self.error is None:
                try:
                    update(view)
                except Exception as exc:  # pylint: disable=broad-except
                    self.error = exc
            release()

    def stop(self):
        self.queue.put((False, None))


def _section_updates(section, ramdisk_index, digests):
    """The digest update each lane applies to a section's data (None: nothing).

    Lane 0 computes PCR0; lane 1 computes PCR1 or PCR2 (a section never feeds
    both), so each lane does at most one SHA-384 update per chunk.
    """
    if section.type_id in (SECTION_KERNEL, SECTION_CMDLINE) or (section.type_id == SECTION_RAMDISK and ramdisk_index == 0):
        return (digests["PCR0"].update, digests["PCR1"].update)
    if section.type_id == SECTION_RAMDISK:
        return (digests["PCR0"].update, digests["PCR2"].update)
    return (None, None)


def _capture_limit(section):
    if section.type_id == SECTION_SIGNATURE:
        return MAX_SIGNATURE_SIZE
    if section.type_id == SECTION_METADATA:
        return MAX_METADATA_SIZE
    if section.type_id == SECTION_CMDLINE:
        return MAX_CMDLINE_SIZE
    return 0


def _hash_sections(fileobj, layout, chunk_size, buffers):
    """Stream every section once; return (digests, crc, captured section data)."""
    digests = dict((name, hashlib.sha384()) for name in ("PCR0", "PCR1", "PCR2"))
    crc = zlib.crc32(layout.header[:CRC_FIELD_OFFSET])
    captured = []  # (section, bytes) for signature, metadata and cmdline sections
    ring = [bytearray(chunk_size) for _dummy in range(buffers)]
    views = [memoryview(buf) for buf in ring]
    lanes = [_Lane("eif-pcr0", buffers), _Lane("eif-pcr12", buffers)]
    for lane in lanes:
        lane.start()
    chunk_number = 0
    ramdisk_index = 0
    try:
        fileobj.seek(HEADER_SIZE)
        for section in layout.sections:
            raw = _read_exact(fileobj, SECTION_HEADER_SIZE)
            if len(raw) < SECTION_HEADER_SIZE or struct.unpack(SECTION_HEADER_FORMAT, raw) != (section.type_id, section.flags, section.size):
                raise EifLayoutError(layout.path, "section %d changed while it was being read (is the file being written?)" % section.index)
            crc = zlib.crc32(raw, crc)
            updates = list(zip(lanes, _section_updates(section, ramdisk_index, digests)))
            if section.type_id == SECTION_RAMDISK:
                ramdisk_index += 1
            limit = _capture_limit(section)
            if section.type_id == SECTION_SIGNATURE and section.size > limit:
                raise EifSignatureError(
                    layout.path, "the signature section %d is %d bytes, more than any signature (limit %d)" % (section.index, section.size, limit))
            keep = bytearray() if limit and section.size <= limit else None
            remaining = section.size
            while remaining:
                for lane in lanes:
                    lane.slots.acquire()
                slot = chunk_number % buffers
                chunk_number += 1
                count = fileobj.readinto(views[slot][:min(chunk_size, remaining)])
                if not count:
                    for lane in lanes:
                        lane.slots.release()
                    raise EifTruncatedError(
                        layout.path, "truncated EIF: section %d (%s) is %d bytes short (the file shrank while it was being read)"
                        % (section.index, section.type, remaining), section_index=section.index, section_type=section.type, missing=remaining)
                view = views[slot][:count]
                crc = zlib.crc32(view, crc)
                for lane, update in updates:
                    lane.queue.put((update, view))
                if keep is not None:
                    keep += view
                remaining -= count
            if keep is not None:
                captured.append((section, bytes(keep)))
    finally:
        for lane in lanes:
            lane.stop()
        for lane in lanes:
            lane.join()
    for lane in lanes:
        if lane.error is not None:
            raise lane.error  # pylint: disable=raising-bad-type
    return digests, crc & 0xFFFFFFFF, captured


# --------------------------------------------------------------------------
# Signature and metadata sections
# --------------------------------------------------------------------------

def _missing_cbor2(path):
    return EifDependencyError(
        path, "the EIF is signed and measuring its PCR8 needs the Python package cbor2 on the managed host "
        "(pip install cbor2; distribution package python3-cbor2)", package="cbor2")


def _certificate_der(path, section, data):
    """DER bytes of the first signing certificate in a signature section."""
    if cbor2 is None:
        raise _missing_cbor2(path)
    try:
        entries = cbor2.loads(data)
    except Exception as exc:  # pylint: disable=broad-except
        raise EifSignatureError(path, "the signature section %d is not valid CBOR: %s" % (section.index, exc))
    if not isinstance(entries, list) or not entries or not isinstance(entries[0], dict):
        raise EifSignatureError(path, "the signature section %d is not a CBOR array of signature maps" % section.index)
    pem = entries[0].get("signing_certificate")
    if isinstance(pem, list):
        if not all(isinstance(item, int) and 0 <= item <= 255 for item in pem):
            raise EifSignatureError(path, "signing_certificate in signature section %d is not an array of bytes" % section.index)
        pem = bytes(bytearray(pem))
    elif isinstance(pem, bytearray):
        pem = bytes(pem)
    if not isinstance(pem, bytes) or not pem:
        raise EifSignatureError(path, "the signature section %d has no signing_certificate" % section.index)
    try:
        text = pem.decode("ascii")
        return text, ssl.PEM_cert_to_DER_cert(text)
    except (UnicodeDecodeError, ValueError) as exc:
        raise EifSignatureError(path, "signing_certificate in signature section %d is not a PEM certificate: %s" % (section.index, exc))


def _decode_metadata(data):
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


# --------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------

def measure(path, require_crc=False, chunk_size=DEFAULT_CHUNK_SIZE, buffers=DEFAULT_BUFFERS):
    """Validate the EIF at ``path`` and compute its PCRs and CRC.

    Returns an :class:`EifMeasurement`. A wrong CRC only sets ``crc_ok`` to
    False (as ``nitro-cli describe-eif`` does) unless ``require_crc`` is true,
    in which case :class:`EifCrcError` is raised with the measurement attached.
    Raises other :class:`EifError` subclasses for malformed files (the message
    names the file and the problem) and OSError when the file cannot be read.
    Memory use is ``chunk_size * buffers`` plus the small sections.
    """
    chunk_size = max(int(chunk_size), 1)
    buffers = max(int(buffers), 1)
    with open_regular(path, buffering=0) as fileobj:
        layout = _read_layout(fileobj, path)
        if layout.is_signed and cbor2 is None:
            raise _missing_cbor2(path)
        if hasattr(os, "posix_fadvise"):
            try:
                os.posix_fadvise(fileobj.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
            except OSError:
                pass
        digests, crc, captured = _hash_sections(fileobj, layout, min(chunk_size, max(layout.size, 1)), buffers)

    measurements = dict((name, pcr_from_digest(digest.digest())) for name, digest in digests.items())
    metadata = None
    certificate = None
    cmdline = None
    certificates_der = []
    for section, data in captured:
        if section.type_id == SECTION_SIGNATURE:
            pem, der = _certificate_der(path, section, data)
            certificate = certificate or pem
            certificates_der.append(der)
        elif section.type_id == SECTION_METADATA and metadata is None:
            metadata = _decode_metadata(data)
        elif section.type_id == SECTION_CMDLINE and cmdline is None:
            cmdline = data.decode("utf-8", "replace").rstrip("\x00")
    if layout.is_signed:
        # nitro-cli feeds the certificate of every signature section to PCR8 (there is one in practice).
        measurements["PCR8"] = pcr_of_data(b"".join(certificates_der))

    result = EifMeasurement(layout, measurements, crc, metadata=metadata, signing_certificate=certificate, cmdline=cmdline)
    if require_crc and not result.crc_ok:
        raise EifCrcError(path, crc_mismatch_reason(result), measurement=result)
    return result


def crc_mismatch_reason(measurement):
    """A sentence describing a CRC mismatch of ``measurement``."""
    return ("CRC mismatch: the header says 0x%08x, the file's content gives 0x%08x (the file is corrupt or was modified after it was built)"
            % (measurement.crc, measurement.crc_computed))
