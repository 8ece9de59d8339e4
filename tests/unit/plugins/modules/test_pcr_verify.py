"""opencontracts.enclave.pcr_verify: EIF files and running enclaves (recorded nitro-cli output)."""

import json

import pytest

import eif_builder as builder
from module_runner import CommandRecorder, run_module
from ansible_collections.opencontracts.enclave.plugins.modules import pcr_verify

# Values named by the provider guide; they are not the PCR0 of any test image.
GUIDE_ORACLE = "ba19b0568898f7eed74c911b29cccd6d026f918fa77953a705f142d06d33f51dfb00bda8f4e90e13755374548b0430e4"
GUIDE_REGISTRY = "87eb8417e993acfa43fc8e46a1ef0fe50cce86e9b8dcaf22b1e623f8f11a272a0352b851a0503327fb55fd6ecf0259d3"
EMPTY_PCR = "21b9efbc184807662e966d34f390821309eeac6802309798826296bf3e8bec7c10edb30948c90ba67310f7b964fc500a"


@pytest.fixture(name="image")
def fixture_image(tmp_path, openssl):  # pylint: disable=unused-argument
    """(path, expected PCRs) of a two-ramdisk EIF."""
    sections = builder.standard_sections(ramdisks=2)
    path = str(tmp_path / "oracle.eif")
    builder.build_eif(path, sections)
    return path, builder.expected_pcrs(sections)


def verify(args, **kwargs):
    return run_module(pcr_verify.main, args, **kwargs)


# --------------------------------------------------------------------------
# EIF files
# --------------------------------------------------------------------------

@pytest.mark.parametrize("check_mode", [False, True])
def test_allowed(image, check_mode):
    path, pcrs = image
    result = verify({"eif_path": path, "allowed_pcr0": [GUIDE_ORACLE, "  " + pcrs["PCR0"].upper() + " "]}, check_mode=check_mode)
    assert result["failed"] is False
    assert result["changed"] is False
    assert result["verified"] is True
    assert result["matched_pcr0"] == pcrs["PCR0"]
    assert result["measurements"] == pcrs
    assert result["crc_ok"] is True and result["only_pcr0_refused"] is False
    assert result["eif_version"] == 4
    assert result["is_signed"] is False
    assert result["size"] > 548
    assert [s["type"] for s in result["sections"]] == ["kernel", "cmdline", "metadata", "ramdisk", "ramdisk"]


@pytest.mark.parametrize("check_mode", [False, True])
def test_not_allowed(image, check_mode):
    path, pcrs = image
    result = verify({"eif_path": path, "allowed_pcr0": [GUIDE_ORACLE, GUIDE_REGISTRY]}, check_mode=check_mode)
    assert result["failed"] is True
    assert result["changed"] is False
    assert result["verified"] is False
    assert result["matched_pcr0"] is None
    for text in (path, pcrs["PCR0"], GUIDE_ORACLE, GUIDE_REGISTRY):
        assert text in result["msg"]
    assert result["measurements"] == pcrs  # reported even on failure
    assert result["only_pcr0_refused"] is True


def test_expected_all_match(image):
    path, pcrs = image
    expected = {"pcr0": pcrs["PCR0"].upper(), "PCR1": pcrs["PCR1"], "Pcr2": pcrs["PCR2"]}
    result = verify({"eif_path": path, "expected": expected})
    assert result["verified"] is True and result["matched_pcr0"] is None


def test_expected_mismatch_names_the_pcr(image):
    path, pcrs = image
    result = verify({"eif_path": path, "allowed_pcr0": [pcrs["PCR0"]], "expected": {"PCR0": pcrs["PCR0"], "PCR2": EMPTY_PCR}})
    assert result["failed"] is True and result["verified"] is False
    assert "PCR2" in result["msg"] and EMPTY_PCR in result["msg"] and pcrs["PCR2"] in result["msg"]
    assert "PCR0" not in result["msg"].split("PCR2")[0]  # PCR0 matched: only PCR2 is reported
    assert result["matched_pcr0"] == pcrs["PCR0"] and result["only_pcr0_refused"] is False


