"""The enclave_service preflight rules (plugin_utils/enclave_service_inputs.py) and their filter."""

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.opencontracts.enclave.plugins.filter.enclave_service_inputs import (
    FilterModule,
    enclave_service_input_errors,
)

PCR0 = "ab" * 48
QUOTE = {"enclave_service_registry_quote": "True", "enclave_service_registry_quote_from": "controller",
         "enclave_service_registry_quote_url": "ws://203.0.113.9:8080", "enclave_service_registry_quote_address": "203.0.113.21",
         "enclave_service_registry_quote_timeout": "10", "enclave_service_registry_quote_retries": "6"}
GOOD = {
    "host": "oracle-1",
    "kind": "oracle",
    "repo_dir": "/opt/opencontracts/enclave-protocol",
    "folder": "oracle_enclave",
    "script": "serve_oracle.sh",
    "eif_name": "oracle_enclave.eif",
    "eif_source": "/opt/opencontracts/oracle.eif",
    "eif_size": 1048576,
    "enclave_name": "oracle",
    "eif_pcr0": PCR0,
    "entry_point": "script",
    "launcher": "serve_enclave.sh",
    "venv_dir": "/opt/opencontracts/venv",
    "read_write_paths": ["/var/lib/oracle"],
    "tmux_session": "oracle",
    "user": "root",
    "console": "systemd",
    "memory_mib": 11000,
    "cpu_count": "2",
    "port": 8080,
    "health_timeout": 180,
    "journal_lines": 0,
    "restart_sec": 10,
    "start_limit_burst": 0,
    "start_limit_interval_sec": 600,
    "permitted_pcr0": [PCR0, " " + PCR0.upper() + " "],
    "attest_settings": {"enclave_service_attest": "True", "enclave_service_attest_url": "ws://203.0.113.21:8080",
                        "enclave_service_attest_timeout": "10", "enclave_service_attest_root_certificate": "",
                        "enclave_service_attest_max_age_seconds": "300"},
    "registry_quote_settings": QUOTE,
}
ATTEST = GOOD["attest_settings"]
FACTS = {"script": {"path": "/opt/opencontracts/enclave-protocol/oracle_enclave/serve_oracle.sh", "exists": True},
         "tmux": {"present": True}}


def errors(facts=None, check_mode=False, **changes):
    return enclave_service_input_errors(dict(GOOD, **changes), facts=facts, check_mode=check_mode)


def test_good_inputs_have_no_errors():
    assert errors() == []
    assert errors(facts=FACTS) == []
    assert errors(eif_name="", console="tmux", facts=FACTS) == []
    # No name: the enclave is the one running the served image; no PCR0 yet (check mode) and no virtualenv are fine.
    assert errors(enclave_name="", eif_pcr0="", venv_dir="", read_write_paths=[], entry_point="launcher", facts=FACTS) == []
    assert FilterModule().filters()["enclave_service_input_errors"] is enclave_service_input_errors


