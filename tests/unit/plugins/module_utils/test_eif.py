"""EIF parsing and PCR measurements, against files and PCRs made without the code under test.

The EIFs come from tests/unit/plugins/eif_builder.py (struct + zlib) and the
expected PCRs from the openssl command line tool.
"""

import json

import pytest

import eif_builder as builder
from ansible_collections.opencontracts.enclave.plugins.module_utils import eif

# Published by nitro-cli for every single-ramdisk image (the formula over no data); not computed here.
PUBLIC_EMPTY_PCR2 = "21b9efbc184807662e966d34f390821309eeac6802309798826296bf3e8bec7c10edb30948c90ba67310f7b964fc500a"

# Chunk sizes: 7 bytes makes hundreds of chunks and reuses every ring buffer many times.
CHUNKS = [(7, 2), (64, 3), (4096, 4), (eif.DEFAULT_CHUNK_SIZE, eif.DEFAULT_BUFFERS)]


def write(tmp_path, sections, name="image.eif", **options):
    path = str(tmp_path / name)
    builder.build_eif(path, sections, **options)
    return path


# --------------------------------------------------------------------------
# Measurements
# --------------------------------------------------------------------------

@pytest.mark.parametrize("ramdisks", [1, 2, 3])
@pytest.mark.parametrize("chunk_size, buffers", CHUNKS)
def test_pcrs_match_openssl(tmp_path, openssl, ramdisks, chunk_size, buffers):  # pylint: disable=unused-argument
    sections = builder.standard_sections(ramdisks=ramdisks)
    path = write(tmp_path, sections)
    result = eif.measure(path, chunk_size=chunk_size, buffers=buffers)
    assert result.measurements == builder.expected_pcrs(sections)
    assert result.crc_ok is True
    assert result.is_signed is False
    assert "PCR8" not in result.measurements


def test_public_check_value_single_ramdisk(tmp_path):
    path = write(tmp_path, builder.standard_sections(ramdisks=1))
    result = eif.measure(path)
    assert result.measurements["PCR0"] == result.measurements["PCR1"]
    assert result.measurements["PCR2"] == PUBLIC_EMPTY_PCR2
    assert eif.EMPTY_PCR == PUBLIC_EMPTY_PCR2
    assert eif.pcr_of_data(b"") == PUBLIC_EMPTY_PCR2


def test_pcr_of_data_matches_openssl(openssl):  # pylint: disable=unused-argument
    data = builder.pseudo_random(5000, b"pcr")
    assert eif.pcr_of_data(data) == builder.openssl_pcr(data)


def test_every_later_ramdisk_feeds_pcr2_in_order(tmp_path, openssl):  # pylint: disable=unused-argument
    first, second, third = (builder.pseudo_random(3000 + i, b"r%d" % i) for i in range(3))
    sections = [builder.kernel(), builder.cmdline(), builder.ramdisk(first), builder.ramdisk(second), builder.ramdisk(third)]
    result = eif.measure(write(tmp_path, sections), chunk_size=1000)
    assert result.measurements["PCR2"] == builder.openssl_pcr(second + third)
    assert result.measurements["PCR1"] == builder.openssl_pcr(sections[0].data + sections[1].data + first)
    assert result.measurements["PCR0"] == builder.openssl_pcr(sections[0].data + sections[1].data + first + second + third)


def test_metadata_is_read_and_measures_nothing(tmp_path, openssl):  # pylint: disable=unused-argument
    with_metadata = builder.standard_sections(ramdisks=2, with_metadata=True)
    without = [s for s in with_metadata if s.stype != builder.METADATA]
    measured = eif.measure(write(tmp_path, with_metadata, "with.eif"))
    plain = eif.measure(write(tmp_path, without, "without.eif"))
    assert measured.measurements == plain.measurements == builder.expected_pcrs(without)
    assert measured.metadata["ImageName"] == "oracle"
    assert plain.metadata is None
    assert [s["type"] for s in measured.section_list()] == ["kernel", "cmdline", "metadata", "ramdisk", "ramdisk"]


def test_metadata_that_is_not_json_is_ignored(tmp_path, openssl):  # pylint: disable=unused-argument
    sections = builder.standard_sections(ramdisks=2, with_metadata=False)
    sections.insert(2, builder.metadata(raw=b"\xff not json"))
    result = eif.measure(write(tmp_path, sections))
    assert result.metadata is None
    assert result.measurements == builder.expected_pcrs(sections)