def test_a_refused_pcr0_with_another_fault_is_not_only_pcr0(image):
    path, pcrs = image
    result = verify({"eif_path": path, "allowed_pcr0": [GUIDE_ORACLE], "expected": {"PCR2": EMPTY_PCR}})
    assert result["failed"] is True and result["matched_pcr0"] is None
    assert "PCR0" in result["msg"] and "PCR2" in result["msg"]
    assert result["only_pcr0_refused"] is False


def test_expected_pcr8_of_an_unsigned_image(image):
    path, _pcrs = image
    result = verify({"eif_path": path, "expected": {"PCR8": EMPTY_PCR}})
    assert result["failed"] is True and "not signed" in result["msg"]


def test_signed_image(tmp_path, signing_certificate):
    pem, der = signing_certificate
    sections = builder.standard_sections(2) + [builder.signature_section(pem)]
    path = str(tmp_path / "signed.eif")
    builder.build_eif(path, sections)
    pcrs = builder.expected_pcrs(sections, certificate_der=der)
    result = verify({"eif_path": path, "expected": {"PCR0": pcrs["PCR0"], "PCR8": pcrs["PCR8"]}})
    assert result["verified"] is True and result["is_signed"] is True
    assert result["measurements"]["PCR8"] == pcrs["PCR8"]


@pytest.mark.parametrize("require_crc", [True, False])
def test_wrong_crc(tmp_path, openssl, require_crc):  # pylint: disable=unused-argument
    sections = builder.standard_sections(2)
    path = str(tmp_path / "corrupt.eif")
    builder.build_eif(path, sections, corrupt_crc=True)
    pcrs = builder.expected_pcrs(sections)
    result = verify({"eif_path": path, "allowed_pcr0": [pcrs["PCR0"]], "require_crc": require_crc})
    assert result["crc_ok"] is False
    assert result["measurements"] == pcrs
    # A wrong CRC with a refused PCR0 is two faults, whether the CRC is required or not.
    refused = verify({"eif_path": path, "allowed_pcr0": [GUIDE_ORACLE], "require_crc": require_crc})
    assert refused["failed"] is True and refused["only_pcr0_refused"] is False
    if require_crc:
        assert result["failed"] is True and result["verified"] is False
        assert "CRC" in result["msg"] and path in result["msg"]
    else:
        assert result["failed"] is False and result["verified"] is True


def test_require_crc_defaults_to_true(tmp_path):
    path = str(tmp_path / "corrupt.eif")
    builder.build_eif(path, builder.standard_sections(2), corrupt_crc=True)
    assert verify({"eif_path": path, "allowed_pcr0": [GUIDE_ORACLE]})["msg"].startswith("EIF %s: CRC mismatch" % path)


@pytest.mark.parametrize("bad", ["abc", GUIDE_ORACLE + "00", "z" * 96])
def test_invalid_hex_in_allowed_pcr0(image, bad):
    path, _pcrs = image
    result = verify({"eif_path": path, "allowed_pcr0": [GUIDE_ORACLE, bad]})
    assert result["failed"] is True
    assert "allowed_pcr0[1]" in result["msg"] and "96 hex" in result["msg"]


def test_invalid_expected_key(image):
    result = verify({"eif_path": image[0], "expected": {"PCR3": GUIDE_ORACLE}})
    assert result["failed"] is True and "PCR3" in result["msg"]


def test_invalid_expected_value(image):
    result = verify({"eif_path": image[0], "expected": {"PCR1": "1234"}})
    assert result["failed"] is True and "expected.PCR1" in result["msg"]


def test_nothing_to_verify_against(image):
    result = verify({"eif_path": image[0], "allowed_pcr0": []})
    assert result["failed"] is True and "nothing to verify against" in result["msg"]


def test_allowed_pcr0_or_expected_is_required(image):
    result = verify({"eif_path": image[0]})
    assert result["failed"] is True and "allowed_pcr0" in result["msg"]


