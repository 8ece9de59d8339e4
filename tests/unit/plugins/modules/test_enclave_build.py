"""opencontracts.enclave.enclave_build: builds only when needed, with recorded docker and nitro-cli outputs.

The fake host answers ``docker image inspect`` from a table of images and ``nitro-cli build-enclave`` by
writing an EIF with the test-side builder (tests/unit/plugins/eif_builder.py) and printing the
measurements that openssl computed for it, the way nitro-cli prints them. Failures replay recorded
nitro-cli stderr (``[ Enn ]`` blocks and exit statuses).
"""

import hashlib
import json
import os
import subprocess

import pytest
from ansible.module_utils import basic

import eif_builder as builder
from module_runner import run_module
from ansible_collections.opencontracts.enclave.plugins.modules import enclave_build

GUIDE_ORACLE = "ba19b0568898f7eed74c911b29cccd6d026f918fa77953a705f142d06d33f51dfb00bda8f4e90e13755374548b0430e4"
IMAGE_A = "sha256:" + "a1" * 32
IMAGE_B = "sha256:" + "b2" * 32


def nitro_error(code, text, detail=""):
    """A recorded nitro-cli failure block, as printed on stderr."""
    block = "Start building the Enclave Image...\n[ %s ] %s\n" % (code, text)
    if detail:
        block += detail + "\n"
    block += ("\nFor more details, please visit https://docs.aws.amazon.com/enclaves/latest/user/cli-errors.html#%s\n"
              "\nIf you open a support ticket, please provide the error log found at "
              "\"/var/log/nitro_enclaves/err2024-05-02T10:31:07.581919532+00:00.log\"\n" % code)
    return block


E50 = (50, "", nitro_error("E50", "Docker image pull error. Such error appears when trying to build an EIF file, but pulling the "
                                  "corresponding docker image fails. In this case, the error backtrace provides detailed "
                                  "informatino on the failure reason.",
                           "Docker image oracle_enclave:latest is not in the local image store and cannot be pulled"))
E51 = (51, "", nitro_error("E51", "Artifacts path environment variable not set. Such error appears when trying to build an EIF "
                                  "file, but the artifacts path environment variable is not set."))
E48 = (48, "", nitro_error("E48", "EIF building error. Such error appears when trying to build an EIF file. In this case, the "
                                  "error backtrace provides detailed information on the failure reason.",
                           "Signing failed: the private key is not an EC key"))
E52 = (52, "", nitro_error("E52", "Blobs path environment variable not set. Such error appears when trying to build an EIF file, "
                                  "but the blobs path environment variable is not set."))
E19 = (19, "", nitro_error("E19", "File operation failure. Such error appears when the system fails to perform the requested "
                                  "file operations, such as opening the EIF file when launching an enclave, or seeking to a "
                                  "specific offset in the EIF file, or writing to the log file.\nFile: '/var/lib/x/.oracle.eif"
                                  ".partial', failing operation: 'Open'."))
DAEMON_DOWN = (1, "", "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n")


def option(argv, name):
    return argv[argv.index(name) + 1] if name in argv else None


class FakeHost:
    """docker and nitro-cli of a build host. ``images``: reference -> image ID."""

    def __init__(self, images=None, build_result=None, inspect_result=None, reported=None):
        self.images = dict({"oracle_enclave:latest": IMAGE_A} if images is None else images)
        self.build_result = build_result  # a recorded (rc, stdout, stderr) to replay instead of building
        self.inspect_result = inspect_result
        self.reported = reported  # measurements to print instead of the true ones
        self.calls = []
        self.built = []

    def __call__(self, module, argv, **kwargs):  # pylint: disable=unused-argument
        self.calls.append((list(argv), kwargs))
        if "build-enclave" in argv:
            return self.build(argv, kwargs)
        if argv[1:3] == ["image", "inspect"]:
            if self.inspect_result is not None:
                return self.inspect_result
            reference = argv[3]
            if reference not in self.images:
                return 1, "[]\n", "Error response from daemon: No such image: %s\n" % reference
            return 0, json.dumps([{"Id": self.images[reference], "RepoTags": [reference]}], indent=4), ""
        raise AssertionError("unexpected command %r" % (argv,))

    def build(self, argv, kwargs):
        self.built.append(argv)
        if self.build_result is not None:
            return self.build_result
        uri = option(argv, "--docker-uri")
        if uri not in self.images:
            return E50
        assert kwargs["environ_update"].get("NITRO_CLI_ARTIFACTS"), "build-enclave needs NITRO_CLI_ARTIFACTS (E51)"
        sections = builder.standard_sections(seed=self.images[uri].encode())
        builder.build_eif(option(argv, "--output-file"), sections)
        measurements = self.reported or builder.expected_pcrs(sections)
        # nitro-cli prints hex in either case; PCR1 upper-cased proves the module normalises it.
        reported = {k: v.upper() if k == "PCR1" else v for k, v in measurements.items()}
        printed = {"Measurements": dict({"HashAlgorithm": "Sha384 { ... }"}, **reported)}
        progress = "Start building the Enclave Image...\nUsing the locally available Docker image...\nEnclave Image successfully created.\n"
        return 0, json.dumps(printed, indent=2) + "\n", progress

    def builds(self):
        return len(self.built)


