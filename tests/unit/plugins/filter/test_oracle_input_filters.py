# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The filters opencontracts.enclave.opn_to_wei, wei_to_opn, eth_checksum_address, oracle_input_errors and
rollout_setting_errors, and playbooks/preflight.yml, which uses the last two."""

import json
import os
import subprocess
import sys
import textwrap

import pytest
import yaml

from ansible.errors import AnsibleFilterError
from ansible_collections.opencontracts.enclave.plugins.filter import oracle_inputs as plugin

FILTERS = plugin.FilterModule().filters()
REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
FILTER_DIR = os.path.join(REPO_ROOT, "plugins", "filter")
ADDRESS = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"  # from the EIP-55 specification


def test_filter_names():
    assert sorted(FILTERS) == ["eth_checksum_address", "opn_to_wei", "oracle_input_errors", "oracle_serve_settings",
                               "rollout_setting_errors", "serving_input_errors", "wei_to_opn"]


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_every_filter_has_a_documentation_file(name):
    with open(os.path.join(FILTER_DIR, name + ".yml"), encoding="utf-8") as handle:
        doc = yaml.safe_load(handle)
    assert doc["DOCUMENTATION"]["name"] == name
    assert doc["DOCUMENTATION"]["short_description"]
    assert "_input" in doc["DOCUMENTATION"]["options"]
    assert "opencontracts.enclave." + name in doc["EXAMPLES"]
    assert "_value" in doc["RETURN"]


def test_opn_to_wei():
    assert FILTERS["opn_to_wei"]("2.5 OPN") == 2500000000000000000
    assert FILTERS["opn_to_wei"](2500000000000000000) == 2500000000000000000
    assert FILTERS["opn_to_wei"]("0.000000000000000001 OPN") == 1


@pytest.mark.parametrize("value", [2.5, 0.1, "1e18", True, "-1", "NaN OPN", "1.0000000000000000001 OPN"])
def test_opn_to_wei_errors_are_filter_errors(value):
    with pytest.raises(AnsibleFilterError, match="^opencontracts.enclave.opn_to_wei: the value "):
        FILTERS["opn_to_wei"](value)


def test_wei_to_opn():
    assert FILTERS["wei_to_opn"](2500000000000000000) == "2.5 OPN"
    assert FILTERS["wei_to_opn"](10 ** 30) == "1000000000000 OPN"
    with pytest.raises(AnsibleFilterError, match="^opencontracts.enclave.wei_to_opn: the value must not be negative"):
        FILTERS["wei_to_opn"](-1)


@pytest.mark.parametrize("text", ["2.5 OPN", "0 OPN", "0.000000000000000001 OPN", "1000000000000.000000000000000001 OPN"])
def test_wei_to_opn_inverts_opn_to_wei(text):
    assert FILTERS["wei_to_opn"](FILTERS["opn_to_wei"](text)) == text


def test_eth_checksum_address():
    assert FILTERS["eth_checksum_address"](ADDRESS.lower()) == ADDRESS
    with pytest.raises(AnsibleFilterError, match="checksum does not match"):
        FILTERS["eth_checksum_address"](ADDRESS[:3] + ADDRESS[3].swapcase() + ADDRESS[4:])


def test_missing_keccak_library_is_a_filter_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "Crypto.Hash", None)
    monkeypatch.setitem(sys.modules, "Cryptodome.Hash", None)
    with pytest.raises(AnsibleFilterError, match="pycryptodome"):
        FILTERS["eth_checksum_address"](ADDRESS)
    with pytest.raises(AnsibleFilterError, match="pycryptodome"):
        FILTERS["oracle_input_errors"]({"oracle-1": {"oracle_service_provider": ADDRESS}})


def test_oracle_input_errors():
    good = {
        "oracle_service_provider": ADDRESS,
        "oracle_service_registry": "203.0.113.10",
        "oracle_service_price": "2.5 OPN",
        "oracle_service_enclave_memory_mib": 10000,
        "oracle_service_enclave_cpu_count": 2,
        "host_prep_allocator_memory_mib": 11000,
        "host_prep_allocator_cpu_count": 2,
    }
    hosts = {
        "oracle-1": good,
        "oracle-2": dict(good, oracle_service_price=2.5, oracle_service_no_demand_timeout=-3),
    }
    problems = FILTERS["oracle_input_errors"](hosts)
    assert [problem.split(": ")[:2] for problem in problems] == [
        ["oracle-2", "oracle_service_price"], ["oracle-2", "oracle_service_no_demand_timeout"],
    ]
    assert FILTERS["oracle_input_errors"]({"oracle-1": good}) == []
    assert len(FILTERS["oracle_input_errors"]({"oracle-1": good}, eif_size=3 * 2 ** 30)) == 1
    with pytest.raises(AnsibleFilterError, match="expects a mapping"):
        FILTERS["oracle_input_errors"](["oracle-1"])


def test_oracle_input_errors_for_registries_over_defaults():
    defaults = {
        "registry_service_enclave_memory_mib": 11000,
        "registry_service_enclave_cpu_count": 2,
        "registry_service_debug_mode": False,
        "host_prep_allocator_memory_mib": 11000,
        "host_prep_allocator_cpu_count": 2,
        "host_prep_allocator_cpu_pool": "",
    }
    hosts = {
        "registry-1": {},
        "registry-2": {"registry_service_enclave_cpu_count": 3, "registry_service_debug_mode": "yes"},
        "registry-3": {"host_prep_allocator_cpu_pool": "2-1"},
    }
    assert FILTERS["oracle_input_errors"](hosts, kind="registry", defaults=defaults) == [
        "registry-2: registry_service_debug_mode: must be true or false; got 'yes'. Debug mode is only used when it is "
        "set to true explicitly",
        "registry-2: registry_service_enclave_cpu_count: the enclave's 3 CPUs do not fit in the 2 CPUs the allocator "
        "reserves (host_prep_allocator_cpu_count)",
        "registry-3: host_prep_allocator_cpu_pool: is not a CPU list such as 1,9 or 2-3,10-11",
    ]
    # Without the defaults, the sizing of registry-1 is missing.
    assert len(FILTERS["oracle_input_errors"]({"registry-1": {}}, kind="registry")) == 4


def test_oracle_input_errors_option_errors_are_filter_errors():
    with pytest.raises(AnsibleFilterError, match="^opencontracts.enclave.oracle_input_errors: kind must be one of oracle, registry"):
        FILTERS["oracle_input_errors"]({}, kind="registries")
    with pytest.raises(AnsibleFilterError, match="^opencontracts.enclave.oracle_input_errors: the defaults must be a mapping"):
        FILTERS["oracle_input_errors"]({}, defaults=["host_prep"])


def test_rollout_setting_errors():
    hosts = {"oracle-1": {"oracle_rollout_batch": ["1", "0%"], "oracle_rollout_max_fail_percentage": 150,
                          "registry_rollout_batch": 0}}
    assert FILTERS["rollout_setting_errors"](hosts) == [
        'oracle-1: oracle_rollout_batch: "0%" is not a batch size; give a positive number of hosts (2), a percentage of '
        'the group ("25%"), or a list of them',
        "oracle-1: oracle_rollout_max_fail_percentage: 150 is not a percentage; give a whole number from 0 to 100",
    ]
    assert FILTERS["rollout_setting_errors"](hosts, kind="registry") == [
        "oracle-1: registry_rollout_batch: 0 is not a batch size; give a positive number of hosts (2), a percentage of "
        'the group ("25%"), or a list of them',
    ]
    assert FILTERS["rollout_setting_errors"]({}) == []
    with pytest.raises(AnsibleFilterError, match="^opencontracts.enclave.rollout_setting_errors: expects a mapping"):
        FILTERS["rollout_setting_errors"](["oracle-1"])
    with pytest.raises(AnsibleFilterError, match="^opencontracts.enclave.rollout_setting_errors: kind must be one of"):
        FILTERS["rollout_setting_errors"](hosts, kind="all")


PREFLIGHT = """\
- name: Preflight
  hosts: oracles
  gather_facts: false
  tasks:
    - name: Validate every oracle's inputs on the controller
      ansible.builtin.assert:
        that: __errors | length == 0
        fail_msg: "{{ __errors }}"
        quiet: true
      run_once: true
      vars:
        __errors: >-
          {{ dict(ansible_play_hosts_all | zip(ansible_play_hosts_all | map('extract', hostvars)))
             | opencontracts.enclave.oracle_input_errors }}
    - name: Render the oracle's settings
      ansible.builtin.debug:
        msg: >-
          PROVIDER={{ oracle_service_provider | opencontracts.enclave.eth_checksum_address }}
          PRICE={{ oracle_service_price | opencontracts.enclave.opn_to_wei }}
          SHOWN={{ oracle_service_price | opencontracts.enclave.opn_to_wei | opencontracts.enclave.wei_to_opn }}