def test_exactly_one_source(image):
    result = verify({"eif_path": image[0], "enclave_name": "oracle", "allowed_pcr0": [GUIDE_ORACLE]})
    assert result["failed"] is True and "mutually exclusive" in result["msg"]


def test_missing_file(tmp_path):
    path = str(tmp_path / "missing.eif")
    result = verify({"eif_path": path, "allowed_pcr0": [GUIDE_ORACLE]})
    assert result["failed"] is True and path in result["msg"] and "does not exist" in result["msg"]
    assert "measurements" not in result


def test_directory(tmp_path):
    result = verify({"eif_path": str(tmp_path), "allowed_pcr0": [GUIDE_ORACLE]})
    assert result["failed"] is True and "directory" in result["msg"]


def test_unreadable_file(image, monkeypatch):
    def refuse(*_args, **_kwargs):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(pcr_verify, "measure", refuse)
    result = verify({"eif_path": image[0], "allowed_pcr0": [GUIDE_ORACLE]})
    assert result["failed"] is True and "Permission denied" in result["msg"] and image[0] in result["msg"]


def test_not_an_eif(tmp_path):
    path = str(tmp_path / "os-release")
    with open(path, "w") as handle:  # pylint: disable=unspecified-encoding
        handle.write('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n')
    result = verify({"eif_path": path, "allowed_pcr0": [GUIDE_ORACLE]})
    assert result["failed"] is True and path in result["msg"] and "not an EIF" in result["msg"]
    assert "exception" not in result


def test_truncated_eif(tmp_path):
    path = str(tmp_path / "cut.eif")
    builder.build_eif(path, builder.standard_sections(2), truncate=10)
    result = verify({"eif_path": path, "allowed_pcr0": [GUIDE_ORACLE]})
    assert result["failed"] is True and "section 4 (ramdisk)" in result["msg"] and "10 bytes short" in result["msg"]


# --------------------------------------------------------------------------
# Running enclaves (recorded nitro-cli describe-enclaves output)
# --------------------------------------------------------------------------

def describe_output(flags="NONE", state="RUNNING", pcr0=GUIDE_ORACLE):
    return json.dumps([{
        "EnclaveName": "oracle",
        "EnclaveID": "i-05f6ed443a1b2c3d4-enc18a2e5b46b0c3d4",
        "ProcessID": 4181,
        "EnclaveCID": 16,
        "NumberOfCPUs": 2,
        "CPUIDs": [1, 9],
        "MemoryMiB": 11000,
        "State": state,
        "Flags": flags,
        "Measurements": {
            "HashAlgorithm": "Sha384 { ... }",
            "PCR0": pcr0.upper(),
            "PCR1": "bcdf05fefccaa8e55bf2c8d6dee9e79bbff31e34bf28a99aa19e6b29c37ee80b214a414b7607236edf26fcb78654e63f",
            "PCR2": EMPTY_PCR,
        },
    }], indent=2)


def recorder(stdout, rc=0, stderr=""):
    return CommandRecorder({"describe-enclaves": (rc, stdout, stderr)})


@pytest.mark.parametrize("check_mode", [False, True])
@pytest.mark.parametrize("selector", [{"enclave_name": "oracle"}, {"enclave_id": "i-05f6ed443a1b2c3d4-enc18a2e5b46b0c3d4"}])
def test_running_enclave_allowed(selector, check_mode):
    commands = recorder(describe_output())
    args = dict(selector, allowed_pcr0=[GUIDE_REGISTRY, GUIDE_ORACLE])
    result = verify(args, commands=commands, check_mode=check_mode)
    assert result["failed"] is False and result["changed"] is False and result["verified"] is True
    assert result["matched_pcr0"] == GUIDE_ORACLE
    assert result["measurements"]["PCR0"] == GUIDE_ORACLE and result["measurements"]["PCR2"] == EMPTY_PCR
    assert "HashAlgorithm" not in result["measurements"]
    assert result["enclave"] == {"name": "oracle", "id": "i-05f6ed443a1b2c3d4-enc18a2e5b46b0c3d4", "state": "RUNNING",
                                 "flags": "NONE", "cid": 16, "memory_mib": 11000, "cpu_count": 2}
    for absent in ("crc_ok", "eif_version", "is_signed", "size", "sections"):
        assert absent not in result
    argv, kwargs = commands.calls[0]
    assert argv == ["/usr/bin/nitro-cli", "describe-enclaves"] and kwargs["environ_update"]["LC_ALL"] == "C"


