"""The emulator's vsock library: AF_VSOCK sockets of host and enclave programs over the emulator's endpoints.

Each test runs a small Python program with the library preloaded (as /etc/ld.so.preload does on an
emulated host) and looks at what that program sees: addresses, errors, the bytes it receives.
"""

import errno
import json
import os
import subprocess
import sys
import textwrap
import time

PREAMBLE = textwrap.dedent("""\
    import errno, json, os, socket, sys, threading
    def vsock():
        return socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
    def error(call, *args):
        try:
            call(*args)
        except OSError as exc:
            return errno.errorcode[exc.errno]
        return None
    """)


def program(emu, code, env=None):
    """Run code (after PREAMBLE) under the emulated host's environment; return what it prints as JSON."""
    environment = dict(emu.env)
    environment.update(env or {})
    proc = subprocess.run([sys.executable, "-c", PREAMBLE + textwrap.dedent(code)], env=environment,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30, check=False)
    assert proc.returncode == 0, proc.stderr.decode()
    return json.loads(proc.stdout)


def test_a_host_program_reaches_the_enclave_port_over_vsock(vsock_emu, shared_eif):
    vsock_emu.machine("[enclave]\nports = 8080\n")  # tcp_bind left at its default
    vsock_emu.allocate()
    run = vsock_emu.cli("run-enclave", "--eif-path", shared_eif[0], "--memory", 64, "--cpu-count", 2)
    assert run.rc == 0, run
    out = run.json()
    seen = program(vsock_emu, """
        conn = vsock()
        conn.settimeout(5)
        conn.connect((%d, 8080))
        conn.sendall(b"hello\\n")
        line = conn.makefile("rb").readline()
        print(json.dumps({"reply": json.loads(line), "peer": list(conn.getpeername()), "local_cid": conn.getsockname()[0]}))
        """ % out["EnclaveCID"])
    assert seen["reply"] == {"enclave_name": "app", "enclave_id": out["EnclaveID"], "cid": out["EnclaveCID"], "port": 8080}
    assert seen["peer"] == [out["EnclaveCID"], 8080]
    assert seen["local_cid"] == 3
    # Like real hardware by default: nothing of the enclave is on host TCP.
    described = vsock_emu.cli("describe-enclaves")
    assert described.rc == 0
    record = [r for r in vsock_emu.enclave_records() if r["EnclaveID"] == out["EnclaveID"]][0]
    assert record["tcp_bind"] == "" and record["tcp_ports"] == []


def test_listen_accept_and_addresses_are_vsock(vsock_emu):
    seen = program(vsock_emu, """
        server = vsock()
        server.bind((socket.VMADDR_CID_ANY, 5005))
        server.listen()
        accepted = {}
        def serve():
            conn, peer = server.accept()
            accepted.update(peer=list(peer), local=list(conn.getsockname()))
            conn.sendall(b"pong")
            conn.close()
        thread = threading.Thread(target=serve)
        thread.start()
        client = vsock()
        client.settimeout(5)
        client.connect((3, 5005))
        data = client.recv(10)
        thread.join(5)
        print(json.dumps({"listener": list(server.getsockname()), "client_local": list(client.getsockname()),
                          "client_peer": list(client.getpeername()), "data": data.decode(), **accepted}))
        """)
    assert os.path.exists(vsock_emu.path("/run/nitro_emulator/vsock/3/5005.sock"))
    assert seen["listener"] == [3, 5005]
    assert seen["data"] == "pong"
    assert seen["client_peer"] == [3, 5005]
    assert seen["local"] == [3, 5005]
    # The accepting side sees the connecting socket's own address: the parent's CID and an ephemeral port.
    assert seen["peer"] == seen["client_local"]
    assert seen["peer"][0] == 3 and 1024 <= seen["peer"][1] < 65536


def test_an_enclave_program_binds_at_its_own_cid(vsock_emu):
    seen = program(vsock_emu, """
        mine = vsock()
        mine.bind((socket.VMADDR_CID_ANY, 7000))
        mine.listen()
        parent = vsock()
        print(json.dumps({"local": list(mine.getsockname()), "parent": error(parent.bind, (3, 7001))}))
        """, env={"NITRO_EMULATOR_VSOCK_CID": "17"})
    assert seen == {"local": [17, 7000], "parent": "EADDRNOTAVAIL"}
    assert os.path.exists(vsock_emu.path("/run/nitro_emulator/vsock/17/7000.sock"))
    assert not os.path.exists(vsock_emu.path("/run/nitro_emulator/vsock/3"))


def test_a_port_in_use_is_refused_and_a_dead_listener_is_replaced(vsock_emu):
    seen = program(vsock_emu, """
        first = vsock()
        first.bind((socket.VMADDR_CID_ANY, 6000))
        first.listen()
        second = vsock()
        print(json.dumps({"in_use": error(second.bind, (socket.VMADDR_CID_ANY, 6000))}))
        """)
    assert seen == {"in_use": "EADDRINUSE"}
    # The first program exited without removing its endpoint: a new listener takes the port.
    assert os.path.exists(vsock_emu.path("/run/nitro_emulator/vsock/3/6000.sock"))
    seen = program(vsock_emu, """
        again = vsock()
        again.bind((socket.VMADDR_CID_ANY, 6000))
        again.listen()
        print(json.dumps({"local": list(again.getsockname())}))
        """)
    assert seen == {"local": [3, 6000]}


