# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The fleet_report role's preflight filter: one message per bad setting, none for the role's defaults."""

import os

import pytest
import yaml

from ansible.errors import AnsibleFilterError
from ansible_collections.opencontracts.enclave.plugins.filter import fleet_report_inputs as plugin

input_errors = plugin.FilterModule().filters()["fleet_report_input_errors"]
DEFAULTS_FILE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "roles", "fleet_report", "defaults", "main.yml")


@pytest.fixture
def defaults():
    with open(DEFAULTS_FILE) as handle:
        settings = yaml.safe_load(handle)
    # The defaults that are templates, as Ansible renders them.
    settings.update(fleet_report_hosts=["oracle-1"], fleet_report_dir="/srv/reports",
                    fleet_report_attest_url="ws://203.0.113.21:8080")
    return settings


def test_the_role_defaults_are_usable(defaults):
    assert input_errors(defaults) == []


@pytest.mark.parametrize("name, value, expected", [
    ("fleet_report_hosts", "oracle-1", "fleet_report_hosts must be a list"),
    ("fleet_report_dir", "", "fleet_report_dir must name a folder"),
    ("fleet_report_groups", {"oracle": "oracles", "other": "x"}, "fleet_report_groups must map"),
    ("fleet_report_groups", {}, "fleet_report_groups must map"),
    ("fleet_report_services", ["opencontracts-oracle.service"], "fleet_report_services must be a mapping"),
    ("fleet_report_eif_paths", {"oracle": "oracle.eif"}, "fleet_report_eif_paths must hold absolute paths"),
    ("fleet_report_served_eif_paths", {"oracle": "x/y.eif"}, "fleet_report_served_eif_paths must hold absolute"),
    ("fleet_report_ports", [8080, 70000], "fleet_report_ports must be a list of TCP ports"),
    ("fleet_report_ports", "8080", "fleet_report_ports must be a list of TCP ports"),
    ("fleet_report_port_timeout", 0, "fleet_report_port_timeout must be more than 0"),
    ("fleet_report_port_timeout", "soon", "fleet_report_port_timeout must be more than 0"),
    ("fleet_report_journal_lines", 201, "fleet_report_journal_lines must be 0-200"),
    ("fleet_report_attest", "yes please", "fleet_report_attest must be true or false"),
    ("fleet_report_attest_url", "http://203.0.113.21:8080", "fleet_report_attest_url must be a ws:// or wss://"),
    ("fleet_report_attest_url", "ws://", "fleet_report_attest_url must be a ws:// or wss://"),
    ("fleet_report_attest_timeout", 0, "fleet_report_attest_timeout must be more than 0"),
    ("fleet_report_attest_timeout", 121, "fleet_report_attest_timeout must be more than 0"),
    ("fleet_report_attest_max_age_seconds", "old", "fleet_report_attest_max_age_seconds must be"),
    ("fleet_report_attest_root_certificate", "root.pem", "fleet_report_attest_root_certificate must be empty or"),
    ("fleet_report_registry_quote", "often", "fleet_report_registry_quote must be true or false"),
    ("fleet_report_registry_quote_from", "registry", "fleet_report_registry_quote_from must be one of controller, host"),
    ("fleet_report_registry_quote_timeout", 0, "fleet_report_registry_quote_timeout must be more than 0"),
    ("fleet_report_metrics_path", "/var/lib/node_exporter/fleet.txt", "fleet_report_metrics_path must be empty or"),
    ("fleet_report_metrics_path", "fleet.prom", "fleet_report_metrics_path must be empty or"),
])
def test_each_bad_value_gets_one_message(defaults, name, value, expected):
    defaults[name] = value
    (message,) = input_errors(defaults)
    assert message.startswith(expected)


def test_attestation_and_metrics_settings_in_use(defaults):
    defaults.update(fleet_report_attest=True, fleet_report_attest_url="wss://registry.example.org:8081/203.0.113.21/",
                    fleet_report_attest_root_certificate="/etc/opencontracts/root.pem",
                    fleet_report_metrics_path="/var/lib/node_exporter/textfile/opencontracts_enclave.prom")
    assert input_errors(defaults) == []


def test_an_empty_served_path_means_none_and_is_fine(defaults):
    defaults["fleet_report_served_eif_paths"] = {"oracle": "", "registry": None}
    assert input_errors(defaults) == []


def test_several_bad_values_are_all_named(defaults):
    defaults.update(fleet_report_ports=[0], fleet_report_journal_lines=-1)
    assert len(input_errors(defaults)) == 2


def test_input_must_be_a_dictionary():
    with pytest.raises(AnsibleFilterError, match="expects a dictionary"):
        input_errors("fleet_report_hosts")


probe_arguments = plugin.FilterModule().filters()["fleet_report_probe_arguments"]


def test_probe_arguments_follow_the_host_groups(defaults):
    assert probe_arguments(["oracles", "eu"], defaults) == {
        "kinds": ["oracle"],
        "eif_paths": ["/opt/opencontracts/oracle.eif",
                      "/opt/opencontracts/enclave-protocol/oracle_enclave/oracle_enclave.eif"],
        "services": ["opencontracts-oracle.service"]}


def test_a_host_in_no_kind_group_is_probed_for_every_kind(defaults):
    defaults["fleet_report_served_eif_paths"] = {"oracle": "", "registry": "/srv/registry.eif"}
    probe = probe_arguments(["ungrouped"], defaults)
    assert probe["kinds"] == ["oracle", "registry"]
    assert probe["eif_paths"] == ["/opt/opencontracts/oracle.eif", "/opt/opencontracts/registry.eif", "/srv/registry.eif"]
    assert probe["services"] == ["opencontracts-oracle.service", "opencontracts-registry.service"]
