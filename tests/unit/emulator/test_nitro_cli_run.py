"""nitro-cli run-enclave, describe-enclaves, console and terminate-enclave against emulated enclaves."""

import json
import os
import re
import signal
import socket
import time

ENCLAVE_ID = re.compile(r"^i-0e5a1c0de0e5a1c0d-enc[0-9a-f]{16}$")
RUN_KEYS = ["EnclaveName", "EnclaveID", "ProcessID", "EnclaveCID", "NumberOfCPUs", "CPUIDs", "MemoryMiB"]
E39_TRAILER = ("Failed connections: 1\n[ E39 ] Enclave process connection failure. Such error appears when the enclave manager "
               "fails to connect to at least one enclave process for retrieving the description information.\n\n"
               "For more details, please visit https://docs.aws.amazon.com/enclaves/latest/user/cli-errors.html#E39\n")


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def run(emu, eif_path, *extra, memory=64, cpus=2):
    return emu.cli("run-enclave", "--eif-path", eif_path, "--memory", memory, "--cpu-count", cpus, *extra)


def assert_run_failure(result, code):
    """The cause first, then the E39 block, exit status 39."""
    assert result.rc == 39, result
    assert result.stderr.startswith("Start allocating memory...\n[ E%02d ] " % code), result.stderr
    assert "\n\nFor more details, please visit https://docs.aws.amazon.com/enclaves/latest/user/cli-errors.html#E%02d\n" % code in result.stderr
    assert E39_TRAILER in result.stderr
    assert re.search(r'provide the error log found at "/var/log/nitro_enclaves/err[0-9T:.+-]+\.log"\n$', result.stderr)


def test_run_describe_terminate(app_eif):
    emu, eif_path, measurements = app_eif
    result = run(emu, eif_path)
    assert result.rc == 0, result
    out = result.json()
    assert list(out) == RUN_KEYS
    assert out["EnclaveName"] == "app"
    assert ENCLAVE_ID.match(out["EnclaveID"])
    assert (out["EnclaveCID"], out["NumberOfCPUs"], out["CPUIDs"], out["MemoryMiB"]) == (16, 2, [1, 9], 64)
    assert result.stderr == "Start allocating memory...\nStarted enclave with enclave-cid: 16, memory: 64 MiB, cpu-ids: [1, 9]\n"
    assert alive(out["ProcessID"]), "the enclave outlives the nitro-cli command that started it"

    described = emu.cli("describe-enclaves")
    assert described.rc == 0
    enclaves = described.json()
    assert len(enclaves) == 1
    assert list(enclaves[0]) == RUN_KEYS + ["State", "Flags", "Measurements"]
    assert {key: enclaves[0][key] for key in RUN_KEYS} == out
    assert enclaves[0]["State"] == "RUNNING" and enclaves[0]["Flags"] == "NONE"
    assert enclaves[0]["Measurements"] == measurements

    terminated = emu.cli("terminate-enclave", "--enclave-id", out["EnclaveID"])
    assert terminated.rc == 0
    assert terminated.json() == {"EnclaveName": "app", "EnclaveID": out["EnclaveID"], "Terminated": True}
    assert terminated.stderr == "Successfully terminated enclave %s.\n" % out["EnclaveID"]
    assert not alive(out["ProcessID"])
    assert emu.cli("describe-enclaves").stdout == "[]\n"


def test_two_enclaves_share_the_pool(app_eif):
    emu, eif_path, _measurements = app_eif
    emu.allocate("---\nmemory_mib: 512\ncpu_count: 4\n")
    first = run(emu, eif_path, "--enclave-name", "one").json()
    second = run(emu, eif_path, "--enclave-name", "two", "--debug-mode").json()
    assert (first["EnclaveCID"], first["CPUIDs"]) == (16, [1, 9])
    assert (second["EnclaveCID"], second["CPUIDs"]) == (17, [2, 10])
    described = emu.cli("describe-enclaves").json()
    assert [(item["EnclaveName"], item["Flags"]) for item in described] == [("one", "NONE"), ("two", "DEBUG_MODE")]

    by_name = emu.cli("terminate-enclave", "--enclave-name", "two")
    assert by_name.rc == 0 and by_name.json()["EnclaveID"] == second["EnclaveID"]
    everything = emu.cli("terminate-enclave", "--all")
    assert everything.rc == 0
    assert everything.json() == [{"EnclaveName": "one", "EnclaveID": first["EnclaveID"], "Terminated": True}]
    assert emu.cli("terminate-enclave", "--all").stdout == "[]\n"


def test_run_from_a_config_file(app_eif):
    emu, eif_path, _measurements = app_eif
    config = emu.write("/tmp/run.json", json.dumps({"eif_path": eif_path, "memory_mib": 128, "cpu_ids": [1, 9],
                                                    "enclave_cid": 21, "enclave_name": "configured", "debug_mode": False}))
    result = emu.cli("run-enclave", "--config", config)
    assert result.rc == 0, result
    out = result.json()
    assert (out["EnclaveName"], out["EnclaveCID"], out["CPUIDs"], out["MemoryMiB"]) == ("configured", 21, [1, 9], 128)


