# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options of the modules that speak the client protocol over WebSocket (module_utils/client_protocol.py)."""


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  timeout:
    description: Seconds allowed for connecting, and again for the answer.
    type: float
    default: 10
  validate_certs:
    description: For C(wss://) addresses, verify the server's TLS certificate against the system's CAs.
    type: bool
    default: true
requirements:
  - websockets >= 13 (Python), where the module runs
"""
