"""The fleet benchmark's inventory (tests/bench/fleet/bench_fleet.py inventory): the oracle hosts, and the
registry host they register with when the code under test has one."""

import importlib.util
import os

import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def load_bench_fleet():
    spec = importlib.util.spec_from_file_location("bench_fleet", os.path.join(REPO, "tests", "bench", "fleet", "bench_fleet.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BENCH = load_bench_fleet()


def code_tree(tmp_path, groups):
    """A collection tree whose inventories/sandbox has these group_vars files (group -> text)."""
    sandbox = tmp_path / "code" / "inventories" / "sandbox"
    (sandbox / "group_vars").mkdir(parents=True)
    (sandbox / "host_vars").mkdir()
    (sandbox / "host_vars" / "localhost.yml").write_text("---\nansible_connection: local\n")
    for group, text in groups.items():
        (sandbox / "group_vars" / (group + ".yml")).write_text(text)
    (sandbox / "group_vars" / "README.txt").write_text("not a group\n")
    return str(tmp_path / "code")


def write_inventory(tmp_path, code, hosts, registry):
    out = tmp_path / "inventory"
    rc = BENCH.main(["inventory", "--code", code, "--transport", "podman", "--hosts", str(hosts), "--out", str(out),
                     "--state", str(tmp_path / "state")] + (["--registry", registry] if registry else []))
    assert rc == 0
    return out


def test_registry_host_in_group_registries_and_the_oracles_point_at_it(tmp_path):
    code = code_tree(tmp_path, {"all": "---\nsandbox_x: 1\n",
                                "oracles": "---\noracle_service_registry: sandbox-registry\n",
                                "registries": "---\nregistry_y: 2\n"})
    out = write_inventory(tmp_path, code, 2, "bench-fleet-registry")

    inventory = yaml.safe_load((out / "hosts.yml").read_text())
    children = inventory["all"]["children"]
    assert sorted(children["oracles"]["hosts"]) == ["bench-fleet-1", "bench-fleet-2"]
    assert list(children["registries"]["hosts"]) == ["bench-fleet-registry"]
    assert "oracle_service_price" not in (children["registries"]["hosts"]["bench-fleet-registry"] or {})

    # The sandbox's group files, every one of them, verbatim; nothing else copied.
    assert sorted(os.listdir(out / "group_vars")) == ["all", "oracles", "registries"]
    assert (out / "group_vars" / "registries" / "00-sandbox.yml").read_text() == "---\nregistry_y: 2\n"
    # Loaded after the sandbox's file (Ansible reads a group's folder in name order): this set's registry.
    assert sorted(os.listdir(out / "group_vars" / "oracles")) == ["00-sandbox.yml", "10-bench-fleet.yml"]
    override = yaml.safe_load((out / "group_vars" / "oracles" / "10-bench-fleet.yml").read_text())
    assert override == {"oracle_service_registry":
                        "{{ lookup('ansible.builtin.file', attestation_access_dir ~ '/bench-fleet-registry.address') }}"}


def test_without_a_registry_the_set_has_only_oracles(tmp_path):
    # Code from before the registry (the baseline): no registries group, the oracles' settings untouched.
    code = code_tree(tmp_path, {"all": "---\nsandbox_x: 1\n", "oracles": "---\noracle_service_price: 1\n"})
    out = write_inventory(tmp_path, code, 1, None)

    inventory = yaml.safe_load((out / "hosts.yml").read_text())
    assert list(inventory["all"]["children"]) == ["oracles"]
    assert list(inventory["all"]["children"]["oracles"]["hosts"]) == ["bench-fleet-1"]
    assert os.listdir(out / "group_vars" / "oracles") == ["00-sandbox.yml"]
