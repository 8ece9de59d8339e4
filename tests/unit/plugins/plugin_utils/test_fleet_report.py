"""The fleet report builder over recorded enclave_info results (tests/unit/plugins/fixtures/enclave_info/).

Expected values are written out by hand from the fixtures and the inventory values of fleet_samples.py.
"""

import copy
import json
import os

import pytest
import yaml

import fleet_samples as samples
from ansible_collections.opencontracts.enclave.plugins.plugin_utils import fleet_report as fr
from ansible_collections.opencontracts.enclave.plugins.modules import enclave_info

FIXTURES = samples.FIXTURES
FIXTURE_PCR0 = samples.FIXTURE_PCR0
OTHER_PCR0 = samples.OTHER_PCR0
GUIDE_ORACLE = samples.GUIDE_ORACLE
PROVIDER_EIP55 = samples.PROVIDER_EIP55
PERMITTED = samples.PERMITTED
recorded = samples.recorded


def build(hostvars, groups, **kwargs):
    inputs = fr.collect_inputs(sorted(hostvars), hostvars, groups, **kwargs)
    return fr.build_report(inputs, generated_at="2026-11-27T09:14:05Z")


def row_of(report, host, kind="oracle"):
    (row,) = [r for r in report["hosts"] if r["host"] == host and r["kind"] == kind]
    return row


@pytest.fixture(name="fleet")
def fixture_fleet():
    """Seven oracles and one registry, one of each recorded situation (fleet_samples.py)."""
    return samples.sample_fleet()


# --------------------------------------------------------------------------
# The five situations, row by row
# --------------------------------------------------------------------------

def test_serving(fleet):
    report = build(*fleet)
    row = row_of(report, "oracle-1")
    assert row["verdict"] == "serving" and row["reasons"] == [] and row["notes"] == []
    assert row["reachable"] is True and row["checked_at"] == "2026-11-27T09:14:03Z"
    assert row["enclave"] == {"name": "oracle", "id": "i-0e5a1c0de0e5a1c0d-enc18a2e5b46b0c3d41", "state": "RUNNING",
                              "flags": "NONE", "cid": 16, "cpu_count": 2, "memory_mib": 11000, "process_id": 4181}
    assert row["debug_mode"] is False
    assert row["pcr0"] == FIXTURE_PCR0
    assert row["pcr0_permitted"] is True and row["pcr0_permitted_index"] == 1 and row["permitted_pcr0_count"] == 2
    assert row["price_wei"] == "2500000000000000000" and row["price_opn"] == "2.5 OPN"
    assert row["provider"] == PROVIDER_EIP55
    assert row["registry"] == "203.0.113.10"
    assert row["no_demand_timeout"] == 3600 and row["runs_forever"] is False
    assert row["service"] == {"unit": "opencontracts-oracle.service", "load_state": "loaded", "active_state": "active",
                              "sub_state": "running", "active_since": "Thu 2026-11-26 08:00:00 UTC",
                              "uptime_seconds": 90061, "restarts": 0, "result": "success", "journal": []}
    assert row["ports"] == [{"port": 8080, "open": True, "error": None}] and row["ports_open"] is True
    assert row["installed_eif"] == {"path": "/opt/opencontracts/oracle.eif", "exists": True, "pcr0": FIXTURE_PCR0,
                                    "measured": True, "crc_ok": True, "matches_record": True, "matches_running": True,
                                    "served_copy": None}
    assert row["nitro_cli_version"] == "1.4.2"


def test_price_given_in_wei_and_forever(fleet):
    report = build(*fleet)
    assert row_of(report, "oracle-2")["price_opn"] == "3 OPN"
    assert row_of(report, "oracle-2")["price_wei"] == "3000000000000000000"
    assert row_of(report, "oracle-2")["no_demand_timeout"] is None and row_of(report, "oracle-2")["runs_forever"] is True
    assert row_of(report, "oracle-3")["runs_forever"] is True


def test_debug_mode(fleet):
    row = row_of(build(*fleet), "oracle-4")
    assert row["verdict"] == "degraded"
    assert row["debug_mode"] is True and row["enclave"]["flags"] == "DEBUG_MODE"
    assert row["reasons"] == ["debug mode (allowed by oracle_service_debug_mode): the enclave attests with all-zero PCRs, "
                              "so the registry and users' clients reject it"]
    assert row["pcr0_permitted"] is True  # the image is right; the mode is not


