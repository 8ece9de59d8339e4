"""plugin_utils.enclave_service and its filters: the enclave selector, the role's result from its stages."""

import os

import pytest
import yaml

from ansible.errors import AnsibleFilterError
from ansible_collections.opencontracts.enclave.plugins.filter import enclave_service as plugin
from ansible_collections.opencontracts.enclave.plugins.plugin_utils.enclave_service import restarted, service_result

FILTERS = plugin.FilterModule().filters()
REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
PCR0 = "ab" * 48
SKIPPED = {"changed": False, "skipped": True, "skip_reason": "Conditional result was False"}
HEALTHY = {"changed": False, "healthy": True, "pcr0": PCR0, "pcr0_permitted": True, "matched_pcr0": PCR0,
           "port_open": True, "enclave": {"id": "i-0-enc-1", "name": "oracle", "state": "RUNNING", "flags": "NONE"}}
QUOTE = {"changed": False, "quote": {"ip": "10.0.0.5", "available": True, "price_wei": 750000000000000000,
                                     "registry_price_wei": 10 ** 17, "provider": "0xA", "registry_signature": None}}
CONTEXT = {"kind": "registry", "check_mode": False, "enclave_name": "", "unit": "opencontracts-oracle.service",
           "settings": {"PRICE": "750000000000000000", "PROVIDER": "0xa"}, "optional_settings": {"NOTE": "x"},
           "registry_quote_url": "ws://10.0.0.9:8080"}


def stages(**changes):
    values = {"restart": None, "health": HEALTHY, "attest_probe": SKIPPED, "registry_quote": SKIPPED}
    values.update(changes)
    return values


def test_filter_names_and_their_documentation():
    for name in FILTERS:
        with open(os.path.join(REPO_ROOT, "plugins", "filter", name + ".yml")) as handle:
            assert yaml.safe_load(handle)["DOCUMENTATION"]["name"] == name


def test_a_healthy_enclave_with_every_other_stage_off():
    result = service_result(stages(), CONTEXT)
    assert {key: value for key, value in result.items() if key != "registry_quote"} == {
        "state": "RUNNING", "healthy": True, "enclave_id": "i-0-enc-1", "enclave_name": "oracle", "flags": "NONE",
        "pcr0": PCR0, "pcr0_permitted": True, "matched_pcr0": PCR0, "attested": "not_checked", "port_open": True,
        "restarted": False, "unit": "opencontracts-oracle.service",
        "settings": {"PRICE": "750000000000000000", "PROVIDER": "0xa", "NOTE": "x"}}
    assert result["registry_quote"]["state"] == "not_checked"


@pytest.mark.parametrize("check_mode, state", [(True, "PENDING"), (False, "UNKNOWN")])
def test_a_skipped_health_stage_leaves_the_defaults(check_mode, state):
    result = service_result(stages(health=SKIPPED), dict(CONTEXT, check_mode=check_mode, enclave_name="named"))
    assert (result["state"], result["healthy"], result["enclave_id"], result["enclave_name"], result["flags"],
            result["pcr0"], result["pcr0_permitted"], result["matched_pcr0"], result["port_open"]) == (
        state, False, None, "named", None, None, False, None, False)
    assert service_result(stages(health=SKIPPED), CONTEXT)["enclave_name"] is None


def test_a_null_the_module_returned_stays_null():
    health = dict(HEALTHY, enclave=dict(HEALTHY["enclave"], name=None))
    assert service_result(stages(health=health), dict(CONTEXT, enclave_name="named"))["enclave_name"] is None


@pytest.mark.parametrize("probe, expected", [
    ({"status": "attestation", "attestation": "b64", "verification": {"verified": True}}, "verified"),
    ({"status": "busy", "verification": None}, "busy"),
    (SKIPPED, "not_checked"),
    (None, "not_checked"),
])
def test_the_attestation_stage(probe, expected):
    assert service_result(stages(attest_probe=probe), CONTEXT)["attested"] == expected


@pytest.mark.parametrize("restart, expected", [
    (None, False), ({}, False), ({"changed": True}, True), (SKIPPED, True), ({"changed": False}, False),
])
def test_restarted_when_the_handler_ran_or_would_have(restart, expected):
    assert restarted(restart) is expected
    assert FILTERS["enclave_service_restarted"](restart) is expected
    assert service_result(stages(restart=restart), CONTEXT)["restarted"] is expected