@pytest.fixture(name="work")
def fixture_work(tmp_path, openssl):  # pylint: disable=unused-argument
    return tmp_path


@pytest.fixture(name="warnings")
def fixture_warnings(monkeypatch):
    """The messages the module passed to AnsibleModule.warn."""
    seen = []
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, message: seen.append(message))
    return seen


def expected(image_id):
    return builder.expected_pcrs(builder.standard_sections(seed=image_id.encode()))


def build(work, fake, check_mode=False, **params):
    args = dict(docker_uri="oracle_enclave:latest", output_file=str(work / "oracle.eif"))
    args.update(params)
    args["_ansible_diff"] = True
    return run_module(enclave_build.main, args, check_mode=check_mode, commands=fake, bin_path="/usr/bin/tool")


def test_first_build_writes_eif_and_record(work):
    fake = FakeHost()
    result = build(work, fake, allowed_pcr0=[GUIDE_ORACLE, expected(IMAGE_A)["PCR0"].upper()])
    assert not result["failed"], result["msg"]
    assert result["changed"] and result["built"]
    assert result["measurements"] == expected(IMAGE_A)
    assert result["matched_pcr0"] == expected(IMAGE_A)["PCR0"]
    assert result["image_id"] == IMAGE_A
    assert result["size"] == os.path.getsize(str(work / "oracle.eif"))
    assert result["build_seconds"] >= 0
    assert "does not exist" in result["reasons"][0]
    record = json.loads((work / "oracle.eif.build.json").read_text())
    assert record["image_id"] == IMAGE_A and record["measurements"] == expected(IMAGE_A)
    assert record["docker_uri"] == "oracle_enclave:latest" and record["size"] == result["size"]
    assert result["record"] == record
    assert result["diff"]["before"] == "" and IMAGE_A in result["diff"]["after"]
    # Built into a temporary file, with a time limit and a temporary artifacts folder, both cleaned up.
    argv, kwargs = [call for call in fake.calls if "build-enclave" in call[0]][0]
    assert argv[:3] == ["/usr/bin/tool", "--kill-after=30", "3600"]
    assert argv[3:6] == ["/usr/bin/tool", "build-enclave", "--docker-uri"]
    assert option(argv, "--output-file") == str(work / ".oracle.eif.partial")
    assert kwargs["environ_update"]["LC_ALL"] == "C"
    assert not os.path.exists(kwargs["environ_update"]["NITRO_CLI_ARTIFACTS"])
    assert sorted(os.listdir(str(work))) == ["oracle.eif", "oracle.eif.build.json"]


def test_second_run_builds_nothing(work):
    fake = FakeHost()
    build(work, fake, allowed_pcr0=[expected(IMAGE_A)["PCR0"]])
    before = os.stat(str(work / "oracle.eif")).st_mtime_ns
    result = build(work, fake, allowed_pcr0=[expected(IMAGE_A)["PCR0"]])
    assert not result["failed"] and not result["changed"] and not result["built"]
    assert result["reasons"] == []
    assert result["build_seconds"] == 0
    assert result["measurements"] == expected(IMAGE_A) and result["image_id"] == IMAGE_A
    assert result["record"]["image_id"] == IMAGE_A
    assert "diff" not in result
    assert fake.builds() == 1
    assert os.stat(str(work / "oracle.eif")).st_mtime_ns == before


