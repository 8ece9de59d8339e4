"""The execution environment definition (meta/execution-environment.yml) and the collection's EE metadata.

``ansible-builder create`` renders the build context from a copy of the files git sees, as a release
would, after ``ansible-galaxy collection build`` (the definition installs the collection from that
tarball). It only writes files: nothing is pulled or downloaded. The image build itself needs a
registry and is not run here.

The expectations come from elsewhere than the definition: the Python packages from the imports of the
code that runs on the controller, their versions from requirements-dev.txt, the collections from the
fully qualified names the roles, playbooks and plugins use, amazon.aws's range and the version from
galaxy.yml.
"""

import ast
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile

import pytest
import yaml
from bindep.depends import Depends
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
BIN = os.path.dirname(sys.executable)
DEFINITION = "meta/execution-environment.yml"
# The collections the `ansible` package in the virtual environment bundles.
BUNDLED = os.path.join(sysconfig.get_paths()["purelib"], "ansible_collections")

# Third-party import names and the distributions that provide them.
DISTRIBUTIONS = {"boto3": "boto3", "botocore": "botocore", "Crypto": "pycryptodome", "Cryptodome": "pycryptodome",
                 "websockets": "websockets", "cbor2": "cbor2", "cryptography": "cryptography",
                 "prometheus_client": "prometheus_client"}
# Modules that run on the controller (plays on localhost), not on the managed hosts: their imports count too.
CONTROLLER_MODULES = ["ec2_enclave_instances", "attestation_probe", "fleet_report_metrics"]


def _load_yaml(path):
    with open(path) as handle:
        return yaml.safe_load(handle)


def _galaxy():
    return _load_yaml(os.path.join(REPO, "galaxy.yml"))


def _run(argv, cwd):
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    assert result.returncode == 0, "%s failed (rc %d):\n%s\n%s" % (
        " ".join(argv), result.returncode, result.stdout, result.stderr)
    return result.stdout


def _requirements(path):
    """{name: Requirement} of a pip requirements file."""
    found = {}
    with open(path) as handle:
        for line in handle:
            line = line.split("#", 1)[0].strip()
            if line:
                requirement = Requirement(line)
                found[requirement.name.lower()] = requirement
    return found


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    """A copy of the checkout (links kept as links), its collection tarball and the rendered EE context."""
    tmp = tmp_path_factory.mktemp("ee")
    source = tmp / "src"
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            check=True, capture_output=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        origin = os.path.join(REPO, name)
        if not os.path.lexists(origin) or (os.path.isdir(origin) and not os.path.islink(origin)):
            continue
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if os.path.islink(origin):
            os.symlink(os.readlink(origin), target)
        else:
            shutil.copyfile(origin, target)
    _run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "."], cwd=source)
    context = tmp / "context"
    _run([os.path.join(BIN, "ansible-builder"), "create", "-f", DEFINITION, "-c", str(context)], cwd=source)
    return {"source": source, "context": context, "build": context / "_build",
            "definition": _load_yaml(source / DEFINITION)}


# An image reference pinned by its digest: registry[:port]/repository@sha256:<64 hex>, no tag.
PINNED_IMAGE = re.compile(r"[^\s:@/]+(:\d+)?/[^\s:@]+@sha256:[0-9a-f]{64}\Z")


def test_definition_is_version_3_with_a_base_image_pinned_by_digest(build):
    definition = build["definition"]
    assert definition["version"] == 3
    name = definition["images"]["base_image"]["name"]
    assert PINNED_IMAGE.match(name), "the base image %r is not pinned by its digest (see docs/awx.md)" % name


@pytest.mark.parametrize("name, pinned", [
    ("registry.access.redhat.com/ubi9/ubi:latest", False),
    ("registry.access.redhat.com/ubi9/ubi:9.5", False),
    ("registry.access.redhat.com/ubi9/ubi", False),
    ("registry.access.redhat.com/ubi9/ubi:latest@sha256:" + "a" * 64, False),
    ("registry.access.redhat.com/ubi9/ubi@sha256:" + "a" * 63, False),
    ("registry.access.redhat.com/ubi9/ubi@sha256:" + "A" * 64, False),
    ("registry.access.redhat.com/ubi9/ubi@sha256:" + "a" * 64 + "\n", False),
    ("registry.access.redhat.com/ubi9/ubi@sha256:" + "a" * 64, True),
    ("localhost:5000/ubi9/ubi@sha256:" + "0" * 64, True),
])
def test_the_digest_rule_itself(name, pinned):
    assert bool(PINNED_IMAGE.match(name)) is pinned