def test_nobody_listening_is_a_reset_connection(vsock_emu):
    seen = program(vsock_emu, """
        print(json.dumps({"nobody": error(vsock().connect, (16, 8080))}))
        """)
    assert seen == {"nobody": errno.errorcode[errno.ECONNRESET]}


def test_other_sockets_are_left_alone(vsock_emu):
    seen = program(vsock_emu, """
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.bind(("127.0.0.1", 0))
        tcp.listen()
        client = socket.create_connection(tcp.getsockname(), timeout=5)
        conn, peer = tcp.accept()
        pair = socket.socketpair()
        pair[0].sendall(b"x")
        print(json.dumps({"family": conn.family.name, "peer": peer[0], "local": client.getsockname()[0],
                          "pair": pair[1].recv(1).decode()}))
        """)
    assert seen == {"family": "AF_INET", "peer": "127.0.0.1", "local": "127.0.0.1", "pair": "x"}


SERVER = '''import json, os, socket, sys
print("program started with", sys.argv[1:], flush=True)
server = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
server.bind((socket.VMADDR_CID_ANY, 8080))
server.listen()
conn, peer = server.accept()
conn.sendall(json.dumps({"local": list(conn.getsockname()), "peer_cid": peer[0], "greeting": os.environ.get("GREETING"),
                         "pcr0": os.environ.get("NITRO_EMULATOR_PCR0"), "args": sys.argv[1:],
                         "data": open(os.path.join(os.path.dirname(__file__), "data.txt")).read()}).encode() + b"\\n")
conn.close()
print("served one connection: exiting", flush=True)
'''


def test_the_image_command_runs_when_configured(vsock_emu):
    vsock_emu.start_dockerd()
    vsock_emu.allocate()
    vsock_emu.build_image("srv:1", {"srv.py": SERVER, "data.txt": "from the image"},
                          dockerfile='FROM scratch\nCOPY . /app\nENV GREETING=hello\nCMD ["python3", "/app/srv.py", "one"]\n')
    eif_path = os.path.join(vsock_emu.root, "srv.eif")
    measurements = vsock_emu.build_eif("srv:1", eif_path)
    vsock_emu.machine("[enclave]\nports = 8080\nrun_image_command = true\n")
    run = vsock_emu.cli("run-enclave", "--eif-path", eif_path, "--memory", 64, "--cpu-count", 2, "--debug-mode")
    assert run.rc == 0, run
    cid = run.json()["EnclaveCID"]
    console_path = "/run/nitro_emulator/enclaves/%s.console" % run.json()["EnclaveID"]
    for _attempt in range(50):
        if "program started with ['one']" in vsock_emu.read(console_path):
            break
        time.sleep(0.1)
    # Its output is the enclave's console.
    assert "program started with ['one']" in vsock_emu.read(console_path)
    seen = program(vsock_emu, """
        conn = vsock()
        conn.settimeout(5)
        for attempt in range(50):
            if error(conn.connect, (%d, 8080)) is None:
                break
            conn = vsock()
            conn.settimeout(5)
            import time; time.sleep(0.1)
        print(conn.makefile("rb").readline().decode())
        """ % cid)
    assert seen == {"local": [cid, 8080], "peer_cid": 3, "greeting": "hello", "pcr0": measurements["PCR0"],
                    "args": ["one"], "data": "from the image"}
    # The program exited after one connection: the enclave powered down.
    for _attempt in range(50):
        if not vsock_emu.cli("describe-enclaves").json():
            break
        time.sleep(0.1)
    assert vsock_emu.cli("describe-enclaves").json() == []
    assert not os.path.exists(vsock_emu.path("/run/nitro_emulator/enclaves/%s.rootfs" % run.json()["EnclaveID"]))


def test_without_the_setting_the_builtin_server_answers(vsock_emu):
    vsock_emu.start_dockerd()
    vsock_emu.allocate()
    vsock_emu.build_image("srv:1", {"srv.py": SERVER, "data.txt": "x"},
                          dockerfile='FROM scratch\nCOPY . /app\nCMD ["python3", "/app/srv.py"]\n')
    eif_path = os.path.join(vsock_emu.root, "srv.eif")
    vsock_emu.build_eif("srv:1", eif_path)
    run = vsock_emu.cli("run-enclave", "--eif-path", eif_path, "--memory", 64, "--cpu-count", 2)
    assert run.rc == 0, run
    seen = program(vsock_emu, """
        conn = vsock()
        conn.settimeout(5)
        conn.connect((%d, 8080))
        conn.sendall(b"hello\\n")
        print(conn.makefile("rb").readline().decode())
        """ % run.json()["EnclaveCID"])
    assert seen["enclave_id"] == run.json()["EnclaveID"] and seen["port"] == 8080