@pytest.mark.parametrize("changes, expected", [
    ({"repo_dir": "opt/x"}, "oracle-1: oracle_service_repo_dir: 'opt/x' is not an absolute path"),
    ({"repo_dir": "/opt/x y"}, "oracle-1: oracle_service_repo_dir: '/opt/x y' is not an absolute path"),
    ({"folder": "a/b"}, "oracle-1: oracle_service_folder: 'a/b' is not a plain name"),
    ({"script": "-x.sh"}, "oracle-1: oracle_service_script: '-x.sh' is not a plain name"),
    ({"eif_name": "../x.eif"}, "oracle-1: oracle_service_eif_name: '../x.eif' is not empty or a relative path inside oracle_service_folder"),
    ({"eif_name": "/x.eif"}, "oracle-1: oracle_service_eif_name: '/x.eif' is not empty or a relative path"),
    ({"eif_name": "serve_oracle.sh"}, "oracle-1: oracle_service_eif_name: 'serve_oracle.sh' is the serve script's name"),
    ({"enclave_name": "a b"}, "oracle-1: oracle_service_enclave_name: 'a b' is not empty (the enclave running the served image) or a plain name"),
    ({"tmux_session": ""}, "oracle-1: oracle_service_tmux_session: '' is not a plain name"),
    ({"enclave_name": "-x"}, "oracle-1: oracle_service_enclave_name: '-x' is not empty (the enclave running the served image)"),
    ({"eif_pcr0": "ab"}, "oracle-1: enclave_build_result.measurements.PCR0: 'ab' is not 96 hex digits"),
    ({"entry_point": "tmux"}, "oracle-1: oracle_service_entry_point: must be script or launcher; got 'tmux'"),
    ({"launcher": "../serve_enclave.sh"}, "oracle-1: oracle_service_launcher: '../serve_enclave.sh' is not a plain name"),
    ({"venv_dir": "venv"}, "oracle-1: oracle_service_venv_dir: 'venv' is not empty (the system PATH) or an absolute path"),
    ({"read_write_paths": ["/srv/ok", "/srv/a b", "rel"]},
     "oracle-1: oracle_service_read_write_paths: these are not absolute paths of letters, digits, '.', '_', '-' and '/':"
     " ['/srv/a b', 'rel']"),
    ({"read_write_paths": "/srv"}, "oracle-1: oracle_service_read_write_paths: must be a list of absolute paths; got '/srv'"),
    ({"user": "Root"}, "oracle-1: oracle_service_user: 'Root' is not a user name"),
    ({"memory_mib": 0}, "oracle-1: oracle_service_enclave_memory_mib: must be a whole number of at least 1 MiB; got 0"),
    ({"cpu_count": "two"}, "oracle-1: oracle_service_enclave_cpu_count: must be a whole number of at least 1; got 'two'"),
    ({"port": 65536}, "oracle-1: oracle_service_port: must be 1-65535; got 65536"),
    ({"port": 0}, "oracle-1: oracle_service_port: must be 1-65535; got 0"),
    ({"health_timeout": 0}, "oracle-1: oracle_service_health_timeout: must be a whole number of at least 1 s; got 0"),
    ({"journal_lines": -1}, "oracle-1: oracle_service_journal_lines: must be a whole number of at least 0; got -1"),
    ({"restart_sec": 0.5}, "oracle-1: oracle_service_restart_sec: must be a whole number of at least 1 s; got 0.5"),
    ({"start_limit_burst": -1}, "oracle-1: oracle_service_start_limit_burst: must be a whole number of at least 0; got -1"),
    ({"start_limit_interval_sec": True}, "oracle-1: oracle_service_start_limit_interval_sec: must be a whole number"),
    ({"permitted_pcr0": []}, "oracle-1: oracle_service_permitted_pcr0: must be a non-empty list of PCR0 values"),
    ({"permitted_pcr0": [PCR0, "abc"]}, "oracle-1: oracle_service_permitted_pcr0: every value must have 96 hex digits; these do not: ['abc']"),
    ({"attest_settings": dict(ATTEST, enclave_service_attest="maybe")},
     "oracle-1: enclave_service_attest must be true or false (got 'maybe')"),
    ({"attest_settings": dict(ATTEST, enclave_service_attest_url="203.0.113.21:8080")},
     "oracle-1: enclave_service_attest_url must be a ws:// or wss:// address (got '203.0.113.21:8080')"),
    ({"attest_settings": dict(ATTEST, enclave_service_attest_timeout="0")},
     "oracle-1: enclave_service_attest_timeout must be more than 0 and at most 120 seconds"),
    ({"attest_settings": dict(ATTEST, enclave_service_attest_root_certificate="root.pem")},
     "oracle-1: enclave_service_attest_root_certificate must be empty or an absolute path"),
    ({"attest_settings": dict(ATTEST, enclave_service_attest_max_age_seconds="0")},
     "oracle-1: enclave_service_attest_max_age_seconds must be a number of seconds above 0"),
    ({"registry_quote_settings": dict(QUOTE, enclave_service_registry_quote="sometimes")},
     "oracle-1: enclave_service_registry_quote must be true or false (got 'sometimes')"),
    ({"registry_quote_settings": dict(QUOTE, enclave_service_registry_quote_from="registry")},
     "oracle-1: enclave_service_registry_quote_from must be one of controller, host (got 'registry')"),
    ({"registry_quote_settings": dict(QUOTE, enclave_service_registry_quote_url="ws://:8080")},
     "oracle-1: enclave_service_registry_quote_url must be a ws:// or wss:// address with a host (got 'ws://:8080')"),
    ({"registry_quote_settings": dict(QUOTE, enclave_service_registry_quote_address=" ")},
     "oracle-1: enclave_service_registry_quote_address must be the oracle's address as the registry knows it"),
    ({"registry_quote_settings": dict(QUOTE, enclave_service_registry_quote_timeout="121")},
     "oracle-1: enclave_service_registry_quote_timeout must be more than 0 and at most 120 seconds"),
    ({"registry_quote_settings": dict(QUOTE, enclave_service_registry_quote_retries="-1")},
     "oracle-1: enclave_service_registry_quote_retries must be a whole number, 0 or more"),
    ({"eif_size": 2750 * 1048576 + 1},
     "oracle-1: oracle_service_enclave_memory_mib: the oracle enclave gets 11000 MiB but its image"
     " (/opt/opencontracts/oracle.eif) has 2883584001 bytes; run-enclave needs at least 4 x that (it refuses less, E26),"
     " 11001 MiB: raise oracle_service_enclave_memory_mib"),
])
def test_one_message_per_bad_value(changes, expected):
    found = errors(**changes)
    assert len(found) == 1, found
    assert found[0].startswith(expected), found