def test_wrong_pcr0(fleet):
    row = row_of(build(*fleet), "oracle-5")
    assert row["verdict"] == "degraded"
    assert row["pcr0"] == OTHER_PCR0 and row["pcr0_permitted"] is False and row["pcr0_permitted_index"] is None
    assert row["reasons"] == ["PCR0 %s is not permitted (2 permitted values for oracle)" % OTHER_PCR0]


def test_unreachable(fleet):
    row = row_of(build(*fleet), "oracle-6")
    assert row["verdict"] == "down" and row["reachable"] is False
    assert row["reasons"] == ["unreachable: Failed to connect to the host via ssh: ssh: connect to host 203.0.113.23 port 22: "
                              "Connection timed out"]
    assert row["enclave"] is None and row["service"] is None and row["ports"] == [] and row["ports_open"] is None
    # The inventory still tells what it should serve for.
    assert row["price_opn"] == "2 OPN" and row["provider"] == PROVIDER_EIP55


def test_stopped_service(fleet):
    row = row_of(build(*fleet), "oracle-7")
    assert row["verdict"] == "down"
    assert row["reasons"] == [
        "no oracle enclave runs (none runs the installed image; no enclave at all)",
        "service opencontracts-oracle.service is inactive (dead), last result exit-code; journal: the oracle enclave stopped",
        "port 8080 does not accept TCP connections (Connection refused)",
    ]
    assert row["service"]["active_state"] == "inactive" and row["service"]["uptime_seconds"] is None
    assert row["enclave"] is None and row["pcr0"] is None and row["pcr0_permitted"] is None
    assert row["installed_eif"]["matches_running"] is None


def test_registry_row(fleet):
    row = row_of(build(*fleet), "registry-1", "registry")
    assert row["verdict"] == "serving"
    assert row["pcr0_permitted_index"] == 1
    assert row["service"]["unit"] == "opencontracts-registry.service" and row["service"]["uptime_seconds"] == 4000
    for oracle_only in ("price_wei", "price_opn", "provider", "registry", "no_demand_timeout", "runs_forever"):
        assert oracle_only not in row


# --------------------------------------------------------------------------
# Other findings
# --------------------------------------------------------------------------

def test_port_closed_while_the_enclave_runs(fleet):
    hostvars, groups = fleet
    hostvars["oracle-1"]["__fleet_report_info"] = recorded("port_closed")
    row = row_of(build(hostvars, groups), "oracle-1")
    assert row["verdict"] == "degraded" and row["ports_open"] is False
    assert row["reasons"] == ["port 8080 does not accept TCP connections (Connection refused)"]


def test_running_enclave_without_its_service(fleet):
    hostvars, groups = fleet
    result = recorded("serving")
    result["services"][0].update(active_state="failed", sub_state="failed", result="exit-code", uptime_seconds=None)
    hostvars["oracle-1"]["__fleet_report_info"] = result
    row = row_of(build(hostvars, groups), "oracle-1")
    assert row["verdict"] == "degraded"
    assert row["reasons"] == ["service opencontracts-oracle.service is failed (failed), last result exit-code: "
                              "the running enclave is not supervised"]


def test_nitro_cli_missing(fleet):
    hostvars, groups = fleet
    hostvars["oracle-1"]["__fleet_report_info"] = recorded("no_nitro_cli")
    row = row_of(build(hostvars, groups), "oracle-1")
    assert row["verdict"] == "down"
    assert row["reasons"][0] == "nitro-cli is not installed"
    assert "service opencontracts-oracle.service is not installed" in row["reasons"]
    assert any("install the Nitro Enclaves CLI" in note for note in row["notes"])
    (line,) = [line for line in fr.render_table(build(hostvars, groups)).splitlines() if line.startswith("oracle-1 ")]
    assert "  not installed  " in line


def test_not_checked_and_failed_probe(fleet):
    hostvars, groups = fleet
    del hostvars["oracle-1"]["__fleet_report_info"]
    hostvars["oracle-2"]["__fleet_report_info"] = {"failed": True, "msg": "sudo: a password is required\nmore"}
    report = build(hostvars, groups)
    assert row_of(report, "oracle-1")["verdict"] == "down" and row_of(report, "oracle-1")["reachable"] is None
    assert row_of(report, "oracle-1")["reasons"][0].startswith("not checked: there is no enclave_info result")
    assert row_of(report, "oracle-2")["reasons"] == ["enclave_info failed: sudo: a password is required"]
    assert report["totals"]["not_checked"] == {"count": 1, "hosts": ["oracle-1"]}


