# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The attributes every module of the collection documents, shared as documentation fragments.

Use the base fragment alone, or together with one of ``read_only`` and ``files``, and ``controller_action``
when the module has an action plugin built on plugin_utils/controller_action.py:

    extends_documentation_fragment:
      - opencontracts.enclave.attributes
      - opencontracts.enclave.attributes.read_only

A module documents only what is its own: an attribute it lists in its own ``attributes`` replaces
the fragments' keys it names (``support``, ``details``), for example the ``details`` of ``platform``
(where the module runs and what it needs there) or ``support: partial`` with its reason.
"""


class ModuleDocFragment:
    # The base: what each attribute means, and the platform (modules run on the managed host).
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check mode and report what would change without changing it.
  diff_mode:
    description: Shows what changed (or would change in check mode) when run with C(--diff).
  platform:
    support: full
    platforms: posix
    description: Target OS/families that can be operated against.
    details: Runs on the managed host.
"""

    # Modules that only read: facts, probes, verifications.
    READ_ONLY = r"""
options: {}
attributes:
  check_mode:
    support: full
    details: The module only reads; check mode runs the same reads and returns the same values.
  diff_mode:
    support: none
    details: Nothing is changed, so there is nothing to show.
"""

    # Modules that change files on the host and show the difference.
    FILES = r"""
options: {}
attributes:
  check_mode:
    support: full
    details: Reports what would change, with the difference, without writing anything.
  diff_mode:
    support: full
    details: Shows the file before and after.
"""

    # Modules whose action plugin runs their code in Ansible's worker on the controller (plugin_utils/controller_action.py).
    CONTROLLER_ACTION = r"""
options: {}
attributes:
  action:
    description: Has an action plugin, which runs part or all of the module on the controller.
    support: full
    details:
      - On the controller (a local connection) with ansible-playbook's own Python as C(ansible_python_interpreter), as the
        roles run it, the action plugin runs the module's code in Ansible's worker process instead of starting a new
        Python, with the same options, checks and return values. With another interpreter, C(become), C(async) or a
        task C(environment), or on another host, the module runs as any module does.
"""
