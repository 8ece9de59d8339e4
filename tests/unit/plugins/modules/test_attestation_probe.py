"""attestation_probe against local WebSocket servers that answer as an oracle does, or do not."""

import json
import socket
import threading

import pytest
from websockets.sync.server import serve

import attestation_builder as builder
from module_runner import run_module
from ansible_collections.opencontracts.enclave.plugins.modules import attestation_probe

DOCUMENT = "8444a1013822a0590001" + "ab" * 20


@pytest.fixture(name="oracle")
def fixture_oracle():
    """Start a server on 127.0.0.1 whose handler the test gives; yields a starter returning ws://127.0.0.1:port."""
    servers = []
    received = []

    def start(answer):
        def handler(connection):
            try:
                received.append(json.loads(connection.recv(timeout=5)))
                answer(connection)
            except Exception:  # pylint: disable=broad-except
                pass

        server = serve(handler, "127.0.0.1", 0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return "ws://127.0.0.1:%d" % server.socket.getsockname()[1]

    start.received = received
    yield start
    for server in servers:
        server.shutdown()


def probe(url, **extra):
    return run_module(attestation_probe.main, dict(url=url, **extra))


def test_attestation(oracle):
    url = oracle(lambda c: c.send(json.dumps({"fname": "attestation", "attestation": DOCUMENT.upper(), "signThis": "cd" * 32})))
    result = probe(url)
    assert not result["failed"] and result["changed"] is False
    assert result["status"] == "attestation" and result["attestation"] == DOCUMENT
    assert result["sign_this"] == "cd" * 32 and result["url"] == url and result["error"] is None
    assert oracle.received == [{"fname": "get_attestation"}]


def test_busy_is_not_a_failure(oracle):
    result = probe(oracle(lambda c: c.send(json.dumps({"fname": "busy"}))))
    assert not result["failed"]
    assert result["status"] == "busy" and result["attestation"] is None


@pytest.mark.parametrize("answer, error", [
    ("not json", "the answer is not JSON"),
    (json.dumps({"fname": "return_oracle", "ip": "N/A"}), "unexpected answer 'return_oracle'"),
    (json.dumps({"fname": "attestation"}), "the attestation answer has no document"),
    (json.dumps({"fname": "attestation", "attestation": "zz"}), "the attestation answer's document is not hex"),
])
def test_answers_that_are_not_the_protocol(oracle, answer, error):
    result = probe(oracle(lambda c: c.send(answer)))
    assert result["failed"] and result["status"] == "error"
    assert result["error"].startswith(error), result["error"]
    assert error in result["msg"]


def test_no_answer_times_out(oracle):
    silent = threading.Event()
    result = probe(oracle(lambda c: silent.wait(3)), timeout=0.5)
    silent.set()
    assert result["failed"] and result["status"] == "error"
    assert result["error"] == "timed out after 0.5 s waiting for the answer"


def test_nothing_listens():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    result = probe("ws://127.0.0.1:%d" % port, timeout=2)
    assert result["failed"] and result["status"] == "error"
    assert result["error"].startswith("cannot talk to ws://127.0.0.1:%d: " % port)


def test_plain_tcp_server_is_not_websocket():
    """An enclave port that answers with plain text (no WebSocket upgrade) is an error, not a hang."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def answer():
        conn, _address = listener.accept()
        conn.recv(4096)
        conn.sendall(b'{"enclave_name": "oracle"}\n')
        conn.close()

    threading.Thread(target=answer, daemon=True).start()
    result = probe("ws://127.0.0.1:%d" % listener.getsockname()[1], timeout=2)
    listener.close()
    assert result["failed"] and result["status"] == "error" and result["error"].startswith("cannot talk to")


@pytest.mark.parametrize("args, message", [
    ({"url": "http://127.0.0.1:8080"}, "url must start with ws:// or wss://"),
    ({"url": "ws://127.0.0.1:8080", "timeout": 0}, "timeout must be more than 0"),
])
def test_bad_input(args, message):
    result = run_module(attestation_probe.main, args)
    assert result["failed"] and result["msg"].startswith(message)


PERMITTED = builder.pcr(0xA5).hex()
OTHER = builder.pcr(0x5A).hex()


def attestation_answer(document):
    return lambda c: c.send(json.dumps({"fname": "attestation", "attestation": document.hex(), "signThis": "cd" * 32}))


def test_without_allowed_pcr0_nothing_is_verified(oracle):
    result = probe(oracle(attestation_answer(b"not a document")))
    assert not result["failed"] and result["verification"] is None


def test_with_allowed_pcr0_the_document_is_verified_in_the_same_call(oracle, ca, root_pem):
    url = oracle(attestation_answer(builder.document(ca)))
    result = probe(url, allowed_pcr0=[OTHER, PERMITTED.upper()], root_certificate=root_pem, max_age_seconds=60)
    assert not result["failed"], result
    assert result["status"] == "attestation"
    verification = result["verification"]
    assert verification["verified"] is True and verification["reasons"] == []
    assert verification["matched_pcr0"] == PERMITTED and verification["pcrs"]["PCR0"] == PERMITTED
    assert verification["module_id"] == "i-0123456789abcdef0-enc0123456789abcdef"


def test_a_document_that_does_not_verify_fails_naming_the_checks(oracle, ca, root_pem):
    url = oracle(attestation_answer(builder.document(ca)))
    result = probe(url, allowed_pcr0=[OTHER], root_certificate=root_pem)
    assert result["failed"] and result["status"] == "attestation"
    assert result["verification"]["verified"] is False and result["verification"]["matched_pcr0"] is None
    assert [reason.split(":")[0] for reason in result["verification"]["reasons"]] == ["pcr0_allowed"]
    assert result["msg"].startswith("the attestation document of %s not verified: pcr0_allowed: " % url)


def test_a_document_under_another_root_does_not_verify(oracle, ca):
    result = probe(oracle(attestation_answer(builder.document(ca))), allowed_pcr0=[PERMITTED])
    assert result["failed"] and "chain" in [reason.split(":")[0] for reason in result["verification"]["reasons"]]


def test_a_busy_oracle_has_nothing_to_verify(oracle, root_pem):
    result = probe(oracle(lambda c: c.send(json.dumps({"fname": "busy"}))), allowed_pcr0=[PERMITTED], root_certificate=root_pem)
    assert not result["failed"] and result["status"] == "busy" and result["verification"] is None
