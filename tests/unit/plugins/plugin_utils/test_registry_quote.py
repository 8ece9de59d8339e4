"""plugin_utils.registry_quote: an oracle judged by the registry's get_oracle quote."""

import pytest

from ansible_collections.opencontracts.enclave.plugins.plugin_utils.registry_quote import judge_oracle, quote_summary

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