def test_enclave_serves_its_port(app_eif, free_tcp_port):
    emu, eif_path, _measurements = app_eif
    port = free_tcp_port
    emu.machine("[enclave]\nports = %d\ntcp_bind = 127.0.0.1\n" % port)
    out = run(emu, eif_path).json()
    expected = {"enclave_name": "app", "enclave_id": out["EnclaveID"], "cid": 16, "port": port}

    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        response = b""
        while True:
            chunk = conn.recv(4096)
            if not chunk:
                break
            response += chunk
    head, body = response.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert json.loads(body) == expected

    vsock = emu.path("/run/nitro_emulator/vsock/16/%d.sock" % port)
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.settimeout(5)
    cwd = os.getcwd()
    try:
        os.chdir(os.path.dirname(vsock))  # unix socket addresses are limited to 108 bytes
        client.connect(os.path.basename(vsock))
    finally:
        os.chdir(cwd)
    client.sendall(b"hello\n")
    line = client.makefile("rb").readline()
    client.close()
    assert json.loads(line) == expected

    emu.cli("terminate-enclave", "--all")
    refused = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        assert refused.connect_ex(("127.0.0.1", port)) != 0
    finally:
        refused.close()


def test_debug_console(app_eif):
    emu, eif_path, _measurements = app_eif
    plain = run(emu, eif_path, "--enclave-name", "plain").json()
    refused = emu.cli("console", "--enclave-id", plain["EnclaveID"])
    assert refused.rc == 44
    assert refused.stderr.startswith("[ E44 ] Enclave console connection failure.")
    emu.cli("terminate-enclave", "--all")

    debug = run(emu, eif_path, "--debug-mode").json()
    started = time.monotonic()
    console = emu.cli("console", "--enclave-id", debug["EnclaveID"], "--disconnect-timeout", 1)
    assert console.rc == 0
    assert time.monotonic() - started < 10
    assert "Linux version" in console.stdout and "vsock CID 16" in console.stdout


