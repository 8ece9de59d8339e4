# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The registry's quote: what a user's client is told when it asks a registry for an oracle.

The client protocol sends ``{"fname": "get_oracle"}`` to the registry's WebSocket server and gets
``{"fname": "return_oracle", "ip", "price", "registryPrice", "provider", "registrySignature"}``
for the cheapest free oracle, or ``ip: "N/A"`` when none is free. :func:`ask_registry` sends that
request, :func:`parse_return_oracle` checks the answer and returns it with the prices as integers
(wei: OPN * 10^18). Judging an oracle by the quote is the controller's job
(``plugins/plugin_utils/registry_quote.py``).

Public API: :func:`ask_registry`, :func:`parse_return_oracle`, :data:`NO_ORACLE`,
:class:`RegistryQuoteError`.
"""

import json

from ansible_collections.opencontracts.enclave.plugins.module_utils.client_protocol import (
    ClientProtocolError,
    ClientProtocolTimeout,
    exchange,
)

# The registry's answer when no oracle is free.
NO_ORACLE = "N/A"
REQUEST = {"fname": "get_oracle"}


class RegistryQuoteError(Exception):
    """The registry could not be asked, or its answer is not a quote."""


def _price(value, name):
    """A price in wei from the answer: a non-negative integer, as a number or decimal text."""
    if isinstance(value, bool):
        raise RegistryQuoteError("%s is not an amount of wei: %r" % (name, value))
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    else:
        raise RegistryQuoteError("%s is not an amount of wei: %r" % (name, value))
    if number < 0:
        raise RegistryQuoteError("%s is negative: %r" % (name, value))
    return number


def parse_return_oracle(text):
    """The quote in a registry's answer (JSON text); raise RegistryQuoteError when it is not one.

    Returns ``{"ip", "price_wei", "registry_price_wei", "provider", "registry_signature", "available"}``;
    with ``ip: "N/A"`` (no oracle free) the other fields may be missing and are None.
    """
    try:
        answer = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise RegistryQuoteError("the answer is not JSON (%s): %r" % (exc, str(text)[:200]))
    if not isinstance(answer, dict):
        raise RegistryQuoteError("the answer is not a JSON object: %r" % str(text)[:200])
    if answer.get("fname") != "return_oracle":
        raise RegistryQuoteError("the answer is %r, not return_oracle: %r" % (answer.get("fname"), str(text)[:200]))
    ip = answer.get("ip")
    if not isinstance(ip, str) or not ip:
        raise RegistryQuoteError("return_oracle has no ip: %r" % str(text)[:200])
    if ip == NO_ORACLE:
        return {"ip": ip, "available": False, "price_wei": None, "registry_price_wei": None,
                "provider": None, "registry_signature": None}
    for key in ("price", "registryPrice", "provider"):
        if key not in answer:
            raise RegistryQuoteError("return_oracle for %s has no %s: %r" % (ip, key, str(text)[:200]))
    return {
        "ip": ip,
        "available": True,
        "price_wei": _price(answer["price"], "price"),
        "registry_price_wei": _price(answer["registryPrice"], "registryPrice"),
        "provider": answer["provider"] if isinstance(answer["provider"], str) else None,
        "registry_signature": answer.get("registrySignature"),
    }


def ask_registry(url, timeout=10.0, validate_certs=True):
    """Send get_oracle to the registry at url (ws:// or wss://); return the answer's text.

    Raises RegistryQuoteError naming the registry when it cannot be reached or does not answer in time.
    """
    try:
        return exchange(url, REQUEST, timeout, validate_certs)
    except ClientProtocolTimeout:
        raise RegistryQuoteError("the registry at %s did not answer get_oracle within %s s" % (url, timeout)) from None
    except ClientProtocolError as exc:
        raise RegistryQuoteError("the registry at %s cannot be reached: %s" % (url, exc)) from None