def test_containerfile_installs_the_pinned_ansible(build):
    containerfile = (build["context"] / "Containerfile").read_text()
    base = build["definition"]["images"]["base_image"]["name"]
    # The base image is a build argument: --build-arg EE_BASE_IMAGE=... replaces it.
    assert 'ARG EE_BASE_IMAGE="%s"' % base in containerfile
    assert "FROM $EE_BASE_IMAGE AS base" in containerfile
    refs = re.search(r'^ARG ANSIBLE_INSTALL_REFS="([^"]*)"$', containerfile, re.MULTILINE).group(1).split()
    dev = _requirements(os.path.join(REPO, "requirements-dev.txt"))
    assert "ansible-core==%s" % next(iter(dev["ansible-core"].specifier)).version in refs
    assert any(Requirement(ref).name == "ansible-runner" and Requirement(ref).specifier for ref in refs)
    # ansible-core >= 2.19 needs Python 3.11 or later on the controller.
    pycmd = re.search(r'^ARG PYCMD="([^"]*)"$', containerfile, re.MULTILINE).group(1)
    version = re.search(r"python(\d+)\.(\d+)$", pycmd)
    assert version and (int(version.group(1)), int(version.group(2))) >= (3, 11), pycmd


def _controller_imports():
    """Top-level names imported by the code that runs on the controller: filters, the plugin_utils and
    module_utils they reach, and the modules of plays on localhost."""
    prefix = "ansible_collections.opencontracts.enclave.plugins."
    todo = [os.path.join(REPO, "plugins", "filter", name)
            for name in os.listdir(os.path.join(REPO, "plugins", "filter")) if name.endswith(".py")]
    todo += [os.path.join(REPO, "plugins", "modules", name + ".py") for name in CONTROLLER_MODULES]
    seen, names = set(), set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        with open(path) as handle:
            tree = ast.parse(handle.read(), path)
        for node in ast.walk(tree):
            modules = []
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                # `from ...plugins.module_utils import allocator` imports the file allocator.py.
                modules = [node.module] + ["%s.%s" % (node.module, alias.name) for alias in node.names]
            for module in modules:
                # plugins.<plugin_utils|module_utils>.<file>[.<name>]
                parts = module[len(prefix):].split(".") if module.startswith(prefix) else []
                if len(parts) >= 2 and parts[0] in ("plugin_utils", "module_utils"):
                    todo.append(os.path.join(REPO, "plugins", parts[0], parts[1] + ".py"))
                names.add(module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"ansible", "ansible_collections", "__future__"}


def test_python_requirements_cover_what_the_controller_imports(build):
    rendered = _requirements(build["build"] / "requirements.txt")
    imported = _controller_imports()
    unknown = imported - set(DISTRIBUTIONS)
    assert not unknown, "controller-side imports with no known distribution (add them to requirements.txt): %s" % unknown
    # The amazon.aws content the collection uses (aws_ec2 inventory, EC2 modules) needs boto3 as well.
    needed = {DISTRIBUTIONS[name] for name in imported} | {"boto3", "botocore"}
    assert needed <= set(rendered), "missing from requirements.txt: %s" % (needed - set(rendered))
    assert "pycryptodome" in needed  # the Keccak-256 import of plugin_utils/oracle_inputs.py was found
    # The module attestation_verify runs on the controller (delegate_to: localhost): it decodes with
    # cbor2 and verifies with cryptography, which the scan of controller-only code does not see.
    assert {"cbor2", "cryptography"} <= set(rendered)
    # The attestation probe and the metrics (fleet_report_attest, fleet_report_metrics_path) were found.
    assert {"websockets", "cbor2", "cryptography", "prometheus_client"} <= needed


def test_python_requirements_are_the_tested_versions_exactly(build):
    rendered = _requirements(build["build"] / "requirements.txt")
    dev = _requirements(os.path.join(REPO, "requirements-dev.txt"))
    for name, requirement in rendered.items():
        specifiers = list(requirement.specifier)
        assert len(specifiers) == 1 and specifiers[0].operator == "==", "%s is not pinned with ==: %s" % (name, requirement)
        tested = next(iter(dev[name].specifier)).version
        assert specifiers[0].version == tested, "%s %s is not the tested %s" % (name, requirement.specifier, tested)


def test_the_requirements_say_how_to_update_the_pins():
    with open(os.path.join(REPO, "meta", "requirements.txt")) as handle:
        text = handle.read()
    assert "requirements-dev.txt" in text and "update" in text.lower()


def test_system_requirements_name_the_ssh_client(build):
    rules = Depends((build["build"] / "bindep.txt").read_text())
    assert [rule[0] for rule in rules.active_rules(["platform:rpm", "platform:redhat"])] == ["openssh-clients"]
    assert [rule[0] for rule in rules.active_rules(["platform:dpkg", "platform:debian"])] == ["openssh-client"]