def test_installed_image_differs_from_the_running_one(fleet):
    hostvars, groups = fleet
    result = recorded("serving")
    result["eifs"][0]["measurements"]["PCR0"] = GUIDE_ORACLE
    result["eifs"][0]["record"]["measurements"]["PCR0"] = GUIDE_ORACLE
    hostvars["oracle-1"]["__fleet_report_info"] = result
    row = row_of(build(hostvars, groups), "oracle-1")
    assert row["verdict"] == "serving"  # a note, not a reason
    assert row["installed_eif"]["matches_running"] is False
    assert row["notes"] == ["the only enclave on the host (oracle) does not run the installed image: taken as the oracle enclave",
                            "the installed image /opt/opencontracts/oracle.eif (PCR0 ba19b0568898\u2026) is not the one running "
                            "(PCR0 5d3938eb0528\u2026): a restart would change the enclave"]


def test_corrupt_installed_image_degrades_the_host(fleet):
    hostvars, groups = fleet
    result = recorded("serving")
    result["eifs"][0]["crc_ok"] = False
    hostvars["oracle-1"]["__fleet_report_info"] = result
    row = row_of(build(hostvars, groups), "oracle-1")
    assert row["verdict"] == "degraded"
    assert row["installed_eif"]["crc_ok"] is False and row["installed_eif"]["matches_record"] is True
    assert row["reasons"] == ["the installed image /opt/opencontracts/oracle.eif is corrupt: its CRC does not match its "
                              "content; the next start of the enclave would fail or run another image: run the playbook "
                              "again to replace it"]


def test_installed_image_that_differs_from_its_record_degrades_the_host(fleet):
    hostvars, groups = fleet
    result = recorded("serving")
    result["eifs"][0]["measurements"]["PCR0"] = GUIDE_ORACLE
    result["eifs"][0]["record_matches"] = False
    hostvars["oracle-1"]["__fleet_report_info"] = result
    row = row_of(build(hostvars, groups), "oracle-1")
    assert row["verdict"] == "degraded" and row["installed_eif"]["matches_record"] is False
    assert row["reasons"] == ["the installed image /opt/opencontracts/oracle.eif does not match its install record "
                              "(PCR0 5d3938eb0528\u2026 recorded, ba19b0568898\u2026 measured); the next start of the "
                              "enclave would fail or run another image: run the playbook again to replace it"]


SERVED = "/opt/opencontracts/enclave-protocol/oracle_enclave/oracle_enclave.eif"


@pytest.mark.parametrize("crc_ok, pcr0, reason", [
    (True, None, None),
    (False, None, "the served copy %s of the image is corrupt: its CRC does not match its content; the next start of "
                  "the enclave would fail or run another image: run the playbook again to replace it" % SERVED),
    (True, GUIDE_ORACLE, "the served copy %s of the image (PCR0 ba19b0568898\u2026) is not the installed image (PCR0 "
                         "5d3938eb0528\u2026); the next start of the enclave would fail or run another image: run the "
                         "playbook again to replace it" % SERVED),
])
def test_served_copy_of_the_image(fleet, crc_ok, pcr0, reason):
    hostvars, groups = fleet
    result = recorded("serving")
    served = copy.deepcopy(result["eifs"][0])
    served.update(path=SERVED, crc_ok=crc_ok, record=None, record_matches=None)
    if pcr0:
        served["measurements"]["PCR0"] = pcr0
    result["eifs"].append(served)
    hostvars["oracle-1"]["__fleet_report_info"] = result
    row = row_of(build(hostvars, groups), "oracle-1")
    assert row["installed_eif"]["served_copy"] == {"path": SERVED, "crc_ok": crc_ok, "pcr0": pcr0 or FIXTURE_PCR0,
                                                   "matches_installed": pcr0 is None}
    assert row["reasons"] == ([reason] if reason else [])
    assert row["verdict"] == ("degraded" if reason else "serving")


