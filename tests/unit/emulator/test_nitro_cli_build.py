"""nitro-cli build-enclave and describe-eif, with an independent check of the EIF bytes.

Expectations are computed here with struct, zlib and the openssl command, never
with the emulator's code.
"""

import json
import os
import re
import struct
import subprocess
import zlib

HEADER = ">4sHHQQHH32Q32QII"
EMPTY_PCR = "21b9efbc184807662e966d34f390821309eeac6802309798826296bf3e8bec7c10edb30948c90ba67310f7b964fc500a"
BUILD_LOG = "/var/lib/nitro_emulator/build-enclave.log"
BLOBS = os.path.join(os.path.dirname(__file__), "..", "..", "nitro_emulator", "blobs")


def openssl_sha384(data):
    proc = subprocess.run(["openssl", "dgst", "-sha384", "-binary"], input=data, stdout=subprocess.PIPE, check=True)
    assert len(proc.stdout) == 48
    return proc.stdout


def pcr(data):
    return openssl_sha384(b"\0" * 48 + openssl_sha384(data)).hex()


def parse_eif(data):
    """(header fields, [(type, data)]) walking the sections from offset 548."""
    assert struct.calcsize(HEADER) == 548
    fields = struct.unpack(HEADER, data[:548])
    sections = []
    position = 548
    while position < len(data):
        kind, _flags, size = struct.unpack(">HHQ", data[position:position + 12])
        sections.append((position, kind, size, data[position + 12:position + 12 + size]))
        position += 12 + size
    assert position == len(data)
    return fields, sections


def build_log(emu):
    if not emu.exists(BUILD_LOG):
        return []
    return [json.loads(line) for line in emu.read(BUILD_LOG).splitlines()]


def test_version(emu):
    result = emu.cli("--version")
    assert result.rc == 0
    assert result.stdout == "Nitro CLI 1.4.2\n"
    emu.machine("[nitro_cli]\nversion = 1.3.4\n")
    assert emu.cli("--version").stdout == "Nitro CLI 1.3.4\n"


def test_pcr_helper_matches_the_reference_value():
    assert pcr(b"") == EMPTY_PCR


def test_build_writes_a_real_eif(built_eif):
    _emu, eif_path, measurements = built_eif
    with open(eif_path, "rb") as handle:
        data = handle.read()
    fields, sections = parse_eif(data)
    magic, version, flags, num_sections = fields[0], fields[1], fields[2], fields[6]
    offsets, sizes, crc = fields[7:39], fields[39:71], fields[-1]
    assert (magic, version, flags) == (b".eif", 4, 0)
    assert [kind for _pos, kind, _size, _data in sections] == [1, 2, 5, 3, 3]
    assert num_sections == 5
    assert list(offsets[:5]) == [pos for pos, _kind, _size, _data in sections] and sections[0][0] == 548
    assert list(sizes[:5]) == [size for _pos, _kind, size, _data in sections]
    assert not any(offsets[5:]) and not any(sizes[5:])
    assert crc == zlib.crc32(data[:544] + data[548:])

    kernel, cmdline, metadata, ramdisk0, ramdisk1 = [section[3] for section in sections]
    with open(os.path.join(BLOBS, "bzImage"), "rb") as handle:
        assert kernel == handle.read()
    assert cmdline.startswith(b"reboot=k panic=30 pci=off nomodules console=ttyS0")
    assert ramdisk0.startswith(b"070701") and ramdisk1.startswith(b"070701")
    assert b"rootfs/app/run.sh" in ramdisk1 and b"echo hello" in ramdisk1
    info = json.loads(metadata)
    assert info["ImageName"] == "app" and info["ImageVersion"] == "1"
    assert info["BuildMetadata"]["BuildTool"] == "nitro-cli"
    assert info["DockerInfo"]["RepoTags"] == ["app:1"]

    assert measurements["HashAlgorithm"] == "Sha384 { ... }"
    assert measurements["PCR0"] == pcr(kernel + cmdline + ramdisk0 + ramdisk1)
    assert measurements["PCR1"] == pcr(kernel + cmdline + ramdisk0)
    assert measurements["PCR2"] == pcr(ramdisk1)
    assert "PCR8" not in measurements