def test_a_new_image_is_built(work):
    fake = FakeHost()
    build(work, fake)
    fake.images["oracle_enclave:latest"] = IMAGE_B
    result = build(work, fake)
    assert result["built"] and fake.builds() == 2
    assert any("docker image changed" in reason and IMAGE_A in reason and IMAGE_B in reason for reason in result["reasons"])
    assert result["measurements"] == expected(IMAGE_B)
    assert json.loads((work / "oracle.eif.build.json").read_text())["image_id"] == IMAGE_B


def test_an_eif_whose_pcr0_is_not_allowed_is_built_again_and_warned_about(work, warnings):
    fake = FakeHost()
    build(work, fake)
    result = build(work, fake, allowed_pcr0=[GUIDE_ORACLE])
    assert not result["failed"]  # refusing is pcr_verify's job
    assert result["built"] and result["matched_pcr0"] is None
    assert any("not one of allowed_pcr0" in reason for reason in result["reasons"])
    assert any("not one of allowed_pcr0" in warning for warning in warnings)


def test_force_builds_again(work):
    fake = FakeHost()
    build(work, fake)
    result = build(work, fake, force=True)
    assert result["built"] and "force is set" in result["reasons"]
    assert fake.builds() == 2


def test_check_mode_reports_and_builds_nothing(work):
    fake = FakeHost()
    result = build(work, fake, check_mode=True)
    assert result["changed"] and not result["built"]
    assert fake.builds() == 0
    assert not os.path.exists(str(work / "oracle.eif"))
    assert result["measurements"] == {} and result["image_id"] == IMAGE_A
    build(work, fake)
    result = build(work, fake, check_mode=True)
    assert not result["changed"] and fake.builds() == 1
    fake.images["oracle_enclave:latest"] = IMAGE_B
    result = build(work, fake, check_mode=True)
    assert result["changed"] and fake.builds() == 1
    assert result["measurements"] == expected(IMAGE_A)  # what is there now


def test_check_mode_without_docker_warns(work, warnings):
    fake = FakeHost(inspect_result=DAEMON_DOWN)
    result = build(work, fake, check_mode=True)
    assert not result["failed"] and result["changed"]
    assert any("Cannot connect to the Docker daemon" in warning for warning in warnings)


def test_docker_down_fails_with_a_hint(work):
    result = build(work, FakeHost(inspect_result=DAEMON_DOWN))
    assert result["failed"]
    assert "Cannot connect to the Docker daemon" in result["msg"] and "systemctl start docker" in result["msg"]


@pytest.mark.parametrize("damage", ["crc", "content", "record", "no-record"])
def test_a_damaged_eif_or_record_is_built_again(work, damage):
    fake = FakeHost()
    build(work, fake)
    eif = str(work / "oracle.eif")
    if damage == "crc":
        builder.build_eif(eif, builder.standard_sections(seed=IMAGE_A.encode()), corrupt_crc=True)
    elif damage == "content":
        builder.build_eif(eif, builder.standard_sections(seed=b"something else"))
    elif damage == "record":
        (work / "oracle.eif.build.json").write_text("{not json")
    else:
        os.unlink(str(work / "oracle.eif.build.json"))
    result = build(work, fake)
    assert result["built"], result["reasons"]
    words = {"crc": "CRC", "content": "does not measure to its build record", "record": "cannot be read",
             "no-record": "no build record"}[damage]
    assert any(words in reason for reason in result["reasons"]), result["reasons"]
    assert result["measurements"] == expected(IMAGE_A)


def test_a_file_that_is_not_an_eif_is_replaced(work):
    (work / "oracle.eif").write_text("not an enclave image")
    result = build(work, FakeHost())
    assert result["built"] and "not a usable EIF" in result["reasons"][0]


@pytest.mark.parametrize("recorded, code, words", [
    (E50, "E50", "docker load"),
    (E51, "E51", "NITRO_CLI_ARTIFACTS"),
    (E48, "E48", "EC key"),
    (E52, "E52", "aws-nitro-enclaves-cli-devel"),
    (E19, "E19", "output folder"),
])
def test_nitro_cli_errors_keep_the_previous_eif(work, recorded, code, words):
    fake = FakeHost()
    build(work, fake)
    previous = (work / "oracle.eif").read_bytes()
    fake.build_result = recorded
    result = build(work, fake, force=True)
    assert result["failed"] and not result["built"]
    assert result["nitro_cli_error"] == code
    assert code in result["msg"] and words in result["msg"] and words in result["hint"]
    assert result["rc"] == recorded[0] and result["stderr"] == recorded[2]
    assert (work / "oracle.eif").read_bytes() == previous
    assert sorted(os.listdir(str(work))) == ["oracle.eif", "oracle.eif.build.json"]


