"""The collection as a whole: what its artifact ships, and roles whose documentation matches their defaults."""

import glob
import os
import subprocess
import sys
import tarfile

import pytest
import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
ROLES = sorted(os.path.basename(os.path.dirname(os.path.dirname(path)))
               for path in glob.glob(os.path.join(REPO, "roles", "*", "meta", "argument_specs.yml")))
DEV_ONLY = ("tests/", "extensions/", ".ci/", ".venv/", ".cache/", "Makefile", "requirements-dev.txt", "pytest.ini",
            ".ansible-lint", ".yamllint", ".gitignore", "docs/benchmarks.md")


def test_artifact_ships_no_tests_or_dev_files(tmp_path):
    # Build from the files git sees, as a release would, not from local leftovers.
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            check=True, capture_output=True).stdout.decode().split("\0")
    source = tmp_path / "src"
    for name in filter(None, listed):
        if os.path.isfile(os.path.join(REPO, name)):
            target = source / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(open(os.path.join(REPO, name), "rb").read())
    galaxy = os.path.join(os.path.dirname(sys.executable), "ansible-galaxy")
    subprocess.run([galaxy, "collection", "build", "--output-path", str(tmp_path / "out"), str(source)],
                   check=True, capture_output=True)
    (artifact,) = glob.glob(str(tmp_path / "out" / "opencontracts-enclave-*.tar.gz"))
    with tarfile.open(artifact) as tar:
        names = tar.getnames()
    assert "plugins/modules/pcr_verify.py" in names
    assert "meta/runtime.yml" in names
    shipped_dev_files = [n for n in names if n.startswith(DEV_ONLY) or n in [d.rstrip("/") for d in DEV_ONLY]]
    assert shipped_dev_files == []


def _load(role, *parts):
    with open(os.path.join(REPO, "roles", role, *parts)) as handle:
        return yaml.safe_load(handle) or {}


@pytest.mark.parametrize("role", ROLES)
def test_argument_specs_match_defaults(role):
    # Every entry point's options (an internal role may have no main), and the defaults when there are any.
    options = {}
    for entry_point in _load(role, "meta", "argument_specs.yml")["argument_specs"].values():
        options.update(entry_point.get("options", {}))
    defaults = _load(role, "defaults", "main.yml") if os.path.exists(os.path.join(REPO, "roles", role, "defaults")) else {}
    assert sorted(defaults) == sorted(name for name, spec in options.items() if "default" in spec), \
        "every default has a documented default, and every documented default is in defaults/main.yml"
    for name, value in defaults.items():
        assert options[name]["default"] == value, "%s: argument_specs default differs from defaults/main.yml" % name
    for name, spec in options.items():
        assert spec.get("description"), "%s has no description" % name
        # Private inputs of an internal role start with an underscore, as ansible-lint reads them.
        assert name.lstrip("_").startswith(role + "_"), "%s is not prefixed with the role name" % name
