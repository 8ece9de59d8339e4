"""The fixture repository's enclave programs (tests/fixtures/enclave-protocol), run by the emulator
(run_image_command) at their enclaves' vsock CIDs: oracles register with the registry through the
parent's proxy port, and the registry quotes the cheapest one to users. A program run with the vsock
library stands in for the hosts' socat (vsock 8001 on the parent -> the registry's port)."""

import json
import os
import re
import socket
import subprocess
import sys
import textwrap
import time

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ansible_collections.opencontracts.enclave.plugins.module_utils import attestation

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "enclave-protocol")
OPN = 10 ** 18

CLIENT = textwrap.dedent("""\
    import asyncio, json, socket, sys, threading, time, warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from websockets.legacy.client import connect

    def vsock_connect(cid, port, attempts=100):
        for _attempt in range(attempts):
            sock = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
            try:
                sock.connect((cid, port))
                return sock
            except OSError:
                sock.close()
                time.sleep(0.1)
        raise SystemExit("nothing listens on vsock %d:%d" % (cid, port))

    def proxy(target_cid):
        # The oracle host's socat: VSOCK-LISTEN:8001,fork -> the registry's port.
        server = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
        server.bind((socket.VMADDR_CID_ANY, 8001))
        server.listen()
        def pipe(source, target):
            while True:
                data = source.recv(65536)
                if not data:
                    try:
                        target.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    return
                target.sendall(data)
        def forward():
            while True:
                conn, _peer = server.accept()
                upstream = vsock_connect(target_cid, 8080)
                threading.Thread(target=pipe, args=(conn, upstream), daemon=True).start()
                threading.Thread(target=pipe, args=(upstream, conn), daemon=True).start()
        threading.Thread(target=forward, daemon=True).start()

    def settings(cid, provider, price, ip):
        # serve_oracle.sh's delivery: one JSON line to the oracle's vsock port 5005, one line back.
        conn = vsock_connect(cid, 5005)
        conn.sendall(json.dumps({"provider": provider, "price": str(price), "ip": ip}).encode() + b"\\n")
        return json.loads(conn.makefile("rb").readline())

    async def ask(cid, request):
        sock = vsock_connect(cid, 8080)
        sock.setblocking(False)
        async with connect("ws://registry/", sock=sock) as connection:
            await connection.send(json.dumps(request))
            return json.loads(await connection.recv())
    """)