def test_build_output_and_log(built_eif):
    emu, eif_path, _measurements = built_eif
    result = emu.cli("build-enclave", "--docker-uri", "app:1", "--output-file", eif_path + ".2")
    assert result.rc == 0
    assert result.stderr.splitlines() == ["Start building the Enclave Image...", "Using the locally available Docker image...",
                                          "Enclave Image successfully created."]
    assert re.match(r'^\{\n  "Measurements": \{\n    "HashAlgorithm": "Sha384 \{ \.\.\. \}",\n    "PCR0": "[0-9a-f]{96}",\n'
                    r'    "PCR1": "[0-9a-f]{96}",\n    "PCR2": "[0-9a-f]{96}"\n  \}\n\}\n$', result.stdout)
    log = build_log(emu)
    assert len(log) == 2
    assert [entry["docker_uri"] for entry in log] == ["app:1", "app:1"]
    assert log[1]["output_file"] == eif_path + ".2"
    assert log[1]["PCR0"] == result.json()["Measurements"]["PCR0"]
    assert set(log[0]) >= {"time", "docker_uri", "output_file", "PCR0"}


def test_build_is_deterministic(built_eif):
    emu, eif_path, first = built_eif
    second = emu.build_eif("app:1", eif_path + ".again")
    assert second == first
    with open(eif_path, "rb") as one, open(eif_path + ".again", "rb") as two:
        assert one.read() != two.read(), "the metadata's BuildTime should make the files differ"
    emu.build_image("other:1", {"run.sh": "#!/bin/sh\necho another app\n"})
    other = emu.build_eif("other:1", eif_path + ".other")
    assert other["PCR0"] != first["PCR0"]
    assert other["PCR1"] == first["PCR1"], "same kernel, cmdline and bootstrap ramdisk"
    assert other["PCR2"] != first["PCR2"]


def test_docker_dir_builds_the_image_first(docker_emu):
    context = docker_emu.build_image("seed:1", {"run.sh": "#!/bin/sh\necho seeded\n"})
    output = os.path.join(docker_emu.root, "dir.eif")
    via_dir = docker_emu.build_eif("fromdir:1", output, "--docker-dir", context)
    via_tag = docker_emu.build_eif("seed:1", output + ".tag")
    assert via_dir == via_tag
    assert docker_emu.docker("image", "inspect", "fromdir:1").rc == 0


def test_describe_eif(built_eif):
    emu, eif_path, measurements = built_eif
    result = emu.cli("describe-eif", "--eif-path", eif_path)
    assert result.rc == 0, result
    info = result.json()
    assert list(info)[:4] == ["EifVersion", "Measurements", "IsSigned", "CheckCRC"]
    assert info["EifVersion"] == 4
    assert info["Measurements"] == measurements
    assert info["IsSigned"] is False and info["CheckCRC"] is True
    assert info["ImageName"] == "app" and info["ImageVersion"] == "1"
    assert info["Metadata"]["BuildTool"] == "nitro-cli"


def test_describe_eif_reports_a_crc_mismatch(built_eif):
    emu, eif_path, _measurements = built_eif
    with open(eif_path, "rb") as handle:
        data = bytearray(handle.read())
    data[548 + 12 + 10] ^= 0xFF  # inside the kernel section
    broken = eif_path + ".broken"
    with open(broken, "wb") as handle:
        handle.write(bytes(data))
    result = emu.cli("describe-eif", "--eif-path", broken)
    assert result.rc == 0
    assert result.json()["CheckCRC"] is False


def test_describe_eif_rejects_other_files(emu):
    garbage = emu.write("/tmp/not.eif", b"this is not an enclave image file" * 40)
    result = emu.cli("describe-eif", "--eif-path", garbage)
    assert result.rc == 35
    assert result.stderr.startswith("[ E35 ] EIF file parsing error.")
    missing = emu.cli("describe-eif", "--eif-path", emu.path("/nowhere.eif"))
    assert missing.rc == 19
    assert "File: '%s', failing operation: 'Open'." % emu.path("/nowhere.eif") in missing.stderr


