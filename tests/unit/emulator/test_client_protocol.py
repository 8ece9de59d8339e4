"""The oracle's client protocol on an emulated enclave's port: get_attestation over WebSocket, busy.

The enclave runs as on an emulated host (nitro-cli run-enclave in a subprocess, host TCP on a free
port). Its documents are read with cbor2 and verified with the collection's verifier
(module_utils/attestation.py), which shares no code with the emulator; the expected PCRs are
what nitro-cli build-enclave measured.
"""

import json
import re
import socket
import time

import cbor2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from websockets.sync.client import connect

from ansible_collections.opencontracts.enclave.plugins.module_utils import attestation

ROOT_PEM = "/var/lib/nitro_emulator/attestation/root.pem"
GET_ATTESTATION = json.dumps({"fname": "get_attestation"})


@pytest.fixture(name="oracle")
def fixture_oracle(app_eif, free_tcp_port):
    """Start an enclave from app.eif serving host TCP; yields a function (debug=False) -> (url, run result)."""
    emu, eif_path, measurements = app_eif
    emu.machine("[enclave]\nports = %d\ntcp_bind = 127.0.0.1\n" % free_tcp_port)

    def start(*extra):
        result = emu.cli("run-enclave", "--eif-path", eif_path, "--memory", 64, "--cpu-count", 2, *extra)
        assert result.rc == 0, result.stderr
        return "ws://127.0.0.1:%d" % free_tcp_port, result.json()

    start.emu = emu
    start.measurements = measurements
    return start


def ask(url, message=GET_ATTESTATION):
    with connect(url, open_timeout=10) as websocket:
        websocket.send(message)
        return json.loads(websocket.recv(timeout=10))


def ask_when_free(url, seconds=10.0):
    """Ask again once the previous session is released: the enclave notices a closed connection a moment
    after the client closed it, and answers busy until then."""
    deadline = time.monotonic() + seconds
    answer = ask(url)
    while answer["fname"] == "busy" and time.monotonic() < deadline:
        time.sleep(0.2)
        answer = ask(url)
    return answer


def payload_of(answer):
    message = cbor2.loads(bytes.fromhex(answer["attestation"]))
    assert isinstance(message, list) and len(message) == 4  # untagged COSE_Sign1, like the NSM's
    return cbor2.loads(message[2])


def root_of(emu):
    with open(emu.path(ROOT_PEM), "rb") as handle:
        return x509.load_pem_x509_certificate(handle.read())


def test_attestation_of_the_running_image(oracle):
    url, run = oracle()
    answer = ask(url)
    assert answer["fname"] == "attestation" and re.match(r"^[0-9a-f]{64}$", answer["signThis"])
    payload = payload_of(answer)
    assert sorted(payload["pcrs"]) == list(range(16))
    for index in (0, 1, 2):
        assert payload["pcrs"][index].hex() == oracle.measurements["PCR%d" % index].lower()
    assert payload["pcrs"][3] == bytes(48)
    assert payload["module_id"] == run["EnclaveID"]
    # As the protocol's client expects: an Ethereum address as text, and the hex text of an RSA SPKI.
    assert re.match(rb"^0x[0-9a-f]{40}$", payload["public_key"])
    key = serialization.load_der_public_key(bytes.fromhex(payload["user_data"].decode("ascii")))
    assert isinstance(key, rsa.RSAPublicKey) and key.key_size == 2048
    # The same keys for every document of this enclave.
    second = payload_of(ask_when_free(url))
    assert (second["public_key"], second["user_data"]) == (payload["public_key"], payload["user_data"])

    # The root was made when the enclave booted; the document verifies under it, and only under it.
    facts = attestation.verify(bytes.fromhex(answer["attestation"]), [oracle.measurements["PCR0"].lower()],
                               root=root_of(oracle.emu))
    assert facts["module_id"] == run["EnclaveID"]
    with pytest.raises(attestation.AttestationCheckError) as failure:
        attestation.verify(bytes.fromhex(answer["attestation"]), [oracle.measurements["PCR0"].lower()])
    assert failure.value.check == "chain"


def test_debug_mode_attests_all_zeros(oracle):
    url, _run = oracle("--debug-mode")
    raw = bytes.fromhex(ask(url)["attestation"])
    assert all(value == bytes(48) for value in payload_of({"attestation": raw.hex()})["pcrs"].values())
    with pytest.raises(attestation.AttestationCheckError) as failure:
        attestation.verify(raw, [oracle.measurements["PCR0"].lower()], root=root_of(oracle.emu))
    assert failure.value.check == "debug_mode"


def test_nonce_is_signed_in(oracle):
    url, _run = oracle()
    answer = ask(url, json.dumps({"fname": "get_attestation", "nonce": "c0ffee"}))
    assert payload_of(answer)["nonce"] == bytes.fromhex("c0ffee") and answer["signThis"] == "c0ffee"


def test_one_session_at_a_time(oracle):
    url, _run = oracle()
    with connect(url, open_timeout=10) as first:
        first.send(GET_ATTESTATION)
        assert json.loads(first.recv(timeout=10))["fname"] == "attestation"
        assert ask(url) == {"fname": "busy"}
        # The session stays with its connection.
        first.send(GET_ATTESTATION)
        assert json.loads(first.recv(timeout=10))["fname"] == "attestation"
    # Closed: the next user gets it.
    assert ask_when_free(url)["fname"] == "attestation"


def test_other_messages_get_no_answer_and_plain_connections_the_identity(oracle):
    url, run = oracle()
    with connect(url, open_timeout=10) as websocket:
        websocket.send(json.dumps({"fname": "submit"}))
        websocket.send("not json")
        with pytest.raises(TimeoutError):
            websocket.recv(timeout=0.5)
        websocket.send(GET_ATTESTATION)
        assert json.loads(websocket.recv(timeout=10))["fname"] == "attestation"
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(b"hello\n")
        line = conn.makefile("rb").readline()
    assert json.loads(line)["enclave_id"] == run["EnclaveID"]


def test_the_root_is_there_once_the_host_booted(app_eif):
    """The allocator service runs at boot and makes the CA: tests can fetch the root before any enclave runs."""
    emu, _eif_path, _measurements = app_eif
    assert emu.enclave_records() == []
    with open(emu.path(ROOT_PEM), "rb") as handle:
        root = x509.load_pem_x509_certificate(handle.read())
    assert root.subject == root.issuer