def test_crash_loop_that_hit_the_start_limit_is_down_with_the_journals_reason(fleet):
    hostvars, groups = fleet
    result = recorded("stopped_service")
    service = result["services"][0]
    service.update(active_state="failed", sub_state="failed", result="exit-code", restarts=4)
    service["journal"] = ["opencontracts-oracle: the oracle enclave stopped",
                          "systemd: opencontracts-oracle.service: Main process exited, code=exited, status=1/FAILURE",
                          "systemd: opencontracts-oracle.service: Start request repeated too quickly.",
                          "systemd: opencontracts-oracle.service: Failed with result 'exit-code'.",
                          "systemd: Failed to start opencontracts-oracle.service - Open Contracts oracle enclave."]
    hostvars["oracle-7"]["__fleet_report_info"] = result
    row = row_of(build(hostvars, groups), "oracle-7")
    assert row["verdict"] == "down"
    assert ("service opencontracts-oracle.service is failed (failed), last result exit-code: systemd stopped restarting "
            "it (too many starts in its start limit interval); journal: the oracle enclave stopped") in row["reasons"]
    assert row["service"]["journal"] == service["journal"] and row["service"]["restarts"] == 4


def test_the_enclave_of_the_installed_image_is_found_whatever_its_name(fleet):
    """Started without --enclave-name, nitro-cli names it after its EIF; beside it runs an enclave of another image."""
    hostvars, groups = fleet
    result = recorded("serving")
    other = dict(result["enclaves"][0], name="oracle", id="i-0e5a1c0de0e5a1c0d-enc00000000000000ff",
                 measurements={"PCR0": OTHER_PCR0})
    result["enclaves"][0]["name"] = "oracle_enclave"
    result["enclaves"].insert(0, other)
    hostvars["oracle-1"]["__fleet_report_info"] = result
    row = row_of(build(hostvars, groups), "oracle-1")
    assert row["verdict"] == "serving" and row["enclave"]["name"] == "oracle_enclave"
    assert row["pcr0"] == FIXTURE_PCR0 and row["notes"] == []


def test_enclave_under_another_name_is_taken_with_a_note(fleet):
    hostvars, groups = fleet
    result = recorded("serving")
    result["enclaves"][0]["name"] = "oracle_enclave"
    hostvars["oracle-1"]["__fleet_report_info"] = result
    options = {"enclave_names": {"oracle": "oracle", "registry": "registry"}}
    row = row_of(build(hostvars, groups, options=options), "oracle-1")
    assert row["verdict"] == "serving" and row["enclave"]["name"] == "oracle_enclave"
    assert row["notes"] == ["the only enclave on the host runs under the name oracle_enclave, not oracle: taken as the oracle enclave"]
    # Two enclaves, neither named oracle: none is taken.
    result["enclaves"].append(dict(result["enclaves"][0], name="oracle_enclave_1"))
    row = row_of(build(hostvars, groups, options=options), "oracle-1")
    assert row["verdict"] == "down" and row["enclave"] is None
    assert row["reasons"][0].startswith("no oracle enclave runs (enclave name oracle; other enclaves: oracle_enclave (RUNNING)")


def test_permitted_list_from_defaults_when_the_inventory_has_none(fleet):
    hostvars, groups = fleet
    del hostvars["oracle-1"]["enclave_build_permitted_pcr0"]
    report = fr.build_report(fr.collect_inputs(["oracle-1"], hostvars, groups, permitted_defaults={"oracle": [GUIDE_ORACLE]}))
    row = row_of(report, "oracle-1")
    assert row["verdict"] == "degraded" and row["pcr0_permitted"] is False and row["permitted_pcr0_count"] == 1
    report = fr.build_report(fr.collect_inputs(["oracle-1"], hostvars, groups))
    assert row_of(report, "oracle-1")["reasons"] == ["no permitted PCR0 list for oracle enclaves (enclave_build_permitted_pcr0.oracle)"]


def test_invalid_inventory_values_are_notes(fleet):
    hostvars, groups = fleet
    hostvars["oracle-1"].update(oracle_service_price=2.5, oracle_service_registry="registry.example.org",
                                oracle_service_provider="0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")
    row = row_of(build(hostvars, groups), "oracle-1")
    assert row["verdict"] == "serving"
    assert row["price_wei"] is None and row["price_opn"] is None
    assert row["registry"] == "registry.example.org" and row["provider"] == "0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
    assert [note.split(":")[0] for note in row["notes"]] == ["oracle_service_provider", "oracle_service_registry", "oracle_service_price"]


