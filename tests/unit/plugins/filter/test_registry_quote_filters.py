"""The registry quote's filters: the Python that asks the registry, from the controller or on the host."""

import os

import pytest
import yaml

from ansible.errors import AnsibleFilterError
from ansible_collections.opencontracts.enclave.plugins.filter import registry_quote as plugin

FILTERS = plugin.FilterModule().filters()
REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))


def test_filter_names_and_their_documentation():
    for name in FILTERS:
        with open(os.path.join(REPO_ROOT, "plugins", "filter", name + ".yml")) as handle:
            assert yaml.safe_load(handle)["DOCUMENTATION"]["name"] == name


@pytest.mark.parametrize("where, host_vars, expected", [
    ("controller", {"ansible_python_interpreter": "/usr/bin/python3.9"}, "/opt/venv/bin/python"),
    ("host", {"ansible_python_interpreter": "/usr/bin/python3.9", "discovered_interpreter_python": "/usr/bin/python3.6"},
     "/usr/bin/python3.9"),
    ("host", {"discovered_interpreter_python": "/usr/libexec/platform-python"}, "/usr/libexec/platform-python"),
    ("host", {}, "/usr/bin/python3"),
    ("host", None, "/usr/bin/python3"),
])
def test_the_python_that_asks_the_registry(where, host_vars, expected):
    assert FILTERS["registry_quote_python"](where, "/opt/venv/bin/python", host_vars) == expected


def test_anywhere_else_is_an_error():
    with pytest.raises(AnsibleFilterError, match="where must be controller or host, got 'registry'"):
        FILTERS["registry_quote_python"]("registry", "/opt/venv/bin/python", {})