@pytest.mark.parametrize("name", ["enclave_name", "tmux_session", "folder", "script", "launcher"])
def test_a_name_with_a_trailing_line_break_is_refused(name):
    # re.match with '$' accepted "oracle\n" (a unit line split in two); names must match whole.
    found = errors(**{name: GOOD[name] + "\n"})
    assert len(found) == 1 and "oracle_service_" + name in found[0]


def test_a_user_with_a_trailing_line_break_is_refused():
    assert errors(user="root\n") == ["oracle-1: oracle_service_user: 'root\\n' is not a user name"]
    assert errors(user="svc$") == []


def test_every_bad_value_is_listed():
    found = errors(port=0, user="", permitted_pcr0=[])
    assert len(found) == 3


def test_registry_messages_name_the_registry_variables():
    found = enclave_service_input_errors(dict(GOOD, kind="registry", host="registry-1", cpu_count=0))
    assert found == ["registry-1: registry_service_enclave_cpu_count: must be a whole number of at least 1; got 0"]


def test_the_host_rules():
    missing = {"script": {"path": "/srv/x/serve_oracle.sh", "exists": False}, "tmux": {"present": False}}
    found = errors(facts=missing, console="tmux")
    assert found == [
        "oracle-1: oracle_service_script: /srv/x/serve_oracle.sh is not on the host: check oracle_service_folder and"
        " oracle_service_script against the enclave repository at the pinned version (an upstream rename?)",
        "oracle-1: oracle_service_console: is tmux but /usr/bin/tmux is missing (the host_prep role installs it)",
    ]
    # tmux only matters for the tmux console and the launcher (serve_enclave.sh starts tmux).
    assert len(errors(facts=missing)) == 1
    assert errors(facts=missing, entry_point="launcher")[1] == (
        "oracle-1: oracle_service_entry_point: is launcher (serve_enclave.sh starts the serve script in tmux) but"
        " /usr/bin/tmux is missing (the host_prep role installs it)")
    # In check mode the checkout and tmux may still be pending.
    assert errors(facts=missing, console="tmux", check_mode=True) == []


def test_a_non_dictionary_is_a_filter_error():
    with pytest.raises(AnsibleFilterError, match="must be a dictionary"):
        enclave_service_input_errors(["x"])


def test_the_quote_settings_are_checked_only_when_the_stage_is_on_for_an_oracle():
    off = dict(QUOTE, enclave_service_registry_quote="false", enclave_service_registry_quote_url="ws://:8080")
    assert errors(registry_quote_settings=off) == []
    registry = dict(GOOD, kind="registry", registry_quote_settings=dict(QUOTE, enclave_service_registry_quote_url="ws://:8080"))
    assert [error for error in enclave_service_input_errors(registry) if "registry_quote" in error] == []