def test_an_image_that_is_not_there_fails_e50(work):
    result = build(work, FakeHost(images={}))
    assert result["failed"] and result["nitro_cli_error"] == "E50" and "docker load" in result["hint"]
    assert not os.path.exists(str(work / "oracle.eif"))


def test_a_build_over_the_time_limit_is_stopped(work):
    fake = FakeHost(build_result=(124, "", "Start building the Enclave Image...\n"))
    result = build(work, fake, timeout=60)
    assert result["failed"]
    assert "did not finish within 60 seconds" in result["msg"]
    assert fake.built[0][:3] == ["/usr/bin/tool", "--kill-after=30", "60"]
    assert not os.path.exists(str(work / "oracle.eif"))


def test_timeout_zero_runs_without_a_limit(work):
    fake = FakeHost()
    result = build(work, fake, timeout=0)
    assert result["built"]
    assert fake.built[0][1] == "build-enclave"


def test_measurements_that_disagree_with_the_file_fail(work):
    fake = FakeHost(reported={"PCR0": GUIDE_ORACLE, "PCR1": "0" * 96, "PCR2": "1" * 96})
    result = build(work, fake)
    assert result["failed"] and "reported" in result["msg"] and GUIDE_ORACLE in result["msg"]
    assert not os.path.exists(str(work / "oracle.eif"))


def test_signing_options_are_passed_and_recorded(work):
    cert = work / "cert.pem"
    key = work / "key.pem"
    cert.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    key.write_text("-----BEGIN EC PRIVATE KEY-----\nSECRET-KEY-CONTENT\n-----END EC PRIVATE KEY-----\n")
    fake = FakeHost()
    result = build(work, fake, signing_certificate=str(cert), private_key=str(key), image_name="oracle", image_version="1.2")
    assert result["built"]
    argv = fake.built[0]
    assert option(argv, "--signing-certificate") == str(cert) and option(argv, "--private-key") == str(key)
    assert option(argv, "--name") == "oracle" and option(argv, "--version") == "1.2"
    record_text = (work / "oracle.eif.build.json").read_text()
    assert "SECRET-KEY-CONTENT" not in record_text and "SECRET-KEY-CONTENT" not in json.dumps(result)
    assert json.loads(record_text)["signing_certificate_sha256"]
    assert not build(work, fake, signing_certificate=str(cert), private_key=str(key), image_name="oracle",
                     image_version="1.2")["changed"]
    cert.write_text("-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n")
    result = build(work, fake, signing_certificate=str(cert), private_key=str(key), image_name="oracle", image_version="1.2")
    assert result["built"] and any("signing certificate" in reason for reason in result["reasons"])
    result = build(work, fake, signing_certificate=str(cert), private_key=str(key), image_name="oracle", image_version="1.3")
    assert result["built"] and any("image_version" in reason for reason in result["reasons"])


def test_a_changed_docker_folder_is_built_again(work):
    context = work / "context"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM scratch\nCOPY . /app\n")
    (context / "app.py").write_text("print('oracle')\n")
    fake = FakeHost()
    result = build(work, fake, docker_dir=str(context))
    assert result["built"] and option(fake.built[0], "--docker-dir") == str(context)
    assert not build(work, fake, docker_dir=str(context))["changed"]
    (context / "app.py").write_text("print('oracle 2')\n")
    result = build(work, fake, docker_dir=str(context))
    assert result["built"] and any("content of the docker build folder" in reason for reason in result["reasons"])


def test_an_artifacts_folder_is_created_and_kept(work):
    fake = FakeHost()
    artifacts = work / "artifacts"
    result = build(work, fake, artifacts_dir=str(artifacts))
    assert result["built"]
    assert fake.calls[-2][1]["environ_update"]["NITRO_CLI_ARTIFACTS"] == str(artifacts)
    assert artifacts.is_dir()


