"""module_utils.registry_quote: an oracle judged by the registry's get_oracle quote."""

import pytest

from ansible_collections.opencontracts.enclave.plugins.module_utils.registry_quote import (
    judge_oracle,
    opn_text,
    quote_summary,
    registered_verdict,
    verdict_of_result,
)

OPN = 10 ** 18
PROVIDER = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


def quote(ip, price, registry_price=OPN // 10, provider=PROVIDER):
    return {"ip": ip, "available": True, "price_wei": price, "registry_price_wei": registry_price,
            "provider": provider, "registry_signature": "0xsig"}


NONE_FREE = {"ip": "N/A", "available": False, "price_wei": None, "registry_price_wei": None,
             "provider": None, "registry_signature": None}


def test_the_oracle_users_are_sent_to_at_its_inventory_price_is_fine():
    verdict = judge_oracle(quote("10.0.0.5", 3 * OPN // 4), "10.0.0.5", 750000000000000000, PROVIDER.lower())
    assert verdict["registered"] is True
    assert verdict["quoted_price_wei"] == 750000000000000000
    assert verdict["problems"] == []


def test_a_quoted_price_that_is_not_the_inventory_price_is_a_problem():
    verdict = judge_oracle(quote("10.0.0.5", 2 * OPN), "10.0.0.5", 3 * OPN, registry="registry 10.0.0.9")
    assert verdict["registered"] is True
    assert verdict["problems"] == ["registry 10.0.0.9 quotes this oracle at 2 OPN, the inventory price is 3 OPN"]


def test_another_provider_is_a_problem():
    verdict = judge_oracle(quote("10.0.0.5", OPN, provider="0x" + "1" * 40), "10.0.0.5", OPN, PROVIDER)
    assert len(verdict["problems"]) == 1 and "provider" in verdict["problems"][0]


def test_no_free_oracle_means_this_one_is_unknown():
    verdict = judge_oracle(NONE_FREE, "10.0.0.5", OPN)
    assert verdict["registered"] is False
    assert verdict["problems"] == ["unknown to the registry: it knows no free oracle (get_oracle: ip N/A)"]
    # An oracle serving a user is not free: not being quoted is then normal.
    busy = judge_oracle(NONE_FREE, "10.0.0.5", OPN, busy=True)
    assert busy["problems"] == [] and busy["registered"] is None


def test_a_dearer_oracle_quoted_means_this_cheaper_one_is_unknown():
    verdict = judge_oracle(quote("10.0.0.6", 5 * OPN // 2), "10.0.0.5", 3 * OPN // 4)
    assert verdict["registered"] is False
    assert verdict["sent_to"] == "10.0.0.6" and verdict["sent_to_price_wei"] == 5 * OPN // 2
    assert verdict["problems"] == ["unknown to the registry at 0.75 OPN: it sends users to 10.0.0.6 at 2.5 OPN, which costs more"]


@pytest.mark.parametrize("other_price", [OPN // 2, OPN])
def test_a_cheaper_or_equal_oracle_quoted_tells_nothing_wrong(other_price):
    verdict = judge_oracle(quote("10.0.0.6", other_price), "10.0.0.5", OPN)
    assert verdict["registered"] is None
    assert verdict["problems"] == []
    assert verdict["notes"] == ["the registry sends users to 10.0.0.6 at %s" % ("0.5 OPN" if other_price < OPN else "1 OPN")]


def test_no_quote_at_all_is_a_problem():
    verdict = judge_oracle(None, "10.0.0.5", OPN, registry="registry 10.0.0.9")
    assert verdict["problems"] == ["registry 10.0.0.9 gave no quote: users cannot be sent to this oracle"]


def test_summary():
    assert quote_summary(quote("10.0.0.6", OPN)) == "users are sent to 10.0.0.6 at 1 OPN (+ registry 0.1 OPN)"
    assert quote_summary(NONE_FREE) == "the registry knows no free oracle (ip N/A)"
    assert quote_summary(None) == "no quote"


def module_result(quote_answer):
    return {"changed": False, "quote": quote_answer, "answer": "{}"}


def test_verdict_of_a_registered_result_is_registered_at_the_inventory_price():
    verdict = verdict_of_result(module_result(quote("10.0.0.5", 2 * OPN)), "10.0.0.5", "2000000000000000000", PROVIDER)
    assert (verdict["state"], verdict["registered"], verdict["problems"]) == ("registered", True, [])
    assert verdict["summary"] == "users are sent to 10.0.0.5 at 2 OPN (+ registry 0.1 OPN)"


def test_verdict_of_another_price_or_an_unknown_oracle_is_degraded():
    moved = verdict_of_result(module_result(quote("10.0.0.5", 2 * OPN)), "10.0.0.5", 3 * OPN, registry="registry r1")
    assert moved["state"] == "degraded"
    assert moved["problems"] == ["registry r1 quotes this oracle at 2 OPN, the inventory price is 3 OPN"]
    unknown = verdict_of_result(module_result(NONE_FREE), "10.0.0.5", OPN)
    assert unknown["state"] == "degraded" and unknown["registered"] is False
    elsewhere = verdict_of_result(module_result(quote("10.0.0.6", OPN)), "10.0.0.5", 2 * OPN)
    assert (elsewhere["state"], elsewhere["registered"], elsewhere["sent_to"]) == ("not_quoted", None, "10.0.0.6")


def test_verdict_of_a_failed_or_skipped_module():
    failed = verdict_of_result({"failed": True, "msg": "the registry at ws://10.0.0.9:8080 cannot be reached: refused\nmore"},
                               "10.0.0.5", OPN, registry="registry 10.0.0.9")
    assert failed["state"] == "degraded"
    assert failed["problems"] == ["registry 10.0.0.9 could not be asked: the registry at ws://10.0.0.9:8080 cannot be reached: refused"]
    assert verdict_of_result({"skipped": True, "changed": False}, "10.0.0.5", OPN)["state"] == "not_checked"
    assert verdict_of_result(None, "10.0.0.5", OPN)["state"] == "not_checked"
    assert "not a whole number of wei" in verdict_of_result(module_result(quote("10.0.0.5", OPN)), "10.0.0.5", "1.5")["problems"][0]


def test_a_retried_result_that_stayed_degraded_is_judged_by_its_last_quote():
    result = dict(module_result(quote("10.0.0.5", 2 * OPN)), failed=True, attempts=3)
    verdict = verdict_of_result(result, "10.0.0.5", 3 * OPN)
    assert verdict["problems"] == ["the registry quotes this oracle at 2 OPN, the inventory price is 3 OPN"]
    failed = verdict_of_result({"failed": True, "msg": "Task failed: Action failed: the registry at ws://r:8080 cannot be reached"},
                               "10.0.0.5", OPN)
    assert failed["problems"] == ["the registry could not be asked: the registry at ws://r:8080 cannot be reached"]


def test_a_registered_verdict_is_the_module_s_own():
    verdict = {"state": "registered", "problems": [], "summary": "users are sent to 10.0.0.5 at 1 OPN (+ registry 0.1 OPN)"}
    assert registered_verdict({"changed": False, "quote": quote("10.0.0.6", OPN), "verdict": verdict}) == verdict


@pytest.mark.parametrize("result", [None, {"skipped": True, "changed": False}])
def test_a_skipped_quote_stage_is_not_checked(result):
    assert registered_verdict(result, registry="the registry ws://10.0.0.9:8080")["state"] == "not_checked"


def test_a_stage_that_failed_before_judging_is_degraded_with_its_message():
    verdict = registered_verdict({"failed": True, "msg": "url must start with ws:// or wss://, got 'x'",
                                  "quote": quote("10.0.0.5", OPN)}, registry="the registry x")
    assert verdict["state"] == "degraded"
    assert verdict["problems"] == ["the registry x could not be asked: url must start with ws:// or wss://, got 'x'"]


@pytest.mark.parametrize("wei, text", [(0, "0 OPN"), (OPN, "1 OPN"), (2500000000000000000, "2.5 OPN"), (1, "0.000000000000000001 OPN")])
def test_opn_text(wei, text):
    assert opn_text(wei) == text