def test_memory_below_four_times_the_eif(docker_emu):
    emu = docker_emu
    emu.allocate()
    emu.build_image("big:1", {"blob.bin": bytes(range(256)) * 4096})  # 1 MiB
    eif_path = os.path.join(emu.root, "big.eif")
    emu.build_eif("big:1", eif_path)
    size = os.path.getsize(eif_path)
    minimum = -(-4 * size // (1 << 20))
    assert minimum >= 5
    result = run(emu, eif_path, memory=minimum - 1)
    assert_run_failure(result, 26)
    assert ("[ E26 ] Insufficient memory requested. User provided `memory` is %d MB, but based on the EIF file size, "
            "the minimum memory should be %d MB\n" % (minimum - 1, minimum)) in result.stderr
    assert run(emu, eif_path, memory=minimum).rc == 0


def test_zero_memory(app_eif):
    emu, eif_path, _measurements = app_eif
    result = run(emu, eif_path, memory=0)
    assert_run_failure(result, 26)


def test_memory_above_the_reservation(app_eif):
    emu, eif_path, _measurements = app_eif
    result = run(emu, eif_path, memory=1024)
    assert_run_failure(result, 27)
    assert ("[ E27 ] Insufficient memory available. User provided `memory` is 1024 MB, which is more than the available "
            "hugepage memory.\nYou can increase the available memory by editing the `memory_mib` value from "
            "'/etc/nitro_enclaves/allocator.yaml' and then enable the nitro-enclaves-allocator.service.\n") in result.stderr
    assert run(emu, eif_path, memory=448).rc == 0
    assert_run_failure(run(emu, eif_path, memory=128), 27)


def test_cpu_errors(app_eif):
    emu, eif_path, _measurements = app_eif
    too_many = run(emu, eif_path, cpus=4)
    assert_run_failure(too_many, 22)
    assert ("[ E22 ] Insufficient CPUs available in the pool. User provided `cpu-count` is 4, which is more than the configured "
            "CPU pool size.\n") in too_many.stderr
    odd = run(emu, eif_path, cpus=1)
    assert_run_failure(odd, 29)
    assert "[ E29 ] Ioctl failure." in odd.stderr
    assert run(emu, eif_path).rc == 0
    assert_run_failure(run(emu, eif_path), 22)
    assert emu.cli("describe-enclaves").json()[0]["CPUIDs"] == [1, 9]


def test_no_reservation_no_device(app_eif):
    emu, eif_path, _measurements = app_eif
    os.unlink(emu.path("/run/nitro_emulator/allocator.json"))
    result = run(emu, eif_path)
    assert result.rc == 19
    assert result.stderr.startswith("[ E19 ] File operation failure.")
    assert "\nFile: '/dev/nitro_enclaves', failing operation: 'Open'.\n" in result.stderr
    assert "E39" not in result.stderr


def test_instance_without_enclave_support(app_eif):
    emu, eif_path, _measurements = app_eif
    emu.machine("[machine]\ndriver = false\n")
    assert run(emu, eif_path).rc == 19


def test_missing_eif(app_eif):
    emu, _eif_path, _measurements = app_eif
    missing = emu.path("/missing.eif")
    result = run(emu, missing)
    assert result.rc == 19
    assert "File: '%s', failing operation: 'Open'." % missing in result.stderr


def test_invalid_eif(app_eif):
    emu, _eif_path, _measurements = app_eif
    garbage = emu.write("/tmp/garbage.eif", b"not an eif\n" * 100)
    result = run(emu, garbage)
    assert_run_failure(result, 35)
    assert emu.cli("describe-enclaves").stdout == "[]\n"


def test_name_in_use_gets_a_suffix(app_eif):
    """nitro-cli never refuses a name in use: it appends _1, _2, ... (new_enclave_name in its lib.rs)."""
    emu, eif_path, _measurements = app_eif
    emu.allocate("---\nmemory_mib: 512\ncpu_count: 6\n")
    names = [run(emu, eif_path, memory=64, cpus=2).json()["EnclaveName"] for dummy in range(3)]
    assert names == ["app", "app_1", "app_2"]
    unknown = emu.cli("terminate-enclave", "--enclave-name", "nobody")
    assert unknown.rc == 58


def test_default_name_is_the_eif_file_name(app_eif):
    """Without --enclave-name the name is the EIF's file name without its .eif, whatever its metadata says."""
    emu, eif_path, _measurements = app_eif
    emu.allocate("---\nmemory_mib: 512\ncpu_count: 4\n")
    with open(eif_path, "rb") as handle:
        copy = emu.write("/tmp/oracle_enclave.eif", handle.read())
    first = run(emu, copy)
    assert first.rc == 0, first
    assert first.json()["EnclaveName"] == "oracle_enclave"
    named = run(emu, eif_path, "--enclave-name", "oracle")
    assert named.rc == 0, named
    assert named.json()["EnclaveName"] == "oracle"


def test_unknown_enclave_id(app_eif):
    emu, _eif_path, _measurements = app_eif
    result = emu.cli("terminate-enclave", "--enclave-id", "i-0e5a1c0de0e5a1c0d-enc0000000000000000")
    assert result.rc == 11
    assert result.stderr.startswith("[ E11 ] Socket error.")


def test_boot_failure(app_eif):
    emu, eif_path, _measurements = app_eif
    emu.machine("[enclave]\ntcp_bind =\nboot_failure = true\n")
    result = run(emu, eif_path)
    assert_run_failure(result, 36)
    assert emu.cli("describe-enclaves").stdout == "[]\n"
    assert not os.listdir(emu.path("/run/nitro_emulator/enclaves"))


def test_at_most_four_enclaves(app_eif):
    emu, eif_path, _measurements = app_eif
    emu.allocate("---\nmemory_mib: 40\ncpu_count: 10\n")
    for index in range(4):
        assert run(emu, eif_path, "--enclave-name", "e%d" % index, memory=8).rc == 0
    result = run(emu, eif_path, "--enclave-name", "e4", memory=8)
    assert_run_failure(result, 28)
    assert [item["EnclaveCID"] for item in emu.cli("describe-enclaves").json()] == [16, 17, 18, 19]


def test_dead_enclave_disappears(app_eif):
    emu, eif_path, _measurements = app_eif
    out = run(emu, eif_path).json()
    os.kill(out["ProcessID"], signal.SIGKILL)
    deadline = time.monotonic() + 5
    while alive(out["ProcessID"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert emu.cli("describe-enclaves").stdout == "[]\n"
    assert emu.enclave_records() == []
    assert run(emu, eif_path).rc == 0, "its CPUs and memory are free again"


def test_usage_errors(app_eif):
    emu, eif_path, _measurements = app_eif
    assert emu.cli().rc == 2
    assert emu.cli("launch-enclave").rc == 2
    no_memory = emu.cli("run-enclave", "--eif-path", eif_path, "--cpu-count", 2)
    assert no_memory.rc == 2 and "--memory" in no_memory.stderr
    both = emu.cli("run-enclave", "--eif-path", eif_path, "--memory", 64, "--cpu-count", 2, "--cpu-ids", 1, 9)
    assert both.rc == 2
    assert emu.cli("terminate-enclave").rc == 2
    console = emu.cli("run-enclave", "--eif-path", eif_path, "--memory", 64, "--cpu-count", 2, "--attach-console")
    assert console.rc == 2


def test_invalid_arguments(app_eif):
    emu, eif_path, _measurements = app_eif
    not_a_number = run(emu, eif_path, memory="lots")
    assert not_a_number.rc == 3
    assert not_a_number.stderr.startswith("[ E03 ] Invalid argument provided. The parameter `memory` is not a valid integer (`lots`)")
    for cid in (1, 2, 3):
        assert run(emu, eif_path, "--enclave-cid", cid).rc == 3
    assert emu.cli("describe-enclaves").stdout == "[]\n"
