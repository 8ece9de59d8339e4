"""registry_quote: get_oracle sent to a registry over WebSocket (a local server stands in for the registry)."""

import json
import socket
import threading

import pytest

from module_runner import run_module
from ansible_collections.opencontracts.enclave.plugins.modules import registry_quote

sync_server = pytest.importorskip("websockets.sync.server")


@pytest.fixture
def registry():
    """A registry stand-in on 127.0.0.1: answers each message with the next canned answer; records requests."""
    state = {"answers": [], "requests": []}

    def handler(connection):
        for message in connection:
            state["requests"].append(json.loads(message))
            connection.send(state["answers"].pop(0))

    server = sync_server.serve(handler, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state["url"] = "ws://127.0.0.1:%d" % server.socket.getsockname()[1]
    yield state
    server.shutdown()
    thread.join(5)


def test_the_cheapest_oracle_is_returned_with_integer_prices(registry):
    registry["answers"].append(json.dumps({"fname": "return_oracle", "ip": "10.0.0.5", "price": "750000000000000000",
                                           "registryPrice": 10 ** 17, "provider": "0xabc", "registrySignature": "0xsig"}))
    result = run_module(registry_quote.main, {"url": registry["url"]})
    assert not result["failed"], result
    assert registry["requests"] == [{"fname": "get_oracle"}]
    assert result["quote"] == {"ip": "10.0.0.5", "available": True, "price_wei": 750000000000000000,
                               "registry_price_wei": 10 ** 17, "provider": "0xabc", "registry_signature": "0xsig"}
    assert result["changed"] is False


def test_no_free_oracle(registry):
    registry["answers"].append(json.dumps({"fname": "return_oracle", "ip": "N/A"}))
    result = run_module(registry_quote.main, {"url": registry["url"]}, check_mode=True)
    assert not result["failed"], result
    assert result["quote"]["available"] is False and result["quote"]["ip"] == "N/A"


@pytest.mark.parametrize("answer, message", [
    ({"fname": "busy"}, "'busy', not return_oracle"),
    ({"fname": "return_oracle", "ip": "10.0.0.5", "price": "2.5", "registryPrice": 0, "provider": "0xabc"},
     "price is not an amount of wei"),
    ({"fname": "return_oracle", "ip": "10.0.0.5", "registryPrice": 0, "provider": "0xabc"}, "has no price"),
])
def test_an_answer_that_is_not_a_quote_fails_naming_the_registry(registry, answer, message):
    registry["answers"].append(json.dumps(answer))
    result = run_module(registry_quote.main, {"url": registry["url"]})
    assert result["failed"]
    assert result["msg"].startswith("the registry at %s: " % registry["url"]) and message in result["msg"]


def test_an_unreachable_registry_fails_naming_it():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = "ws://127.0.0.1:%d" % sock.getsockname()[1]
    sock.close()
    result = run_module(registry_quote.main, {"url": url, "timeout": 3})
    assert result["failed"]
    assert result["msg"].startswith("the registry at %s cannot be reached" % url)


def test_bad_arguments_fail_clearly():
    result = run_module(registry_quote.main, {"url": "http://127.0.0.1:8080"})
    assert result["failed"] and "ws://" in result["msg"]