@pytest.mark.parametrize("params, words", [
    ({"allowed_pcr0": ["abc"]}, "allowed_pcr0[0] must be 96 hex characters"),
    ({"docker_uri": "oracle enclave"}, "docker_uri must be a docker image reference"),
    ({"docker_uri": ""}, "docker_uri must be a docker image reference"),
    ({"timeout": -1}, "timeout must be 0"),
    ({"output_file": "/nonexistent/folder/oracle.eif"}, "does not exist"),
    ({"signing_certificate": "/etc/cert.pem"}, "parameters are required together"),
    ({"signing_certificate": "/nonexistent/cert.pem", "private_key": "/nonexistent/key.pem"}, "is not a file"),
    ({"docker_dir": "/nonexistent/context"}, "docker_dir /nonexistent/context is not a folder"),
])
def test_bad_inputs_fail_cleanly(work, params, words):
    fake = FakeHost()
    result = build(work, fake, **params)
    assert result["failed"] and words in result["msg"], result["msg"]
    assert fake.builds() == 0


def test_output_file_that_is_a_folder(work):
    (work / "oracle.eif").mkdir()
    result = build(work, FakeHost())
    assert result["failed"] and "is a directory" in result["msg"]


def test_missing_inputs_only_warn_in_check_mode(work, warnings):
    result = build(work, FakeHost(), check_mode=True, docker_dir="/nonexistent/context")
    assert not result["failed"] and result["changed"]
    assert any("is not a folder" in warning for warning in warnings)


def packed_parts(folder, part_size=40000):
    """An image tar packed the protocol's way with the real tools: tar -czf - X | split -b N - X.tar.gz."""
    folder.mkdir()
    (folder / "manifest.json").write_text("[]")
    (folder / "layer.bin").write_bytes(os.urandom(150000))
    subprocess.run(["tar", "-cf", "oracle_enclave.tar", "manifest.json", "layer.bin"], cwd=str(folder), check=True)
    subprocess.run("tar -czf - oracle_enclave.tar | split -b %d - oracle_enclave.tar.gz" % part_size, shell=True,
                   cwd=str(folder), check=True)
    parts = sorted(str(folder / name) for name in os.listdir(str(folder)) if name.startswith("oracle_enclave.tar.gz"))
    return parts, hashlib.sha256((folder / "oracle_enclave.tar").read_bytes()).hexdigest()


def test_split_parts_are_loaded_joined_then_built(work, monkeypatch):
    parts, want = packed_parts(work / "tars")
    assert len(parts) >= 2
    fake = FakeHost(images={})
    streamed = []

    def docker_load(docker, chunks, environ=None):  # pylint: disable=unused-argument
        streamed.append(hashlib.sha256(b"".join(chunks)).hexdigest())
        fake.images["oracle_enclave:latest"] = IMAGE_A
        return ["Loaded image: oracle_enclave:latest"]

    monkeypatch.setattr(enclave_build, "docker_load", docker_load)
    archive = {"name": "oracle_enclave.tar", "form": "parts", "files": parts, "problem": None}
    # Check mode: reported, not loaded.
    result = build(work, fake, check_mode=True, image_tars=[archive])
    assert result["changed"] and result["loaded"] == ["(would load oracle_enclave.tar)"] and streamed == []
    result = build(work, fake, image_tars=[archive])
    assert not result["failed"], result["msg"]
    assert streamed == [want]
    assert result["loaded"] == ["Loaded image: oracle_enclave:latest"] and result["built"]
    assert result["measurements"] == expected(IMAGE_A)


def test_tars_that_hold_another_image_are_named(work, monkeypatch):
    parts, dummy = packed_parts(work / "tars")
    fake = FakeHost(images={})
    monkeypatch.setattr(enclave_build, "docker_load",
                        lambda docker, chunks, environ=None: [b"".join(chunks) and "Loaded image: registry_enclave:latest"])
    result = build(work, fake, image_tars=[{"files": parts}])
    assert result["failed"]
    assert result["msg"] == ("the image tars loaded registry_enclave:latest, not oracle_enclave:latest: docker_uri must "
                             "name the image the tars hold")
    assert fake.builds() == 0


def test_an_archive_with_a_problem_or_without_files_is_refused(work):
    fake = FakeHost()
    result = build(work, fake, image_tars=[{"name": "x.tar", "files": ["/x.tar.gzaa"], "problem": "x.tar.gzab is missing"}])
    assert result["failed"] and result["msg"] == "image_tars[0] (x.tar) cannot be loaded: x.tar.gzab is missing"
    result = build(work, fake, image_tars=[{"name": "x.tar"}])
    assert result["failed"] and result["msg"].startswith("image_tars[0] needs files")
    assert fake.builds() == 0