def test_running_enclave_expected_mismatch():
    result = verify({"enclave_name": "oracle", "expected": {"PCR2": GUIDE_ORACLE}}, commands=recorder(describe_output()))
    assert result["failed"] is True and "PCR2" in result["msg"] and "enclave oracle" in result["msg"]


def test_debug_mode_enclave_is_refused():
    result = verify({"enclave_name": "oracle", "allowed_pcr0": [GUIDE_ORACLE]}, commands=recorder(describe_output(flags="DEBUG_MODE")))
    assert result["failed"] is True and result["verified"] is False
    assert "debug mode" in result["msg"] and "oracle" in result["msg"]
    assert result["measurements"]["PCR0"] == GUIDE_ORACLE
    assert result["enclave"]["flags"] == "DEBUG_MODE"


def test_running_enclave_not_allowed():
    result = verify({"enclave_name": "oracle", "allowed_pcr0": [GUIDE_REGISTRY]}, commands=recorder(describe_output()))
    assert result["failed"] is True
    for text in ("oracle", GUIDE_ORACLE, GUIDE_REGISTRY):
        assert text in result["msg"]


def test_enclave_not_running():
    result = verify({"enclave_name": "oracle", "allowed_pcr0": [GUIDE_ORACLE]}, commands=recorder(describe_output(state="TERMINATING")))
    assert result["failed"] is True and "not running" in result["msg"] and "TERMINATING" in result["msg"]


def test_enclave_not_found():
    result = verify({"enclave_name": "registry", "allowed_pcr0": [GUIDE_ORACLE]}, commands=recorder(describe_output()))
    assert result["failed"] is True and "registry" in result["msg"] and "not found" in result["msg"]
    assert "oracle" in result["msg"]  # lists what runs


def test_no_enclaves_at_all():
    result = verify({"enclave_id": "i-0-enc0", "allowed_pcr0": [GUIDE_ORACLE]}, commands=recorder("[]\n"))
    assert result["failed"] is True and "not found" in result["msg"] and "none" in result["msg"]


def test_nitro_cli_not_installed():
    result = verify({"enclave_name": "oracle", "allowed_pcr0": [GUIDE_ORACLE]}, bin_path=None)
    assert result["failed"] is True and "nitro-cli is not installed" in result["msg"]


def test_nitro_cli_error_is_explained():
    stderr = "[ E19 ] File operation failure. Could not open /dev/nitro_enclaves.\n"
    result = verify({"enclave_name": "oracle", "allowed_pcr0": [GUIDE_ORACLE]}, commands=recorder("", rc=19, stderr=stderr))
    assert result["failed"] is True and "E19" in result["msg"] and "group `ne`" in result["msg"]
    assert result["nitro_cli_error"] == "E19" and result["rc"] == 19


def test_a_fifo_is_refused_without_blocking(tmp_path):
    # Opening a FIFO for reading blocks until a writer appears: the alarm turns a hang into a failure.
    import os
    import signal

    path = str(tmp_path / "oracle.eif")
    os.mkfifo(path)

    def hung(*_args):
        raise AssertionError("pcr_verify blocked on a FIFO")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(5)
    try:
        result = verify({"eif_path": path, "allowed_pcr0": [GUIDE_ORACLE]})
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert result["failed"] is True and path in result["msg"] and "not a regular file" in result["msg"]


# --------------------------------------------------------------------------
# A refused PCR0 says more
# --------------------------------------------------------------------------

