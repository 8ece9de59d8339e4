"""Finding one filter loads every filter file, so the filter files import their code only when a filter runs.

Ansible's filter loader (ansible-core 2.17 to 2.19) imports every file under plugins/filter/ of the collection
to find one filter name, in each worker process it forks for a task. A filter file that imports its
plugin_utils at the top makes every task that uses any filter of the collection pay for all of them. These
tests ask Ansible's own loader for one filter in a fresh interpreter and look at what it imported.
"""

import json
import os
import subprocess
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
COLLECTIONS_ROOT = os.path.join(REPO, ".cache", "collections")

LOAD_ONE_FILTER = r"""
import json, sys
from ansible.plugins.loader import filter_loader, init_plugin_loader

init_plugin_loader([sys.argv[1]])
before = set(sys.modules)
to_wei = filter_loader.get("opencontracts.enclave.opn_to_wei")
loaded = sorted(set(sys.modules) - before)
after_call = None
if to_wei is not None:
    value = getattr(to_wei, "j2_function", to_wei)("2.5 OPN")
    after_call = {"value": value, "loaded": sorted(set(sys.modules) - before)}
print(json.dumps({"found": to_wei is not None, "loaded": loaded, "after_call": after_call}))
"""

PACKAGE = "ansible_collections.opencontracts.enclave.plugins."
# What the filters' code needs, none of it to be imported just to find a filter.
HEAVY = ("cbor2", "cryptography", "Crypto", "websockets")


def _load_one_filter():
    proc = subprocess.run([sys.executable, "-c", LOAD_ONE_FILTER, COLLECTIONS_ROOT], capture_output=True, text=True,
                          check=False, env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=COLLECTIONS_ROOT))
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_finding_a_filter_imports_every_filter_file_but_none_of_their_code():
    result = _load_one_filter()
    assert result["found"]
    filter_files = {name for name in result["loaded"] if name.startswith(PACKAGE + "filter.")}
    expected_files = {PACKAGE + "filter." + name[:-3] for name in os.listdir(os.path.join(REPO, "plugins", "filter"))
                      if name.endswith(".py") and name != "__init__.py"}
    # The loader's behaviour these filter files are written for: every one of them is imported.
    assert filter_files == expected_files
    plugin_utils = [name for name in result["loaded"] if name.startswith(PACKAGE + "plugin_utils.")]
    heavy = [name for name in result["loaded"] if name.split(".")[0] in HEAVY]
    assert plugin_utils == []
    assert heavy == []


def test_a_filter_imports_its_code_when_it_runs():
    result = _load_one_filter()
    assert result["after_call"]["value"] == 2500000000000000000
    assert PACKAGE + "plugin_utils.oracle_inputs" in result["after_call"]["loaded"]