def test_the_registry_quote_is_the_verdict_the_module_returned():
    verdict = {"state": "registered", "registry": "the registry ws://10.0.0.9:8080", "problems": []}
    assert service_result(stages(registry_quote=dict(QUOTE, verdict=verdict)), CONTEXT)["registry_quote"] == verdict


def test_a_quote_stage_that_failed_before_judging_is_degraded_naming_the_registry():
    failed = {"failed": True, "msg": "price_wei must be a whole number of wei, got ''"}
    verdict = service_result(stages(registry_quote=failed), CONTEXT)["registry_quote"]
    assert verdict["state"] == "degraded"
    assert verdict["problems"] == ["the registry ws://10.0.0.9:8080 could not be asked: "
                                   "price_wei must be a whole number of wei, got ''"]


def test_an_oracle_s_result_names_its_price_provider_and_registry():
    settings = {"PRICE": "750000000000000000", "PROVIDER": "0xA", "REGISTRY": "10.0.0.9"}
    result = service_result(stages(), dict(CONTEXT, kind="oracle", settings=settings))
    assert (result["price_wei"], result["provider"], result["registry"]) == ("750000000000000000", "0xA", "10.0.0.9")
    assert "price_wei" not in service_result(stages(), CONTEXT)


def test_the_filter_needs_dictionaries():
    with pytest.raises(AnsibleFilterError, match="stages must be a dictionary, got list"):
        FILTERS["enclave_service_result"]([], CONTEXT)
    with pytest.raises(AnsibleFilterError, match="context must be a dictionary, got NoneType"):
        FILTERS["enclave_service_result"](stages(), None)


PCR0_B = "CD" * 48


@pytest.mark.parametrize("name, pcr0s, expected", [
    ("oracle-1", [PCR0], "--name oracle-1"),
    ("", [PCR0, PCR0_B], "--pcr0 " + PCR0 + " --pcr0 " + "cd" * 48),
    # The served image's PCR0 first, each value once whatever its case, empty ones left out.
    ("", ["", PCR0_B, PCR0, PCR0_B.lower()], "--pcr0 " + "cd" * 48 + " --pcr0 " + PCR0),
    ("", [], "--pcr0 "),
])
def test_the_unit_tells_its_enclaves_by_name_else_by_pcr0(name, pcr0s, expected):
    assert FILTERS["enclave_service_selector"](pcr0s, name) == expected


def test_the_selector_needs_a_list():
    with pytest.raises(AnsibleFilterError, match="must be a list, got str"):
        FILTERS["enclave_service_selector"](PCR0, "")


def test_the_summary_has_one_line_per_host():
    hostvars = {
        "oracle-1": {"oracle_service_result": {"state": "RUNNING", "enclave_id": "i-0-enc-1", "pcr0_permitted": True,
                                               "pcr0": PCR0, "price_wei": "1500000000000000000", "flags": "NONE",
                                               "restarted": True}},
        "oracle-2": {"oracle_service_result": {"state": "RUNNING", "enclave_id": None, "pcr0_permitted": False,
                                               "pcr0": None, "price_wei": "2000000000000000000", "flags": "DEBUG_MODE",
                                               "restarted": False}},
        "oracle-3": {},
    }
    assert FILTERS["enclave_service_summary"](["oracle-1", "oracle-2", "oracle-3", "oracle-4"], hostvars, "oracle") == [
        "oracle-1: RUNNING i-0-enc-1, PCR0 permitted (abababababababab...), price 1.5 OPN, restarted",
        "oracle-2: RUNNING -, PCR0 NOT PERMITTED (unknown...), price 2 OPN, DEBUG MODE",
        "oracle-3: not served in this run (failed, unreachable or not reached by the rollout)",
        "oracle-4: not served in this run (failed, unreachable or not reached by the rollout)",
    ]
    registry = {"registry-1": {"registry_service_result": dict(hostvars["oracle-1"]["oracle_service_result"], restarted=False)}}
    assert FILTERS["enclave_service_summary"](["registry-1"], registry, "registry") == [
        "registry-1: RUNNING i-0-enc-1, PCR0 permitted (abababababababab...)"]
    with pytest.raises(AnsibleFilterError, match="kind must be oracle or registry, got 'socat'"):
        FILTERS["enclave_service_summary"]([], {}, "socat")