def test_facts_of_the_file(tmp_path):
    sections = builder.standard_sections(ramdisks=2)
    data = builder.build_eif(str(tmp_path / "x.eif"), sections, flags=1, default_mem=1 << 30, default_cpus=4)
    result = eif.measure(str(tmp_path / "x.eif"))
    assert result.size == len(data)
    assert result.version == 4
    assert result.arch == "aarch64"
    assert result.default_memory == 1 << 30
    assert result.default_cpus == 4
    assert result.section_list() == [{"type": builder.TYPE_NAMES[s.stype], "size": len(s.data)} for s in sections]
    assert result.cmdline.startswith("reboot=k")
    summary = result.as_dict()
    json.dumps(summary)
    assert summary["eif_version"] == 4 and summary["crc_ok"] is True and summary["size"] == len(data)


def test_empty_sections_are_measured(tmp_path, openssl):  # pylint: disable=unused-argument
    sections = [builder.kernel(), builder.cmdline(b""), builder.ramdisk(b""), builder.ramdisk(b"x" * 10)]
    result = eif.measure(write(tmp_path, sections))
    assert result.measurements == builder.expected_pcrs(sections)


@pytest.mark.parametrize("version", [2, 3, 4])
def test_supported_versions(tmp_path, version):
    assert eif.measure(write(tmp_path, builder.standard_sections(2), version=version)).version == version


def test_read_layout_without_hashing(tmp_path):
    sections = builder.standard_sections(ramdisks=2)
    layout = eif.read_layout(write(tmp_path, sections))
    assert [(s.type, s.size) for s in layout.sections] == [(builder.TYPE_NAMES[s.stype], len(s.data)) for s in sections]
    assert layout.sections[0].offset == 548
    assert layout.sections[1].offset == 548 + 12 + len(sections[0].data)
    assert layout.ramdisk_count == 2 and not layout.is_signed


# --------------------------------------------------------------------------
# Signed images (PCR8)
# --------------------------------------------------------------------------

@pytest.mark.parametrize("as_integer_array", [True, False])
def test_signed_image_pcr8(tmp_path, signing_certificate, as_integer_array):
    pem, der = signing_certificate
    sections = builder.standard_sections(ramdisks=2) + [builder.signature_section(pem, as_integer_array=as_integer_array)]
    result = eif.measure(write(tmp_path, sections), chunk_size=100)
    assert result.is_signed is True
    assert result.measurements == builder.expected_pcrs(sections, certificate_der=der)
    assert result.measurements["PCR8"] == builder.openssl_pcr(der)
    assert result.signing_certificate.startswith("-----BEGIN CERTIFICATE-----")
    assert result.crc_ok


def test_signed_image_without_cbor2(tmp_path, signing_certificate, monkeypatch):
    pem, _der = signing_certificate
    path = write(tmp_path, builder.standard_sections(2) + [builder.signature_section(pem)])
    monkeypatch.setattr(eif, "cbor2", None)
    with pytest.raises(eif.EifDependencyError) as caught:
        eif.measure(path)
    assert "cbor2" in str(caught.value) and path in str(caught.value)
    assert caught.value.package == "cbor2"
    # unsigned images need no cbor2
    assert eif.measure(write(tmp_path, builder.standard_sections(2), "plain.eif")).crc_ok


@pytest.mark.parametrize("raw", [b"\xff\xfe", b"\xa0", b"\x81\xa1\x69signature\x40"])
def test_undecodable_signature_section(tmp_path, raw):
    path = write(tmp_path, builder.standard_sections(2) + [builder.signature(raw)])
    with pytest.raises(eif.EifSignatureError) as caught:
        eif.measure(path)
    assert path in str(caught.value) and "signature section 5" in str(caught.value)


# --------------------------------------------------------------------------
# CRC
# --------------------------------------------------------------------------

def test_wrong_crc_is_reported(tmp_path, openssl):  # pylint: disable=unused-argument
    sections = builder.standard_sections(ramdisks=2)
    path = write(tmp_path, sections, corrupt_crc=True)
    result = eif.measure(path)
    assert result.crc_ok is False
    assert result.crc != result.crc_computed
    assert result.measurements == builder.expected_pcrs(sections)