def test_host_in_both_groups_gets_two_rows(fleet):
    hostvars, groups = fleet
    result = recorded("serving")
    registry = recorded("registry_serving")
    result["enclaves"] += registry["enclaves"]
    result["services"] += registry["services"]
    result["eifs"] += registry["eifs"]
    # The registry's image is not the oracle's (the recorded samples share one PCR0).
    registry["enclaves"][0]["measurements"]["PCR0"] = registry["eifs"][0]["measurements"]["PCR0"] = OTHER_PCR0
    registry["eifs"][0].get("record", {}).get("measurements", {}).update(PCR0=OTHER_PCR0)
    hostvars["oracle-1"]["__fleet_report_info"] = result
    groups["registries"].append("oracle-1")
    report = build(hostvars, groups)
    assert [(r["host"], r["kind"]) for r in report["hosts"] if r["host"] == "oracle-1"] == [("oracle-1", "oracle"), ("oracle-1", "registry")]
    assert row_of(report, "oracle-1", "registry")["enclave"]["name"] == "registry"
    assert report["totals"]["hosts"] == 8 and report["totals"]["rows"] == 9


def test_host_in_no_group_is_judged_by_what_it_runs(fleet):
    hostvars, _groups = fleet
    report = fr.build_report(fr.collect_inputs(["registry-1"], hostvars, {}))
    (row,) = report["hosts"]
    assert row["kind"] == "registry" and row["verdict"] == "serving"
    assert row["notes"] == ["in neither group oracles nor registries: reported as registry"]


def test_unknown_option_and_bad_input_are_errors():
    with pytest.raises(fr.FleetReportError, match="unknown report option 'colour'"):
        fr.collect_inputs([], {}, {}, options={"colour": "red"})
    with pytest.raises(fr.FleetReportError, match="needs a host and a kind"):
        fr.build_report([{"host": "h", "kind": "bridge"}])


# --------------------------------------------------------------------------
# The fleet totals
# --------------------------------------------------------------------------

def test_totals(fleet):
    report = build(*fleet)
    totals = report["totals"]
    assert (totals["hosts"], totals["rows"], totals["serving"], totals["degraded"], totals["down"]) == (8, 8, 4, 2, 2)
    assert totals["by_kind"] == {"oracle": {"rows": 7, "serving": 3, "degraded": 2, "down": 2},
                                 "registry": {"rows": 1, "serving": 1, "degraded": 0, "down": 0}}
    # Serving oracles: 2.5, 3 and 1 OPN (the 0.5 and 0.75 OPN ones are degraded: not counted).
    assert totals["price"] == {"basis": "serving oracles", "count": 3, "cheapest_wei": "1000000000000000000",
                               "cheapest_opn": "1 OPN", "cheapest_hosts": ["oracle-3"],
                               "median_wei": "2500000000000000000", "median_opn": "2.5 OPN"}
    assert totals["pcr0_not_permitted"] == {"count": 1, "hosts": ["oracle-5"]}
    assert totals["debug_mode"] == {"count": 1, "hosts": ["oracle-4"]}
    assert totals["unreachable"] == {"count": 1, "hosts": ["oracle-6"]}
    assert totals["not_checked"] == {"count": 0, "hosts": []}


def test_median_of_an_even_count_and_ties_for_cheapest(fleet):
    hostvars, groups = fleet
    for host, price in (("oracle-1", "1 OPN"), ("oracle-2", "1 OPN"), ("oracle-3", "2 OPN")):
        hostvars[host]["oracle_service_price"] = price
    hostvars["oracle-7"]["__fleet_report_info"] = recorded("serving")  # 4 OPN, now serving
    price = build(hostvars, groups)["totals"]["price"]
    # 1, 1, 2, 4 OPN: median (1 + 2) / 2 = 1.5 OPN.
    assert price["count"] == 4 and price["median_opn"] == "1.5 OPN" and price["median_wei"] == "1500000000000000000"
    assert price["cheapest_hosts"] == ["oracle-1", "oracle-2"]


def test_no_serving_oracle_has_no_price(fleet):
    hostvars, groups = fleet
    for host in ("oracle-1", "oracle-2", "oracle-3"):
        hostvars[host]["__fleet_report_info"] = recorded("unreachable")
    price = build(hostvars, groups)["totals"]["price"]
    assert price["count"] == 0 and price["cheapest_wei"] is None and price["median_opn"] is None and price["cheapest_hosts"] == []


