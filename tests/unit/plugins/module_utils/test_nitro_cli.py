"""The nitro-cli runner: argv, C locale, JSON output and E-codes (recorded outputs)."""

import pytest

from ansible_collections.opencontracts.enclave.plugins.module_utils import nitro_cli

# nitro-cli run-enclave with too little memory for the EIF (exit status 39).
RUN_ENCLAVE_E26_STDERR = """Start allocating memory...
[ E26 ] Insufficient memory requested. User provided `memory` is 1024 MB, but based on the EIF file size, the minimum memory should be 4496 MB

For more details, please visit https://docs.aws.amazon.com/enclaves/latest/user/cli-errors.html#E26

If you open a support ticket, please provide the error log found at "/var/log/nitro_enclaves/err2024-03-12T09:41:07.581919532+00:00.log"
[ E39 ] Enclave process connection failure. Failed to connect to the enclave process.

For more details, please visit https://docs.aws.amazon.com/enclaves/latest/user/cli-errors.html#E39

If you open a support ticket, please provide the error log found at "/var/log/nitro_enclaves/err2024-03-12T09:41:07.582132417+00:00.log"
"""

DESCRIBE_ENCLAVES = """[
  {
    "EnclaveName": "oracle",
    "EnclaveID": "i-05f6ed443a1b2c3d4-enc18a2e5b46b0c3d4",
    "ProcessID": 4181,
    "EnclaveCID": 16,
    "NumberOfCPUs": 2,
    "CPUIDs": [1, 9],
    "MemoryMiB": 11000,
    "State": "RUNNING",
    "Flags": "NONE"
  }
]
"""


class FakeModule:
    """Just what nitro_cli.py uses of an AnsibleModule."""

    def __init__(self, rc=0, stdout="", stderr="", bin_path="/usr/bin/nitro-cli"):
        self.response = (rc, stdout, stderr)
        self.bin_path = bin_path
        self.calls = []

    def get_bin_path(self, arg, required=False, opt_dirs=None):  # pylint: disable=unused-argument
        return self.bin_path

    def run_command(self, args, **kwargs):
        self.calls.append((args, kwargs))
        return self.response


def test_first_error_code_is_the_cause():
    module = FakeModule(rc=39, stderr=RUN_ENCLAVE_E26_STDERR)
    with pytest.raises(nitro_cli.NitroCliError) as caught:
        nitro_cli.run_nitro_cli(module, ["run-enclave", "--eif-path", "/opt/oracle.eif", "--memory", 1024, "--cpu-count", 2])
    error = caught.value
    assert error.code == "E26"
    assert error.codes == ["E26", "E39"]
    assert error.rc == 39
    assert error.detail.startswith("Insufficient memory requested")
    assert "4 times the EIF file size" in error.hint
    assert "E26" in str(error) and "run-enclave" in str(error) and "Hint:" in str(error)
    assert str(error).index("E26") < str(error).index("E39")
    result = error.to_result()
    assert result["nitro_cli_error"] == "E26" and result["rc"] == 39 and result["stderr"] == RUN_ENCLAVE_E26_STDERR


def test_argv_list_and_c_locale():
    module = FakeModule(stdout=DESCRIBE_ENCLAVES)
    nitro_cli.run_nitro_cli(module, ["run-enclave", "--memory", 2048])
    args, kwargs = module.calls[0]
    assert args == ["/usr/bin/nitro-cli", "run-enclave", "--memory", "2048"]
    assert kwargs["environ_update"]["LC_ALL"] == "C" and kwargs["environ_update"]["LANG"] == "C"
    assert kwargs["check_rc"] is False


def test_environment_can_be_extended():
    module = FakeModule(stdout="{}")
    nitro_cli.run_nitro_cli(module, ["build-enclave"], environ_update={"NITRO_CLI_ARTIFACTS": "/var/tmp/a"})
    assert module.calls[0][1]["environ_update"]["NITRO_CLI_ARTIFACTS"] == "/var/tmp/a"


def test_describe_enclaves():
    enclaves = nitro_cli.describe_enclaves(FakeModule(stdout=DESCRIBE_ENCLAVES))
    assert enclaves[0]["EnclaveName"] == "oracle" and enclaves[0]["State"] == "RUNNING"
    assert nitro_cli.describe_enclaves(FakeModule(stdout="[]\n")) == []


def test_not_installed():
    with pytest.raises(nitro_cli.NitroCliNotFoundError) as caught:
        nitro_cli.describe_enclaves(FakeModule(bin_path=None))
    assert "not installed" in str(caught.value) and "aws-nitro-enclaves-cli" in caught.value.hint
    assert isinstance(caught.value, nitro_cli.NitroCliError)


def test_output_that_is_not_json():
    with pytest.raises(nitro_cli.NitroCliError) as caught:
        nitro_cli.describe_enclaves(FakeModule(stdout="Segmentation fault\n"))
    assert "not JSON" in str(caught.value) and "describe-enclaves" in str(caught.value)
    assert "Segmentation fault" in str(caught.value)
    assert caught.value.code is None


def test_empty_output_is_not_json():
    with pytest.raises(nitro_cli.NitroCliError) as caught:
        nitro_cli.run_nitro_cli(FakeModule(stdout=""), ["describe-eif", "--eif-path", "x"])
    assert "not JSON" in str(caught.value) and "(nothing)" in str(caught.value)


def test_progress_lines_before_the_json_are_skipped():
    stdout = "Start allocating memory...\nStarted enclave with enclave-cid: 16, memory: 2048 MiB, cpu-ids: [1, 9]\n" \
             '{"EnclaveName": "oracle", "EnclaveCID": 16}\n'
    assert nitro_cli.run_nitro_cli(FakeModule(stdout=stdout), ["run-enclave"])["EnclaveCID"] == 16


def test_failure_without_error_code():
    module = FakeModule(rc=2, stderr="error: Found argument '--foo' which wasn't expected\n")
    with pytest.raises(nitro_cli.NitroCliError) as caught:
        nitro_cli.run_nitro_cli(module, ["run-enclave", "--foo"])
    assert caught.value.code is None and caught.value.rc == 2
    assert "--foo" in str(caught.value) and "usage error" in str(caught.value)


def test_raw_mode_returns_the_triple():
    module = FakeModule(rc=39, stderr=RUN_ENCLAVE_E26_STDERR)
    assert nitro_cli.run_nitro_cli(module, ["run-enclave"], parse_json=False) == (39, "", RUN_ENCLAVE_E26_STDERR)


@pytest.mark.parametrize("code, words", [
    ("E19", "group `ne`"), ("E22", "cpu_count"), ("E26", "4 times"), ("E27", "memory_mib"),
    ("E44", "debug-mode"), ("E51", "NITRO_CLI_ARTIFACTS"),
])
def test_hints(code, words):
    assert words in nitro_cli.hint_for(code)


def test_parse_error_lines():
    assert nitro_cli.parse_error_lines(RUN_ENCLAVE_E26_STDERR)[0][0] == "E26"
    assert nitro_cli.parse_error_lines("no errors here") == []
    assert nitro_cli.parse_error_lines(None) == []