def test_wrong_crc_raises_in_strict_mode(tmp_path):
    path = write(tmp_path, builder.standard_sections(2), corrupt_crc=True)
    with pytest.raises(eif.EifCrcError) as caught:
        eif.measure(path, require_crc=True)
    assert path in str(caught.value) and "CRC mismatch" in str(caught.value)
    assert caught.value.measurement.crc_ok is False
    assert set(caught.value.measurement.measurements) == {"PCR0", "PCR1", "PCR2"}


def test_crc_covers_section_headers(tmp_path):
    """Flipping a section header's flags changes nothing but the CRC."""
    sections = builder.standard_sections(ramdisks=2)
    good = write(tmp_path, sections, "good.eif")
    crc = eif.read_layout(good).crc
    sections[3].flags = 1
    bad = write(tmp_path, sections, "bad.eif", crc=crc)
    assert eif.measure(good).crc_ok is True
    result = eif.measure(bad)
    assert result.crc_ok is False
    assert result.measurements == eif.measure(good).measurements


# --------------------------------------------------------------------------
# Malformed files
# --------------------------------------------------------------------------

def test_truncated_names_section_and_missing_bytes(tmp_path):
    sections = builder.standard_sections(ramdisks=2)
    path = write(tmp_path, sections, truncate=100)
    with pytest.raises(eif.EifTruncatedError) as caught:
        eif.measure(path)
    message = str(caught.value)
    assert path in message
    assert "section 4 (ramdisk)" in message
    assert "100 bytes short" in message
    assert caught.value.missing == 100 and caught.value.section_index == 4


def test_truncated_inside_a_section_header(tmp_path):
    sections = builder.standard_sections(ramdisks=2)
    data = builder.build_eif(str(tmp_path / "full.eif"), sections)
    last_header = eif.HEADER_SIZE + sum(12 + len(s.data) for s in sections[:-1])
    path = str(tmp_path / "cut.eif")
    with open(path, "wb") as handle:
        handle.write(data[:last_header + 7])  # 7 of the 12 bytes of section 4's header
    with pytest.raises(eif.EifTruncatedError) as caught:
        eif.measure(path)
    assert "header of section 4" in str(caught.value) and "5 bytes short" in str(caught.value)


def test_truncated_header(tmp_path):
    path = str(tmp_path / "short.eif")
    with open(path, "wb") as handle:
        handle.write(b".eif" + b"\0" * 300)
    with pytest.raises(eif.EifTruncatedError) as caught:
        eif.read_layout(path)
    assert path in str(caught.value) and "244 bytes short" in str(caught.value)


@pytest.mark.parametrize("content", [b"", b"NAME=Debian\nVERSION=12\n", b"\x7fELF" + b"\0" * 600])
def test_not_an_eif(tmp_path, content):
    path = str(tmp_path / "not.eif")
    with open(path, "wb") as handle:
        handle.write(content)
    with pytest.raises(eif.EifFormatError) as caught:
        eif.measure(path)
    assert path in str(caught.value) and "not an EIF" in str(caught.value)


def test_bad_magic(tmp_path):
    path = write(tmp_path, builder.standard_sections(2), magic=b"EIF.")
    with pytest.raises(eif.EifFormatError):
        eif.measure(path)


@pytest.mark.parametrize("version", [0, 1, 5, 300])
def test_unsupported_version(tmp_path, version):
    path = write(tmp_path, builder.standard_sections(2), version=version)
    with pytest.raises(eif.EifVersionError) as caught:
        eif.measure(path)
    assert "unsupported EIF version %d" % version in str(caught.value) and path in str(caught.value)


@pytest.mark.parametrize("stype", [0, 6, 0xFFFF])
def test_unknown_section_type(tmp_path, stype):
    sections = builder.standard_sections(2)
    sections.insert(2, builder.Section(stype, b"what am I"))
    path = write(tmp_path, sections)
    with pytest.raises(eif.EifSectionError) as caught:
        eif.measure(path)
    assert "unknown section type %d in section 2" % stype in str(caught.value) and path in str(caught.value)


