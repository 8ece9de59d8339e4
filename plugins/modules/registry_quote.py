#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: registry_quote
short_description: Ask a registry which oracle it sends users to, and at what price, as a user's client does
version_added: 0.2.0
description:
  - Opens a WebSocket to a registry enclave, sends the client protocol's C(get_oracle) request and returns
    the registry's C(return_oracle) answer (the cheapest free oracle's address, its price and the registry's
    price (in wei, OPN * 10^18), the provider and the registry's signature); C(ip) is C(N/A) when the registry
    knows no free oracle.
  - Harmless for the oracles. It asks the registry and opens no session with an oracle.
  - Runs where Ansible runs (C(delegate_to) C(localhost)), as a user's client does, or on a host of the fleet.
  - Read-only; C(changed) is always false. A registry that cannot be reached, a timeout or an answer that is not
    C(return_oracle) fails the task with a message naming the registry.
options:
  url:
    description:
      - The registry's WebSocket address. C(ws://<registry host>:8080) reaches the registry enclave's port on its
        parent instance; the protocol's client goes through the registry host's TLS reverse proxy,
        C(wss://<registry domain>:8081/127.0.0.1).
    type: str
    required: true
extends_documentation_fragment:
  - opencontracts.enclave.client_protocol
  - opencontracts.enclave.attributes
  - opencontracts.enclave.attributes.read_only
attributes:
  platform:
    details: Runs where it is delegated to (the controller by default in the roles), which needs the Python library C(websockets).
seealso:
  - module: opencontracts.enclave.enclave_health
    description: The health gate of the enclave the registry should quote.
author:
  - Open Contracts enclave collection contributors (@open-contracts)
"""

EXAMPLES = r"""
- name: Ask the registry where users are sent
  opencontracts.enclave.registry_quote:
    url: "ws://{{ oracle_service_registry }}:8080"
  delegate_to: localhost
  register: registry_quote

- name: Show it
  ansible.builtin.debug:
    msg: "users go to {{ registry_quote.quote.ip }} at {{ registry_quote.quote.price_wei | opencontracts.enclave.wei_to_opn }}"
"""

RETURN = r"""
quote:
  description: The registry's answer, checked.
  returned: success
  type: dict
  contains:
    ip: {description: "The oracle users are sent to, or C(N/A) when the registry knows no free oracle.", type: str}
    available: {description: "Whether an oracle is quoted (C(ip) is not C(N/A)).", type: bool}
    price_wei: {description: "The oracle's price in wei (null with C(N/A)).", type: int}
    registry_price_wei: {description: "The registry's price in wei (null with C(N/A)).", type: int}
    provider: {description: "The provider address the oracle's rewards go to (null with C(N/A)).", type: str}
    registry_signature: {description: "The registry's signature over the quote, as sent (null when absent).", type: str}
  sample: {ip: 203.0.113.7, available: true, price_wei: 750000000000000000, registry_price_wei: 100000000000000000,
           provider: "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", registry_signature: "0x3f..."}
answer:
  description: The registry's answer as received (text).
  returned: when the registry answered
  type: str
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.opencontracts.enclave.plugins.module_utils import registry_quote as rq
from ansible_collections.opencontracts.enclave.plugins.module_utils.client_protocol import HAS_WEBSOCKETS, WEBSOCKETS_ERROR


def main():
    module = AnsibleModule(
        argument_spec=dict(
            url=dict(type="str", required=True),
            timeout=dict(type="float", default=10),
            validate_certs=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    url = module.params["url"]
    if not url.startswith(("ws://", "wss://")):
        module.fail_json(msg="url must start with ws:// or wss://, got %r" % url)
    if module.params["timeout"] <= 0:
        module.fail_json(msg="timeout must be more than 0, got %s" % module.params["timeout"])
    if not HAS_WEBSOCKETS:
        module.fail_json(msg=missing_required_lib("websockets"), exception=WEBSOCKETS_ERROR)
    try:
        answer = rq.ask_registry(url, module.params["timeout"], module.params["validate_certs"])
    except rq.RegistryQuoteError as exc:
        module.fail_json(msg=str(exc))
    try:
        quote = rq.parse_return_oracle(answer)
    except rq.RegistryQuoteError as exc:
        module.fail_json(msg="the registry at %s: %s" % (url, exc), answer=answer)
    module.exit_json(changed=False, quote=quote, answer=answer)


if __name__ == "__main__":
    main()