"""

INVENTORY = """\
oracles:
  vars:
    ansible_connection: local
    oracle_service_registry: 203.0.113.10
    oracle_service_enclave_memory_mib: 10000
    oracle_service_enclave_cpu_count: 2
    host_prep_allocator_memory_mib: 11000
    host_prep_allocator_cpu_count: 2
  hosts:
    oracle-1:
      oracle_service_provider: "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"
      oracle_service_price: "2.5 OPN"
    oracle-2:
      oracle_service_provider: %s
      oracle_service_price: %s
"""


def run_playbook(tmp_path, provider, price):
    ansible_playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    if not os.path.exists(ansible_playbook):
        pytest.skip("ansible-playbook is not installed next to this Python")
    (tmp_path / "preflight.yml").write_text(PREFLIGHT)
    (tmp_path / "inventory.yml").write_text(INVENTORY % (provider, price))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO_ROOT, ".cache", "collections"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"), ANSIBLE_HOME=str(tmp_path / "home"))
    return subprocess.run([ansible_playbook, "-i", "inventory.yml", "preflight.yml"], cwd=str(tmp_path), env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=300, check=False)


def test_preflight_play_lists_every_bad_value_and_touches_nothing(tmp_path):
    # As YAML reads them unquoted: the address becomes a hexadecimal int, the price a float.
    result = run_playbook(tmp_path, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "2.5")
    assert result.returncode != 0, result.stdout
    assert "oracle-2: oracle_service_provider: was read as a number" in result.stdout
    assert 'oracle-2: oracle_service_price: is the floating-point number 2.5' in result.stdout
    assert "oracle-1:" not in result.stdout.split("PLAY RECAP")[0].replace("[oracle-1]", "")
    assert "PROVIDER=" not in result.stdout


def test_preflight_play_passes_and_renders_normalised_values(tmp_path):
    result = run_playbook(tmp_path, '"0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"', '"2500000000000000001"')
    assert result.returncode == 0, result.stdout
    assert "PROVIDER=0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed PRICE=2500000000000000000 SHOWN=2.5 OPN" in result.stdout
    assert "PROVIDER=0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359 PRICE=2500000000000000001 SHOWN=2.500000000000000001 OPN" in result.stdout


FLEET = """\
all:
  vars:
    # Nothing listens there: a task that ran on a host would fail as unreachable.
    ansible_connection: ssh
    ansible_host: 127.0.0.1
    ansible_port: 1
  children:
    oracles:
      vars:
        oracle_service_provider: "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
        oracle_service_registry: 198.51.100.20
        oracle_rollout_batch: %s
      hosts:
        oracle-1: {oracle_service_price: "2.5 OPN", host_prep_allocator_cpu_pool: %s}
        oracle-2: {oracle_service_price: "1", oracle_service_debug_mode: true}
    registries:
      hosts:
        registry-1: {registry_service_enclave_cpu_count: %s, registry_service_debug_mode: "TRUE"}
    monitoring:
      hosts:
        bystander: {oracle_service_price: -1, registry_service_enclave_cpu_count: 0}
