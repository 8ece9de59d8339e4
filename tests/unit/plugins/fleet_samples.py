"""A sample fleet for the fleet report tests: recorded enclave_info results and inventory values.

The results are in tests/unit/plugins/fixtures/enclave_info/ (one per situation); the expected values
of the tests are written out by hand from them and from the values here.
"""

import json
import os

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "enclave_info")
# The PCR0 of the running enclave in the fixtures, and another one (wrong_pcr0.json).
FIXTURE_PCR0 = "5d3938eb05288e2e3e36f02e1cde1d2e4b9d0b0e62c4b8e0b1a3f1f5c0c1e2d3a4b5c6d7e8f90a1b2c3d4e5f60718293"
OTHER_PCR0 = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
GUIDE_ORACLE = "ba19b0568898f7eed74c911b29cccd6d026f918fa77953a705f142d06d33f51dfb00bda8f4e90e13755374548b0430e4"
GUIDE_REGISTRY = "87eb8417e993acfa43fc8e46a1ef0fe50cce86e9b8dcaf22b1e623f8f11a272a0352b851a0503327fb55fd6ecf0259d3"
PROVIDER_LOWER = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"
PROVIDER_EIP55 = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"  # the EIP-55 specification's first example
PERMITTED = {"oracle": [GUIDE_ORACLE, FIXTURE_PCR0.upper()], "registry": [GUIDE_REGISTRY, FIXTURE_PCR0]}

# What each sample host is, and the verdict a person expects for it.
EXPECTED_VERDICTS = {
    "oracle-1": "serving",    # serving.json, 2.5 OPN
    "oracle-2": "serving",    # serving.json, 3 OPN given in wei
    "oracle-3": "serving",    # serving.json, 1 OPN
    "oracle-4": "degraded",   # debug_mode.json
    "oracle-5": "degraded",   # wrong_pcr0.json
    "oracle-6": "down",       # unreachable.json
    "oracle-7": "down",       # stopped_service.json
    "registry-1": "serving",  # registry_serving.json
}


def recorded(name):
    with open(os.path.join(FIXTURES, name + ".json")) as handle:
        return json.load(handle)


def oracle_vars(result, price, timeout=None, **extra):
    values = {
        "__fleet_report_info": result,
        "oracle_service_provider": PROVIDER_LOWER,
        "oracle_service_registry": "203.0.113.10",
        "oracle_service_price": price,
        "enclave_build_permitted_pcr0": PERMITTED,
    }
    if timeout is not None:
        values["oracle_service_no_demand_timeout"] = timeout
    values.update(extra)
    return values


def sample_fleet():
    """(hostvars, groups): seven oracles and one registry, one of each recorded situation."""
    hostvars = {
        "oracle-1": oracle_vars(recorded("serving"), "2.5 OPN", timeout=3600),
        "oracle-2": oracle_vars(recorded("serving"), 3000000000000000000),
        "oracle-3": oracle_vars(recorded("serving"), "1 OPN", timeout=""),
        "oracle-4": oracle_vars(recorded("debug_mode"), "0.5 OPN", oracle_service_debug_mode=True),
        "oracle-5": oracle_vars(recorded("wrong_pcr0"), "0.75 OPN"),
        "oracle-6": oracle_vars(recorded("unreachable"), "2 OPN"),
        "oracle-7": oracle_vars(recorded("stopped_service"), "4 OPN"),
        "registry-1": {"__fleet_report_info": recorded("registry_serving"), "enclave_build_permitted_pcr0": PERMITTED},
    }
    groups = {"oracles": ["oracle-%d" % n for n in range(1, 8)], "registries": ["registry-1"]}
    return hostvars, groups