def test_refused_pcr0_reports_pcr1_and_pcr2(image):
    path, pcrs = image
    result = verify({"eif_path": path, "allowed_pcr0": [GUIDE_ORACLE]})
    assert result["failed"]
    assert "differs" not in result and "build_environment" not in result
    for text in ("PCR1 " + pcrs["PCR1"], "PCR2 " + pcrs["PCR2"]):
        assert text in result["msg"] and text in result["explanation"]


@pytest.mark.parametrize("reference_keys, differs, says", [
    (("pcr1",), ["PCR1"], "Only PCR1 differs: the image was built with other Nitro CLI blobs"),
    (("PCR2",), ["PCR2"], "Only PCR2 differs: the docker image is not the published one"),
    (("PCR1", "PCR2"), ["PCR1", "PCR2"], "Both differ"),
])
def test_refused_pcr0_names_the_part_that_differs(image, reference_keys, differs, says):
    path, pcrs = image
    # The reference is the measured value, except for the PCRs that should differ (another image's, EMPTY_PCR).
    reference = {"PCR1": pcrs["PCR1"], "PCR2": pcrs["PCR2"]}
    for key in reference_keys:
        reference[key.upper()] = EMPTY_PCR
    result = verify({"eif_path": path, "allowed_pcr0": [GUIDE_ORACLE],
                     "reference": dict((key, reference[key.upper()]) for key in ("PCR1", "PCR2"))})
    assert result["failed"] and result["differs"] == differs
    assert says in result["msg"]


def test_reference_that_matches_says_so_and_a_permitted_image_is_not_judged(image):
    path, pcrs = image
    reference = {"PCR1": pcrs["PCR1"], "PCR2": pcrs["PCR2"].upper()}
    result = verify({"eif_path": path, "allowed_pcr0": [GUIDE_ORACLE], "reference": reference})
    assert result["differs"] == [] and "PCR1 %s (the kernel, its command line and init: the Nitro CLI's blobs) equals " \
        "the reference" % pcrs["PCR1"] in result["msg"]
    # A permitted image passes whatever the reference says (it only explains a refusal).
    result = verify({"eif_path": path, "allowed_pcr0": [pcrs["PCR0"]], "reference": {"PCR1": EMPTY_PCR}})
    assert result["verified"] and "differs" not in result


def test_bad_reference_fails_clearly(image):
    path, dummy = image
    result = verify({"eif_path": path, "allowed_pcr0": [GUIDE_ORACLE], "reference": {"PCR0": GUIDE_ORACLE}})
    assert result["failed"] and result["msg"] == "reference has an unknown key 'PCR0': use PCR1, PCR2"
    result = verify({"eif_path": path, "allowed_pcr0": [GUIDE_ORACLE], "reference": {"PCR1": "abc"}})
    assert result["failed"] and result["msg"].startswith("reference.PCR1")


def test_refused_pcr0_reports_the_nitro_cli_version_and_blobs(image, tmp_path):
    path, dummy = image
    blobs = tmp_path / "blobs"
    blobs.mkdir()
    (blobs / "bzImage").write_bytes(b"kernel")
    (blobs / "cmdline").write_bytes(b"reboot=k panic=30")
    commands = CommandRecorder({"": (0, "Nitro CLI 1.2.2\n", "")})  # nitro-cli --version
    result = verify({"eif_path": path, "allowed_pcr0": [GUIDE_ORACLE], "build_environment": True, "blobs_path": str(blobs)},
                    commands=commands)
    # sha256 of b"kernel" and b"reboot=k panic=30", from coreutils' sha256sum.
    kernel = "6923dd1bc0460082c5d55a831908c24a282860b7f1cd6c2b79cf1bc8857c639c"
    assert result["build_environment"]["nitro_cli_version"] == "Nitro CLI 1.2.2"
    assert sorted(result["build_environment"]["blobs"]) == ["bzImage", "cmdline"]
    assert result["build_environment"]["blobs"]["bzImage"] == kernel
    assert "Built with Nitro CLI 1.2.2; blobs in %s: bzImage %s" % (blobs, kernel[:16]) in result["msg"]
    assert commands.calls[0][0][1:] == ["--version"]
