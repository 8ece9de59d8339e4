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
    C(return_oracle) fails the task with a message naming the registry, unless O(price_wei) is given.
  - With O(address) and O(price_wei) (one oracle's expectations), the module also judges the quote for that oracle,
    as the filter C(opencontracts.enclave.registry_quote_verdict) does (the same code), and returns the verdict as
    RV(verdict). A registry that cannot be asked is then a C(degraded) verdict, not a failure, unless
    O(fail_on_degraded) is set.
options:
  url:
    description:
      - The registry's WebSocket address. C(ws://<registry host>:8080) reaches the registry enclave's port on its
        parent instance; the protocol's client goes through the registry host's TLS reverse proxy,
        C(wss://<registry domain>:8081/127.0.0.1).
    type: str
    required: true
  address:
    description:
      - The oracle's address as the registry knows it (the IP it registered). Returned as given (RV(address)), so
        that whoever reads the result knows which oracle the quote is judged for; with O(price_wei), the quote is
        judged for it (RV(verdict)).
    type: str
  price_wei:
    description:
      - The oracle's inventory price in wei (a whole number, or a string of digits). Requires O(address); makes the
        module judge the quote and return RV(verdict).
    type: raw
  provider:
    description:
      - The oracle's inventory provider address; when the registry sends users to this oracle, the provider it pays
        must be this one (compared case-insensitively). Requires O(price_wei).
    type: str
  busy:
    description:
      - The oracle is known to serve a user's session (an attestation probe found it C(busy)); the registry then does
        not quote it, which is not a problem. Requires O(price_wei).
    type: bool
    default: false
  retries:
    description:
      - How often the registry is asked again, O(delay) seconds apart, while the verdict is C(degraded) (with
        O(price_wei)) or while the registry cannot be asked (without), for example while the oracle registers.
    type: int
    default: 0
  delay:
    description: Seconds between two attempts (O(retries)).
    type: float
    default: 5
  fail_on_degraded:
    description:
      - Fail the task when the last verdict is C(degraded), with a message naming the oracle's problems and the
        registry. Requires O(price_wei).
    type: bool
    default: false
extends_documentation_fragment:
  - opencontracts.enclave.client_protocol
  - opencontracts.enclave.attributes
  - opencontracts.enclave.attributes.read_only
  - opencontracts.enclave.attributes.controller_action
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

- name: Wait until the registry knows this oracle at its price, for up to a minute, else fail naming the problem
  opencontracts.enclave.registry_quote:
    url: "ws://{{ oracle_service_registry }}:8080"
    address: "{{ ansible_host }}"
    price_wei: 750000000000000000
    provider: "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
    retries: 12
    delay: 5
    fail_on_degraded: true
  delegate_to: localhost
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
url:
  description: The registry's address, as given.
  returned: always
  type: str
  sample: ws://203.0.113.9:8080
address:
  description: The oracle's address, as given in O(address) (null without).
  returned: always
  type: str
  sample: 203.0.113.7
attempts:
  description: How often the registry was asked (1 + the retries used).
  returned: always
  type: int
  sample: 1
verdict:
  description:
    - The oracle judged by the last quote (the filter C(opencontracts.enclave.registry_quote_verdict)'s value), for the
      registry named C(the registry <url>).
  returned: when O(price_wei) is given
  type: dict
  contains:
    state: {description: "C(registered), C(not_quoted) or C(degraded).", type: str}
    registered: {description: "Whether the registry knows this oracle (null when one quote cannot tell).", type: bool}
    quoted_price_wei: {description: "The price the registry quotes for this oracle (null unless it sends users to it).", type: int}
    sent_to: {description: "The oracle the registry sends users to (null when none or not asked).", type: str}
    sent_to_price_wei: {description: "That oracle's price in wei.", type: int}
    problems: {description: "Why the oracle is degraded (empty otherwise).", type: list, elements: str}
    notes: {description: "What else the quote tells.", type: list, elements: str}
    registry: {description: "The registry's name in the messages, C(the registry <url>).", type: str}
    summary: {description: "One line: where the registry sends users, at what price.", type: str}
  sample: {state: registered, registered: true, quoted_price_wei: 750000000000000000, sent_to: 203.0.113.7,
           sent_to_price_wei: 750000000000000000, problems: [], notes: ["the registry ws://203.0.113.9:8080 sends users to this oracle"],
           registry: "the registry ws://203.0.113.9:8080", summary: "users are sent to 203.0.113.7 at 0.75 OPN (+ registry 0.1 OPN)"}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.opencontracts.enclave.plugins.module_utils.registry_quote import ARGUMENT_SPEC, REQUIRED_BY, run


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, required_by=REQUIRED_BY, supports_check_mode=True)
    result = run(module.params)
    if result.pop("failed", False):
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