def run_client(emu, code):
    proc = subprocess.run([sys.executable, "-c", CLIENT + textwrap.dedent(code)], env=emu.env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr.decode()
    return json.loads(proc.stdout)


def start(emu, kind):
    folder = os.path.join(FIXTURE, "%s_enclave" % kind)
    built = emu.docker("build", "-t", "%s_enclave:latest" % kind, folder)
    assert built.rc == 0, built
    eif_path = os.path.join(emu.root, "%s.eif" % kind)
    emu.build_eif("%s_enclave:latest" % kind, eif_path)
    run = emu.cli("run-enclave", "--eif-path", eif_path, "--memory", 64, "--cpu-count", 2, "--enclave-name", kind)
    assert run.rc == 0, run
    return run.json()["EnclaveCID"]


def wait_gone(emu, name):
    for _attempt in range(100):
        if name not in [enclave["EnclaveName"] for enclave in emu.cli("describe-enclaves").json()]:
            return True
        time.sleep(0.1)
    return False


def test_the_registry_quotes_the_registered_oracle(vsock_emu):
    vsock_emu.start_dockerd()
    vsock_emu.allocate("---\nmemory_mib: 512\ncpu_count: 4\n")
    vsock_emu.machine("[enclave]\nports = 8080\nrun_image_command = true\n")
    registry = start(vsock_emu, "registry")
    oracle = start(vsock_emu, "oracle")
    seen = run_client(vsock_emu, """
        proxy(%(registry)d)
        before = asyncio.run(ask(%(registry)d, {"fname": "get_oracle"}))
        registered = settings(%(oracle)d, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", %(price)d, "10.0.0.5")
        after = asyncio.run(ask(%(registry)d, {"fname": "get_oracle"}))
        print(json.dumps({"before": before, "registered": registered, "after": after}))
        """ % {"registry": registry, "oracle": oracle, "price": 3 * OPN // 4})
    assert seen["before"] == {"fname": "return_oracle", "ip": "N/A"}
    assert seen["registered"] == {"registered": True}
    after = seen["after"]
    assert (after["fname"], after["ip"], int(after["price"]), after["provider"]) == \
        ("return_oracle", "10.0.0.5", 750000000000000000, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")
    assert int(after["registryPrice"]) > 0 and after["registrySignature"]


def test_an_oracle_without_a_registry_says_so_and_shuts_down(vsock_emu):
    vsock_emu.start_dockerd()
    vsock_emu.allocate()
    vsock_emu.machine("[enclave]\nports = 8080\nrun_image_command = true\n")
    oracle = start(vsock_emu, "oracle")
    seen = run_client(vsock_emu, """
        print(json.dumps(settings(%d, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", 1, "10.0.0.5")))
        """ % oracle)
    assert seen["registered"] is False
    assert "cannot register with the registry" in seen["error"] and "8001" in seen["error"]
    assert wait_gone(vsock_emu, "oracle")


def settings_sender():
    """The settings sender serve_oracle.sh runs after run-enclave (its python3 here-document)."""
    with open(os.path.join(FIXTURE, "oracle_enclave", "serve_oracle.sh"), encoding="utf-8") as handle:
        script = handle.read()
    start_mark = "<<'SETTINGS'\n"
    assert start_mark in script
    return script.split(start_mark, 1)[1].split("\nSETTINGS\n", 1)[0]


def send_settings(emu, cid, provider, price, registry="127.0.0.1", proxy_to=None):
    """The sender's answer line; with proxy_to (the registry's CID), the registry's quote as a second line,
    asked while the proxy (and with it the oracle's registration) is still up."""
    code = settings_sender()
    if proxy_to is not None:
        # The oracle host's socat (VSOCK-LISTEN:8001 -> the registry), as a thread of the sender's process.
        code = CLIENT + "proxy(%d)\n" % proxy_to + code + \
            "\nprint(json.dumps(asyncio.run(ask(%d, {'fname': 'get_oracle'}))))\n" % proxy_to
    env = dict(emu.env, PROVIDER=provider, PRICE=str(price), REGISTRY=registry)
    proc = subprocess.run([sys.executable, "-c", code, str(cid)], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=90, check=False)
    assert proc.returncode == 0, proc.stderr.decode()
    return [json.loads(line) for line in proc.stdout.decode().splitlines()]


def test_serve_oracle_sends_the_settings_and_the_registry_quotes_them(vsock_emu):
    vsock_emu.start_dockerd()
    vsock_emu.allocate("---\nmemory_mib: 512\ncpu_count: 4\n")
    vsock_emu.machine("[enclave]\nports = 8080\nrun_image_command = true\n")
    registry = start(vsock_emu, "registry")
    oracle = start(vsock_emu, "oracle")
    answer, quote = send_settings(vsock_emu, oracle, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", 2 * OPN, proxy_to=registry)
    assert answer == {"registered": True}
    # The sender gives the registry this host's address on the route to REGISTRY (loopback here).
    assert (quote["ip"], int(quote["price"])) == ("127.0.0.1", 2000000000000000000)


def test_serve_oracle_reports_the_refused_registration(vsock_emu):
    vsock_emu.start_dockerd()
    vsock_emu.allocate()
    vsock_emu.machine("[enclave]\nports = 8080\nrun_image_command = true\n")
    oracle = start(vsock_emu, "oracle")
    [answer] = send_settings(vsock_emu, oracle, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", OPN)
    assert answer["registered"] is False
    assert "cannot register with the registry" in answer["error"]


def test_the_oracle_program_attests_through_the_emulators_nsm(vsock_emu):
    """With run_image_command the image's program answers get_attestation; its document comes from the
    emulator's NSM stand-in and verifies with the collection's verifier against the EIF's PCR0."""
    vsock_emu.start_dockerd()
    vsock_emu.allocate("---\nmemory_mib: 512\ncpu_count: 4\n")
    vsock_emu.machine("[enclave]\nports = 8080\nrun_image_command = true\n")
    registry = start(vsock_emu, "registry")
    oracle = start(vsock_emu, "oracle")
    pcr0 = [record for record in vsock_emu.cli("describe-enclaves").json()
            if record["EnclaveCID"] == oracle][0]["Measurements"]["PCR0"].lower()
    seen = run_client(vsock_emu, """
        proxy(%(registry)d)
        registered = settings(%(oracle)d, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", 1, "10.0.0.5")
        answer = asyncio.run(ask(%(oracle)d, {"fname": "get_attestation", "nonce": "c0ffee"}))
        print(json.dumps({"registered": registered, "answer": answer}))
        """ % {"registry": registry, "oracle": oracle})
    assert seen["registered"] == {"registered": True}
    answer = seen["answer"]
    assert answer["fname"] == "attestation" and answer["signThis"] == "c0ffee"
    with open(vsock_emu.path("/var/lib/nitro_emulator/attestation/root.pem"), "rb") as handle:
        root = x509.load_pem_x509_certificate(handle.read())
    raw = bytes.fromhex(answer["attestation"])
    attestation.verify(raw, [pcr0], root=root)
    payload = cbor2.loads(cbor2.loads(raw)[2])
    assert payload["nonce"] == bytes.fromhex("c0ffee")
    assert re.match(rb"^0x[0-9a-f]{40}$", payload["public_key"])
    key = serialization.load_der_public_key(bytes.fromhex(payload["user_data"].decode("ascii")))
    assert isinstance(key, rsa.RSAPublicKey)


def test_the_nsm_stand_in_refuses_a_bad_request(vsock_emu):
    vsock_emu.start_dockerd()
    vsock_emu.allocate()
    vsock_emu.machine("[enclave]\nports = 8080\nrun_image_command = true\n")
    oracle = start(vsock_emu, "oracle")
    [record] = [record for record in vsock_emu.enclave_records() if record["EnclaveCID"] == oracle]
    path = vsock_emu.path("/run/nitro_emulator/enclaves/%s.nsm" % record["EnclaveID"])
    for _attempt in range(100):
        if os.path.exists(path):
            break
        time.sleep(0.1)
    answers = []
    for request in (b'{"nonce": "zz"}\n', b'{"pcrs": "00"}\n', b'{"nonce": "00"}\n'):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(10)
            sock.connect(path)
            sock.sendall(request)
            answers.append(json.loads(sock.makefile("rb").readline()))
    assert "bad NSM request" in answers[0]["error"]
    assert "unknown request fields: pcrs" in answers[1]["error"]
    assert cbor2.loads(cbor2.loads(bytes.fromhex(answers[2]["document"]))[2])["module_id"] == record["EnclaveID"]


def test_serve_oracle_serves_on_unregistered_when_the_enclave_takes_no_settings(vsock_emu):
    """The emulator's built-in server (run_image_command off) does not listen on the settings port."""
    vsock_emu.start_dockerd()
    vsock_emu.allocate()
    vsock_emu.machine("[enclave]\nports = 8080\n")
    oracle = start(vsock_emu, "oracle")
    [answer] = send_settings(vsock_emu, oracle, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", OPN)
    assert answer == {"registered": None, "error": "the enclave does not listen on its settings port (vsock 5005)"}