def test_signed_build(built_eif):
    emu, eif_path, unsigned = built_eif
    key = os.path.join(emu.root, "key.pem")
    cert = os.path.join(emu.root, "cert.pem")
    subprocess.run(["openssl", "ecparam", "-name", "secp384r1", "-genkey", "-noout", "-out", key], check=True)
    subprocess.run(["openssl", "req", "-new", "-x509", "-key", key, "-out", cert, "-days", "30", "-subj",
                    "/C=US/O=Open Contracts/CN=enclave-signer", "-sha384"], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    der = subprocess.run(["openssl", "x509", "-in", cert, "-outform", "DER"], check=True, stdout=subprocess.PIPE).stdout
    signed = emu.build_eif("app:1", eif_path + ".signed", "--signing-certificate", cert, "--private-key", key)
    assert signed["PCR8"] == pcr(der)
    assert {key: signed[key] for key in ("PCR0", "PCR1", "PCR2")} == {key: unsigned[key] for key in ("PCR0", "PCR1", "PCR2")}

    with open(eif_path + ".signed", "rb") as handle:
        data = handle.read()
    _fields, sections = parse_eif(data)
    assert [kind for _pos, kind, _size, _data in sections] == [1, 2, 5, 3, 3, 4]
    signature = sections[-1][3]
    assert signature[0] == 0x81 and signature[1] == 0xA2, "a CBOR array holding one map of two entries"
    assert b"signing_certificate" in signature and b"signature" in signature

    described = emu.cli("describe-eif", "--eif-path", eif_path + ".signed").json()
    assert described["IsSigned"] is True and described["CheckCRC"] is True
    assert described["SignatureCheck"] is True
    assert described["Measurements"]["PCR8"] == signed["PCR8"]
    assert described["SigningCertificate"]["IssuerName"]["CN"] == "enclave-signer"

    half = emu.cli("build-enclave", "--docker-uri", "app:1", "--output-file", eif_path + ".x", "--signing-certificate", cert)
    assert half.rc == 1
    assert half.stderr.startswith("[ E01 ] Missing mandatory argument. User did not provide the `private-key` argument.")


def test_unknown_image_and_stopped_daemon(built_eif):
    emu, eif_path, _measurements = built_eif
    missing = emu.cli("build-enclave", "--docker-uri", "nothere:1", "--output-file", eif_path + ".x")
    assert missing.rc == 50
    assert "[ E50 ] Docker image pull error." in missing.stderr
    emu.stop_dockerd()
    down = emu.cli("build-enclave", "--docker-uri", "app:1", "--output-file", eif_path + ".x")
    assert down.rc == 50
    assert "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" in down.stderr
    assert len(build_log(emu)) == 1


def test_artifacts_and_blobs_paths(built_eif):
    emu, eif_path, _measurements = built_eif
    env = dict(emu.env)
    del env["NITRO_CLI_ARTIFACTS"]
    env.pop("HOME", None)
    result = emu.cli("build-enclave", "--docker-uri", "app:1", "--output-file", eif_path + ".x", env=env)
    assert result.rc == 51
    assert result.stderr.startswith("[ E51 ] Artifacts path environment variable not set.")
    env = dict(emu.env, NITRO_CLI_BLOBS=os.path.join(emu.root, "no-blobs"))
    result = emu.cli("build-enclave", "--docker-uri", "app:1", "--output-file", eif_path + ".x", env=env)
    assert result.rc == 52


def test_build_usage_error(emu):
    result = emu.cli("build-enclave", "--docker-uri", "app:1")
    assert result.rc == 2
    assert "--output-file" in result.stderr


def test_build_padding_adds_a_measured_ramdisk(built_eif):
    emu, eif_path, plain = built_eif
    emu.machine("[enclave]\nports = 8080\ntcp_bind =\n[nitro_cli]\nbuild_padding_mib = 3\n")
    padded = emu.build_eif("app:1", eif_path + ".padded")
    with open(eif_path, "rb") as handle:
        plain_size = len(handle.read())
    with open(eif_path + ".padded", "rb") as handle:
        data = handle.read()
    fields, sections = parse_eif(data)
    assert [kind for _pos, kind, _size, _data in sections] == [1, 2, 5, 3, 3, 3]
    assert fields[6] == 6 and fields[-1] == zlib.crc32(data[:544] + data[548:])
    kernel, cmdline, _metadata, ramdisk0, ramdisk1, padding = [section[3] for section in sections]
    # A newc cpio archive: the header of /padding (size 3 MiB, in hex), its name, its zeros, then the trailer.
    assert padding.startswith(b"070701") and padding[6 + 6 * 8:6 + 7 * 8] == b"%08X" % (3 * 1024 * 1024)
    assert padding[110:118] == b"padding\0"
    content = padding[120:120 + 3 * 1024 * 1024]
    assert len(zlib.compress(content)) > len(content), "like a real image's compressed files: ssh -C cannot shrink it"
    assert b"TRAILER!!!" in padding[120 + 3 * 1024 * 1024:]
    assert len(data) - plain_size >= 3 * 1024 * 1024
    assert padded["PCR0"] == pcr(kernel + cmdline + ramdisk0 + ramdisk1 + padding)
    assert padded["PCR1"] == plain["PCR1"]
    assert padded["PCR2"] == pcr(ramdisk1 + padding) != plain["PCR2"]
    again = emu.build_eif("app:1", eif_path + ".padded-again")
    assert again == padded, "the same padding on every build, so the same PCR0 on every host"
    described = emu.cli("describe-eif", "--eif-path", eif_path + ".padded").json()
    assert described["Measurements"] == padded and described["CheckCRC"] is True
    emu.machine("[nitro_cli]\nbuild_padding_mib = -1\n")
    refused = emu.cli("build-enclave", "--docker-uri", "app:1", "--output-file", eif_path + ".bad")
    assert refused.rc != 0 and "build_padding_mib" in refused.stderr