"""


def run_preflight(tmp_path, batch, pool, registry_cpus, extra_vars="{}"):
    """playbooks/preflight.yml of this working tree against FLEET, with the JSON callback: (rc, the report)."""
    ansible_playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    if not os.path.exists(ansible_playbook):
        pytest.skip("ansible-playbook is not installed next to this Python")
    (tmp_path / "fleet.yml").write_text(FLEET % (batch, pool, registry_cpus))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO_ROOT, ".cache", "collections"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"), ANSIBLE_HOME=str(tmp_path / "home"),
               ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_CALLBACKS_ENABLED="ansible.posix.json",
               ANSIBLE_HOST_KEY_CHECKING="false")
    result = subprocess.run([ansible_playbook, "-i", "fleet.yml", os.path.join(REPO_ROOT, "playbooks", "preflight.yml"),
                             "-e", extra_vars],
                            cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, timeout=300, check=False)
    try:
        report = json.loads(result.stdout)
    except ValueError:
        pytest.fail("no JSON report: %s %s" % (result.stdout, result.stderr))
    tasks = {task["task"]["name"]: list(task["hosts"].values()) for task in report["plays"][0]["tasks"]}
    assert all(len(results) == 1 for results in tasks.values()), tasks  # each task once, on the controller
    assert not any(stats["unreachable"] or stats["changed"] for stats in report["stats"].values()), report["stats"]
    return result.returncode, tasks


def test_preflight_playbook_refuses_every_bad_value(tmp_path):
    returncode, tasks = run_preflight(tmp_path, '["1", "0%"]', '"1 and 5"', 3, '{"registry_rollout_max_fail_percentage": 101}')
    assert returncode == 2
    check = tasks["Preflight | every bad value of every host, in one failure"][0]
    assert check["failed"]
    assert sorted(check["msg"][1:]) == sorted([
        'oracle-1: oracle_rollout_batch: "0%" is not a batch size; give a positive number of hosts (2), a percentage '
        'of the group ("25%"), or a list of them',
        "registry-1: registry_rollout_max_fail_percentage: 101 is not a percentage; give a whole number from 0 to 100",
        "oracle-1: host_prep_allocator_cpu_pool: is not a CPU list such as 1,9 or 2-3,10-11",
        # host_prep's defaults (2 CPUs) under registry-1's values
        "registry-1: registry_service_enclave_cpu_count: the enclave's 3 CPUs do not fit in the 2 CPUs the allocator "
        "reserves (host_prep_allocator_cpu_count)",
    ])
    assert check["msg"][0].startswith("Refusing to touch any host: 4 bad input value(s).")
    assert "Preflight | flag every enclave that will run in debug mode" not in tasks


def test_preflight_playbook_passes_and_flags_debug_mode(tmp_path):
    returncode, tasks = run_preflight(tmp_path, '"50%"', '"1-2"', 2, '{"registry_rollout_max_fail_percentage": 100}')
    assert returncode == 0
    check = tasks["Preflight | every bad value of every host, in one failure"][0]
    assert check["msg"] == "Inputs valid: 2 oracle(s), 1 registry host(s)"
    flag = tasks["Preflight | flag every enclave that will run in debug mode"][0]
    assert flag["msg"][1:] == ["oracle-2: oracle_service_debug_mode: true", "registry-1: registry_service_debug_mode: true"]


def test_plugin_utils_imports_without_third_party_packages():
    code = textwrap.dedent("""
        import sys
        sys.modules["Crypto"] = None
        sys.modules["Cryptodome"] = None
        sys.path.insert(0, %r)
        from ansible_collections.opencontracts.enclave.plugins.plugin_utils import oracle_inputs
        assert oracle_inputs.parse_price("2.5 OPN") == 2500000000000000000
    """) % os.path.join(REPO_ROOT, ".cache", "collections")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_oracle_serve_settings_filter():
    assert FILTERS["oracle_serve_settings"]({
        "oracle_service_provider": ADDRESS.lower(), "oracle_service_registry": "2001:DB8::10",
        "oracle_service_price": "1 OPN", "oracle_service_no_demand_timeout": "0012"}) == {
        "PROVIDER": ADDRESS, "REGISTRY": "2001:db8::10", "PRICE": "1000000000000000000", "NO_DEMAND_TIMEOUT": "12"}
    with pytest.raises(AnsibleFilterError, match="^opencontracts.enclave.oracle_serve_settings: oracle_service_registry: "
                                                 ".* has a zone ID"):
        FILTERS["oracle_serve_settings"]({
            "oracle_service_provider": ADDRESS, "oracle_service_registry": "fe80::1%$(id)",
            "oracle_service_price": "1", "oracle_service_no_demand_timeout": ""})


ROLE_SETTINGS_PLAY = """\
- name: The settings the role oracle_service gives its serve script
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    oracle_service_provider: "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"
    oracle_service_registry: " 2001:DB8:0:0:0:0:0:10 "
    oracle_service_price: "2.5 OPN"
    oracle_service_no_demand_timeout: "0012"
    oracle_service_extra_settings: %s
    settings: %s
  tasks:
    - name: Show them
      ansible.builtin.debug:
        var: settings