# --------------------------------------------------------------------------
# Schema, order and the table
# --------------------------------------------------------------------------

def test_report_envelope_and_json(fleet):
    report = build(*fleet)
    assert report["schema"] == "opencontracts.enclave/fleet-report" and report["schema_version"] == 1
    assert report["generated_at"] == "2026-11-27T09:14:05Z"
    assert [r["host"] for r in report["hosts"]] == ["oracle-%d" % n for n in range(1, 8)] + ["registry-1"]
    assert json.loads(json.dumps(report)) == report  # plain JSON types only


def test_every_field_is_documented(fleet):
    """docs/fleet-report.md names every key the report has."""
    report = build(*fleet)
    with open(os.path.join(os.path.dirname(FIXTURES), "..", "..", "..", "..", "docs", "fleet-report.md")) as handle:
        doc = handle.read()
    keys = set(report) | set(report["totals"]) | set(report["totals"]["price"])
    for row in report["hosts"]:
        keys |= set(row)
        for nested in ("enclave", "service", "installed_eif"):
            keys |= set(row[nested] or {})
        for port in row["ports"]:
            keys |= set(port)
    missing = sorted(key for key in keys if "`%s`" % key not in doc)
    assert missing == []


def test_recorded_results_have_the_module_shape():
    """The fixtures carry exactly the keys enclave_info documents (so they cannot drift from the module)."""
    documented = yaml.safe_load(enclave_info.RETURN)
    for name in sorted(n for n in os.listdir(FIXTURES) if n.endswith(".json")):
        result = recorded(name[:-5])
        if result.get("unreachable"):
            continue
        assert set(result) - {"changed", "failed"} == set(documented), name
        for key in ("enclaves", "eifs", "services", "ports"):
            for item in result[key]:
                assert set(item) == set(documented[key]["contains"]), (name, key)


def test_problems_first():
    rows = [{"host": "b", "kind": "oracle", "verdict": "serving"}, {"host": "c", "kind": "oracle", "verdict": "down"},
            {"host": "a", "kind": "oracle", "verdict": "degraded"}, {"host": "a", "kind": "registry", "verdict": "down"}]
    assert [(r["host"], r["kind"]) for r in fr.sort_problems_first(rows)] == [
        ("a", "registry"), ("c", "oracle"), ("a", "oracle"), ("b", "oracle")]


def test_table(fleet):
    table = fr.render_table(build(*fleet))
    lines = table.splitlines()
    assert lines[0].split() == ["HOST", "KIND", "VERDICT", "ENCLAVE", "PCR0", "ATTESTED", "PRICE", "PROVIDER", "REGISTRY", "TIMEOUT",
                                "SERVICE", "PORTS", "REASONS"]
    hosts = [line.split()[0] for line in lines[1:9]]
    assert hosts == ["oracle-6", "oracle-7", "oracle-4", "oracle-5", "oracle-1", "oracle-2", "oracle-3", "registry-1"]
    line = lines[5]
    for text in ("oracle-1", "serving", "RUNNING", "5d3938eb0528\u2026 permitted #2", "2.5 OPN", "0x5aAeb605\u2026",
                 "203.0.113.10", "3600s", "active 1d 1h", "8080 open"):
        assert text in line, text
    assert "RUNNING DEBUG_MODE" in lines[3] and "NOT PERMITTED" in lines[4]
    assert "4 serving, 2 degraded, 2 down (8 hosts)" in table
    assert "cheapest 1 OPN (1000000000000000000 wei; oracle-3), median 2.5 OPN (2500000000000000000 wei)" in table
    assert "PCR0 not permitted: 1 (oracle-5)" in table and "debug mode: 1 (oracle-4)" in table
    assert "unreachable: 1 (oracle-6)" in table


@pytest.mark.parametrize("seconds, text", [(None, ""), (0, "0s"), (59, "59s"), (61, "1m 1s"), (3661, "1h 1m"), (90061, "1d 1h")])
def test_format_duration(seconds, text):
    assert fr.format_duration(seconds) == text


def test_input_is_not_modified(fleet):
    hostvars, groups = fleet
    before = copy.deepcopy(hostvars)
    build(hostvars, groups)
    assert hostvars == before


# --------------------------------------------------------------------------
# The registry's quote (fleet_report_registry_quote)
# --------------------------------------------------------------------------

REGISTRY_URL = "ws://203.0.113.10:8080"


