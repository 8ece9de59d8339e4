"""Make the working tree importable as ``ansible_collections.opencontracts.enclave``.

The unit tests import the collection the way Ansible does. A symlink under
``.cache/collections`` points the collection name at this checkout, so the tests
always exercise the working tree, never an installed copy.
"""

import os
import sys

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
COLLECTIONS_ROOT = os.path.join(REPO_ROOT, ".cache", "collections")
_LINK = os.path.join(COLLECTIONS_ROOT, "ansible_collections", "opencontracts", "enclave")

if not os.path.islink(_LINK):
    os.makedirs(os.path.dirname(_LINK), exist_ok=True)
    os.symlink(REPO_ROOT, _LINK)

if COLLECTIONS_ROOT not in sys.path:
    sys.path.insert(0, COLLECTIONS_ROOT)