def test_more_than_32_sections(tmp_path):
    path = write(tmp_path, builder.standard_sections(2), num_sections=33)
    with pytest.raises(eif.EifSectionError) as caught:
        eif.measure(path)
    assert "33 sections" in str(caught.value) and "at most 32" in str(caught.value)


def test_32_sections_are_fine(tmp_path, openssl):  # pylint: disable=unused-argument
    sections = [builder.kernel(), builder.cmdline()] + [builder.ramdisk(b"r%d" % i * 10) for i in range(30)]
    result = eif.measure(write(tmp_path, sections))
    assert len(result.sections) == 32
    assert result.measurements == builder.expected_pcrs(sections)


def test_zero_sections(tmp_path):
    with pytest.raises(eif.EifSectionError):
        eif.measure(write(tmp_path, [], num_sections=0))


def test_table_offset_disagrees_with_layout(tmp_path):
    sections = builder.standard_sections(2)
    data = builder.build_eif(str(tmp_path / "ok.eif"), sections)
    layout = eif.read_layout(str(tmp_path / "ok.eif"))
    offsets = [s.offset for s in layout.sections]
    offsets[3] += 4
    path = write(tmp_path, sections, offsets=offsets)
    with pytest.raises(eif.EifLayoutError) as caught:
        eif.measure(path)
    assert "disagree" in str(caught.value) and "section 3" in str(caught.value) and path in str(caught.value)
    assert len(data) == layout.size


def test_table_size_disagrees_with_section_header(tmp_path):
    sections = builder.standard_sections(2)
    sizes = [len(s.data) for s in sections]
    sizes[1] += 1
    path = write(tmp_path, sections, sizes=sizes)
    with pytest.raises(eif.EifLayoutError) as caught:
        eif.measure(path)
    assert "section 1 (cmdline)" in str(caught.value)


def test_trailing_data_after_the_last_section(tmp_path):
    path = write(tmp_path, builder.standard_sections(2), trailing=b"\0" * 12)
    with pytest.raises(eif.EifLayoutError) as caught:
        eif.measure(path)
    assert "12 more bytes" in str(caught.value)


def test_fewer_sections_in_table_than_in_file(tmp_path):
    """nitro-cli would read the last section, QEMU would not: refuse."""
    path = write(tmp_path, builder.standard_sections(2), num_sections=4)
    with pytest.raises(eif.EifLayoutError):
        eif.measure(path)


def test_every_error_is_an_eif_error():
    for cls in (eif.EifFormatError, eif.EifVersionError, eif.EifTruncatedError, eif.EifSectionError,
                eif.EifLayoutError, eif.EifCrcError, eif.EifSignatureError, eif.EifDependencyError):
        assert issubclass(cls, eif.EifError)


def test_missing_file_is_an_oserror(tmp_path):
    with pytest.raises(OSError):
        eif.measure(str(tmp_path / "missing.eif"))


# --------------------------------------------------------------------------
# PCR values given by people
# --------------------------------------------------------------------------

def test_normalize_pcr():
    value = "  " + PUBLIC_EMPTY_PCR2.upper() + "\n"
    assert eif.normalize_pcr(value) == PUBLIC_EMPTY_PCR2


@pytest.mark.parametrize("value", ["", "abc", PUBLIC_EMPTY_PCR2[:-1], PUBLIC_EMPTY_PCR2 + "0", "g" * 96, "0x" + PUBLIC_EMPTY_PCR2[2:], 42])
def test_normalize_pcr_refuses(value):
    with pytest.raises(ValueError) as caught:
        eif.normalize_pcr(value, "allowed_pcr0[1]")
    assert "allowed_pcr0[1]" in str(caught.value) and "96 hex" in str(caught.value)


def test_measure_refuses_a_fifo_without_blocking(tmp_path):
    # Opening a FIFO for reading blocks until a writer appears: the alarm turns a hang into a failure.
    import os
    import signal

    path = str(tmp_path / "oracle.eif")
    os.mkfifo(path)

    def hung(*_args):
        raise AssertionError("measure blocked on a FIFO")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(5)
    try:
        for read in (eif.measure, eif.read_layout):
            with pytest.raises(eif.EifNotAFileError) as caught:
                read(path)
            assert str(caught.value) == path + ": not a regular file"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