"""


def role_settings(tmp_path, extra):
    """What roles/oracle_service/tasks/main.yml gives enclave_service as its settings, rendered by Ansible."""
    ansible_playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    if not os.path.exists(ansible_playbook):
        pytest.skip("ansible-playbook is not installed next to this Python")
    with open(os.path.join(REPO_ROOT, "roles", "oracle_service", "tasks", "main.yml"), encoding="utf-8") as handle:
        tasks = yaml.safe_load(handle)
    expression = tasks[0]["vars"]["enclave_service_settings"]
    (tmp_path / "play.yml").write_text(ROLE_SETTINGS_PLAY % (json.dumps(extra), json.dumps(expression)))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO_ROOT, ".cache", "collections"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"), ANSIBLE_HOME=str(tmp_path / "home"),
               ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_CALLBACKS_ENABLED="ansible.posix.json",
               ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false")
    result = subprocess.run([ansible_playbook, "play.yml"], cwd=str(tmp_path), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True, timeout=300, check=False)
    report = json.loads(result.stdout)
    return list(report["plays"][0]["tasks"][0]["hosts"].values())[0]


def test_the_role_writes_the_normalised_values(tmp_path):
    shown = role_settings(tmp_path, {"LOG_LEVEL": "info"})
    assert shown["settings"] == {"PROVIDER": ADDRESS, "REGISTRY": "2001:db8::10", "PRICE": "2500000000000000000",
                                 "NO_DEMAND_TIMEOUT": "12", "LOG_LEVEL": "info"}


def test_the_role_refuses_extra_settings_that_override_a_validated_value(tmp_path):
    shown = role_settings(tmp_path, {"PRICE": "0"})
    assert shown.get("failed"), shown
    assert "oracle_service_extra_settings: PRICE is set by oracle_service_price" in json.dumps(shown)


GOOD_ORACLE = {
    "oracle_service_provider": ADDRESS, "oracle_service_registry": "203.0.113.10", "oracle_service_price": "2.5 OPN",
    "oracle_service_enclave_memory_mib": 10000, "oracle_service_enclave_cpu_count": 2,
    "host_prep_allocator_memory_mib": 11000, "host_prep_allocator_cpu_count": 2,
    "enclave_build_result": {"kind": "oracle", "path": "/opt/opencontracts/oracle.eif", "size": 2 ** 30},
}


def test_serving_input_errors_of_a_good_oracle_and_registry():
    assert FILTERS["serving_input_errors"](GOOD_ORACLE, "oracle-1") == []
    registry = {"registry_service_enclave_memory_mib": 4000, "registry_service_enclave_cpu_count": 2,
                "host_prep_allocator_memory_mib": 4096, "host_prep_allocator_cpu_count": 2,
                "enclave_build_result": {"kind": "registry", "path": "/opt/opencontracts/registry.eif", "size": 0}}
    assert FILTERS["serving_input_errors"](registry, "registry-1", "registry") == []


@pytest.mark.parametrize("image, shown", [
    (None, "no enclave_build_result"),
    ({"kind": "registry", "path": "/opt/r.eif"}, "{'kind': 'registry', 'path': '/opt/r.eif'}"),
    ({"kind": "oracle", "path": "oracle.eif"}, "{'kind': 'oracle', 'path': 'oracle.eif'}"),
])
def test_serving_input_errors_name_an_image_that_is_not_the_oracles(image, shown):
    errors = FILTERS["serving_input_errors"](dict(GOOD_ORACLE, enclave_build_result=image), "oracle-1")
    assert errors == ["oracle-1: oracle_service serves the image that opencontracts.enclave.enclave_build installs and "
                      "describes in the fact enclave_build_result (with enclave_build_kind: oracle); got " + shown]


def test_serving_input_errors_check_the_memory_against_the_image_size_after_the_image():
    image = dict(GOOD_ORACLE["enclave_build_result"], size=3 * 2 ** 30)
    errors = FILTERS["serving_input_errors"](dict(GOOD_ORACLE, enclave_build_result=image,
                                                  oracle_service_price=2.5), "oracle-1")
    assert [error.split(": ")[:2] for error in errors] == [
        ["oracle-1", "oracle_service_price"], ["oracle-1", "oracle_service_enclave_memory_mib"]]
    wrong_kind = dict(image, kind="registry")
    errors = FILTERS["serving_input_errors"](dict(GOOD_ORACLE, enclave_build_result=wrong_kind), "oracle-1")
    assert "serves the image" in errors[0] and len(errors) == 2


def test_serving_input_errors_option_errors_are_filter_errors():
    with pytest.raises(AnsibleFilterError, match="expects the host's variables as a dictionary"):
        FILTERS["serving_input_errors"]([], "oracle-1")
    with pytest.raises(AnsibleFilterError, match="kind must be one of"):
        FILTERS["serving_input_errors"](GOOD_ORACLE, "oracle-1", "client")