def _used_collections():
    """Collections named in fully qualified names by the shipped roles, playbooks, inventories and plugins
    (a name counts when such a collection exists among the ones the `ansible` package bundles)."""
    used = set()
    pattern = re.compile(r"\b([a-z][a-z0-9_]*)\.([a-z][a-z0-9_]*)\.[a-z][a-z0-9_]*\b")
    for folder in ("roles", "playbooks", "inventories", "plugins"):
        for root, _dirs, files in os.walk(os.path.join(REPO, folder)):
            # The sandbox inventory is repository-only (galaxy.yml build_ignore): it runs on the test harness.
            if os.path.relpath(root, REPO).startswith(os.path.join("inventories", "sandbox")):
                continue
            for name in files:
                if not name.endswith((".yml", ".yaml", ".py", ".j2")):
                    continue
                with open(os.path.join(root, name)) as handle:
                    for namespace, collection in pattern.findall(handle.read()):
                        if os.path.isdir(os.path.join(BUNDLED, namespace, collection)):
                            used.add("%s.%s" % (namespace, collection))
    return used - {"ansible.builtin", "opencontracts.enclave"}


def test_galaxy_requirements_are_the_collections_the_content_uses(build):
    requirements = _load_yaml(build["build"] / "requirements.yml")
    named = {entry["name"]: entry for entry in requirements["collections"] if entry.get("type") != "file"}
    used = _used_collections()
    assert "amazon.aws" in used
    assert set(named) == used
    # Pinned to the amazon.aws the tests run with (the one the `ansible` package bundles), which must be
    # in the range galaxy.yml depends on (the collection's tarball brings that dependency along).
    tested = json.loads((pathlib.Path(BUNDLED) / "amazon" / "aws" / "MANIFEST.json").read_text())["collection_info"]["version"]
    assert named["amazon.aws"]["version"] == "==" + tested
    assert SpecifierSet(_galaxy()["dependencies"]["amazon.aws"]).contains(tested)


def test_the_collection_itself_comes_from_its_tarball(build):
    galaxy = _galaxy()
    tarball = "%s-%s-%s.tar.gz" % (galaxy["namespace"], galaxy["name"], galaxy["version"])
    requirements = _load_yaml(build["build"] / "requirements.yml")
    files = [entry["name"] for entry in requirements["collections"] if entry.get("type") == "file"]
    assert files == ["collections/" + tarball], "keep the tarball's version in %s equal to galaxy.yml's" % DEFINITION
    copied = build["build"] / "collections" / tarball
    assert copied.is_file()
    assert copied.read_bytes() == (build["source"] / tarball).read_bytes()


def test_artifact_ships_the_ee_metadata(build):
    galaxy = _galaxy()
    tarball = build["source"] / ("%s-%s-%s.tar.gz" % (galaxy["namespace"], galaxy["name"], galaxy["version"]))
    with tarfile.open(tarball) as tar:
        members = {member.name: member for member in tar.getmembers()}
    for name in (DEFINITION, "meta/requirements.txt", "meta/bindep.txt"):
        assert members[name].isfile(), name
    for name in ("requirements.txt", "bindep.txt"):
        assert members[name].issym() and members[name].linkname == "meta/" + name, name


def test_an_ee_that_installs_the_collection_finds_its_requirements(build, tmp_path):
    """What ansible-builder reads when another EE lists opencontracts.enclave: meta/execution-environment.yml's
    `python` and `system`, relative to the installed collection's root."""
    galaxy = _galaxy()
    tarball = build["source"] / ("%s-%s-%s.tar.gz" % (galaxy["namespace"], galaxy["name"], galaxy["version"]))
    collections = tmp_path / "collections"
    # --force: the collection may already be on the collections path (make test links the checkout there).
    _run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "--offline", "--no-deps", "--force",
          "-p", str(collections / "ansible_collections"), str(tarball)], cwd=tmp_path)
    found = yaml.safe_load(_run([os.path.join(BIN, "ansible-builder"), "introspect", "--sanitize", str(collections)],
                                cwd=tmp_path))
    origin = "  # from collection opencontracts.enclave"
    python = {Requirement(line[:-len(origin)]).name for line in found["python"] if line.endswith(origin)}
    assert python == set(_requirements(os.path.join(REPO, "requirements.txt")))
    system = [line[:-len(origin)] for line in found["system"] if line.endswith(origin)]
    assert system == [rule for rule in (build["build"] / "bindep.txt").read_text().splitlines()
                      if rule and not rule.startswith("#")]