def quoted(ip, price_wei, provider=PROVIDER_EIP55):
    """A registered registry_quote result whose registry sends users to ip at price_wei."""
    return {"changed": False, "quote": {"ip": ip, "available": True, "price_wei": price_wei,
                                        "registry_price_wei": 100000000000000000, "provider": provider,
                                        "registry_signature": "0x01"}}


def with_quote(fleet, host, result, address):
    hostvars, groups = fleet
    hostvars[host]["__fleet_report_registry_quote"] = dict(result, url=REGISTRY_URL, address=address)
    return hostvars, groups


def test_the_oracle_the_registry_quotes_at_its_price_stays_serving(fleet):
    # oracle-3 asks 1 OPN, the cheapest serving oracle of the sample fleet.
    report = build(*with_quote(fleet, "oracle-3", quoted("198.51.100.3", 10 ** 18), "198.51.100.3"))
    row = row_of(report, "oracle-3")
    assert row["verdict"] == "serving" and row["reasons"] == []
    assert row["registry_quote"] == {"state": "registered", "registered": True, "quoted_price_wei": 10 ** 18,
                                     "sent_to": "198.51.100.3", "sent_to_price_wei": 10 ** 18,
                                     "summary": "users are sent to 198.51.100.3 at 1 OPN (+ registry 0.1 OPN)",
                                     "url": REGISTRY_URL}
    assert report["totals"]["registry_quote"] == {"registered": 1, "not_quoted": 0, "degraded": 0, "not_checked": 6}
    assert report["totals"]["registry_quotes"] == [
        {"registry": REGISTRY_URL, "summary": "users are sent to 198.51.100.3 at 1 OPN (+ registry 0.1 OPN)"}]
    text = fr.render_table(report)
    assert "registry's quote of the oracles: 1 registered, 0 not quoted, 0 degraded, 6 not checked" in text
    assert "registry ws://203.0.113.10:8080: users are sent to 198.51.100.3 at 1 OPN (+ registry 0.1 OPN)" in text


def test_an_oracle_quoted_at_another_price_is_degraded(fleet):
    report = build(*with_quote(fleet, "oracle-1", quoted("198.51.100.1", 2 * 10 ** 18), "198.51.100.1"))
    row = row_of(report, "oracle-1")
    assert row["verdict"] == "degraded"
    assert row["reasons"] == ["the registry ws://203.0.113.10:8080 quotes this oracle at 2 OPN, the inventory price is 2.5 OPN"]
    assert row["registry_quote"]["state"] == "degraded"


def test_an_oracle_unknown_to_the_registry_is_degraded(fleet):
    # The registry sends users to a dearer oracle (3 OPN): it does not know oracle-1 at 2.5 OPN.
    report = build(*with_quote(fleet, "oracle-1", quoted("198.51.100.2", 3 * 10 ** 18), "198.51.100.1"))
    row = row_of(report, "oracle-1")
    assert row["verdict"] == "degraded"
    assert row["reasons"] == ["unknown to the registry ws://203.0.113.10:8080 at 2.5 OPN: it sends users to 198.51.100.2"
                              " at 3 OPN, which costs more"]
    assert row["registry_quote"]["registered"] is False


def test_a_registry_that_cannot_be_asked_degrades_the_oracle_and_a_cheaper_one_is_a_note(fleet):
    failed = {"failed": True, "msg": "the registry at ws://203.0.113.10:8080 cannot be reached: [Errno 111] refused"}
    report = build(*with_quote(fleet, "oracle-1", failed, "198.51.100.1"))
    assert row_of(report, "oracle-1")["reasons"] == [
        "the registry ws://203.0.113.10:8080 could not be asked: the registry at ws://203.0.113.10:8080 cannot be reached:"
        " [Errno 111] refused"]
    report = build(*with_quote(samples.sample_fleet(), "oracle-2", quoted("198.51.100.3", 10 ** 18), "198.51.100.2"))
    row = row_of(report, "oracle-2")
    assert row["verdict"] == "serving" and row["registry_quote"]["state"] == "not_quoted"
    assert "the registry ws://203.0.113.10:8080 sends users to 198.51.100.3 at 1 OPN" in row["notes"]


def test_without_the_quote_nothing_changes(fleet):
    report = build(*fleet)
    assert all(row["registry_quote"] is None for row in report["hosts"] if row["kind"] == "oracle")
    assert "registry's quote" not in fr.render_table(report)
