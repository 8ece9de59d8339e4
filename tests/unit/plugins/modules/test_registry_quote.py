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


def return_oracle(ip, price):
    return json.dumps({"fname": "return_oracle", "ip": ip, "price": str(price), "registryPrice": 10 ** 17,
                       "provider": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "registrySignature": "0xsig"})


def closed_port_url():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = "ws://127.0.0.1:%d" % sock.getsockname()[1]
    sock.close()
    return url


def test_given_the_oracle_s_price_the_quote_is_judged_for_it(registry):
    registry["answers"].append(return_oracle("10.0.0.5", 750000000000000000))
    result = run_module(registry_quote.main, {"url": registry["url"], "address": "10.0.0.5",
                                              "price_wei": "750000000000000000",
                                              "provider": "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"})
    assert not result["failed"], result
    assert result["address"] == "10.0.0.5" and result["url"] == registry["url"] and result["attempts"] == 1
    verdict = result["verdict"]
    assert verdict["state"] == "registered" and verdict["registered"] is True and verdict["problems"] == []
    assert verdict["registry"] == "the registry %s" % registry["url"]
    assert verdict["summary"] == "users are sent to 10.0.0.5 at 0.75 OPN (+ registry 0.1 OPN)"


def test_the_address_alone_is_returned_and_nothing_is_judged(registry):
    registry["answers"].append(return_oracle("10.0.0.6", 10 ** 18))
    result = run_module(registry_quote.main, {"url": registry["url"], "address": "10.0.0.5"})
    assert not result["failed"], result
    assert result["address"] == "10.0.0.5" and "verdict" not in result


def test_a_degraded_quote_is_asked_again_until_the_oracle_is_registered(registry):
    registry["answers"].extend([json.dumps({"fname": "return_oracle", "ip": "N/A"}),
                                return_oracle("10.0.0.7", 2 * 10 ** 18), return_oracle("10.0.0.5", 10 ** 18)])
    result = run_module(registry_quote.main, {"url": registry["url"], "address": "10.0.0.5", "price_wei": 10 ** 18,
                                              "retries": 3, "delay": 0})
    assert not result["failed"], result
    assert result["attempts"] == 3 and result["verdict"]["state"] == "registered"
    assert registry["answers"] == []


def test_a_degraded_verdict_is_a_result_unless_fail_on_degraded(registry):
    registry["answers"].extend([return_oracle("10.0.0.5", 2 * 10 ** 18)] * 2)
    args = {"url": registry["url"], "address": "10.0.0.5", "price_wei": 10 ** 18}
    result = run_module(registry_quote.main, args)
    assert not result["failed"], result
    problem = "the registry %s quotes this oracle at 2 OPN, the inventory price is 1 OPN" % registry["url"]
    assert result["verdict"]["state"] == "degraded" and result["verdict"]["problems"] == [problem]
    failed = run_module(registry_quote.main, dict(args, fail_on_degraded=True))
    assert failed["failed"] and failed["verdict"]["state"] == "degraded"
    assert failed["msg"] == ("degraded in the user's view: %s (users are sent to 10.0.0.5 at 2 OPN (+ registry 0.1 OPN))"
                             % problem)


def test_a_registry_that_cannot_be_asked_fails_the_gate_naming_it():
    url = closed_port_url()
    args = {"url": url, "timeout": 3, "address": "10.0.0.5", "price_wei": 10 ** 18, "retries": 1, "delay": 0}
    result = run_module(registry_quote.main, args)
    assert not result["failed"] and result["attempts"] == 2
    assert result["verdict"]["state"] == "degraded" and "quote" not in result
    failed = run_module(registry_quote.main, dict(args, fail_on_degraded=True))
    assert failed["failed"]
    assert failed["msg"].startswith("degraded in the user's view: the registry %s could not be asked: "
                                    "the registry at %s cannot be reached" % (url, url))


def test_without_a_price_retries_only_while_the_registry_cannot_be_asked():
    url = closed_port_url()
    result = run_module(registry_quote.main, {"url": url, "timeout": 3, "retries": 2, "delay": 0})
    assert result["failed"] and result["attempts"] == 3
    assert result["msg"].startswith("the registry at %s cannot be reached" % url)


@pytest.mark.parametrize("extra, message", [
    ({"address": "10.0.0.5", "price_wei": "2.5 OPN"}, "price_wei must be a whole number of wei, got '2.5 OPN'"),
    ({"address": "10.0.0.5", "price_wei": True}, "price_wei must be a whole number of wei"),
    ({"fail_on_degraded": True}, "fail_on_degraded needs price_wei"),
    ({"provider": "0xabc"}, "provider needs price_wei"),
    ({"retries": -1}, "retries must be 0 or more"),
    ({"delay": -1}, "delay must be 0 or more"),
])
def test_bad_expectations_fail_clearly(extra, message):
    result = run_module(registry_quote.main, dict({"url": "ws://127.0.0.1:1"}, **extra))
    assert result["failed"] and message in result["msg"]


def test_a_price_without_the_address_is_refused():
    result = run_module(registry_quote.main, {"url": "ws://127.0.0.1:1", "price_wei": 1})
    assert result["failed"] and "address" in result["msg"]
