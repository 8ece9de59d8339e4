# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The registry's quote: what a user's client is told when it asks a registry for an oracle.

The client protocol sends ``{"fname": "get_oracle"}`` to the registry's WebSocket server and gets
``{"fname": "return_oracle", "ip", "price", "registryPrice", "provider", "registrySignature"}``
for the cheapest free oracle, or ``ip: "N/A"`` when none is free. :func:`ask_registry` sends that
request, :func:`parse_return_oracle` checks the answer and returns it with the prices as integers
(wei: OPN * 10^18).

An oracle judged by the quote (the user's view of the fleet): from that single answer,
:func:`judge_oracle` tells for one oracle (its address as users reach it and its inventory price):

* the registry sends users to this oracle: it is registered; the quoted price must be the inventory
  price, else ``degraded`` ("the registry quotes ..., the inventory price is ...");
* the registry knows no free oracle (``ip: "N/A"``): this oracle is unknown to the registry, ``degraded``;
* the registry sends users to another oracle at a HIGHER price than this oracle's: had the registry
  known this oracle at its inventory price, it would have chosen it, so it is unknown to the registry
  (or registered at another price), ``degraded``;
* another oracle at a lower or equal price: nothing wrong can be told from the quote (``registered``
  is None); a note says where users go.

An oracle that serves a user's session is not free and is not quoted: its verdict then says so only
when the caller knows it (``busy``). The registry's provider must match the inventory's when the
registry sends users to this oracle.

:func:`verdict_of_result` judges a result of the module registry_quote (which may have failed or been
skipped) and gives the verdict a ``state``: ``registered`` (the registry sends users to this oracle
at its price), ``not_quoted`` (users go to another oracle at a lower or equal price: nothing wrong
can be told), ``degraded`` (a problem, or the registry could not be asked), ``not_checked`` (skipped).
The module judges on the spot when it is given the oracle's address and price (and then returns the
verdict as ``verdict``); the filter registry_quote_verdict and the roles' results use the same code.

The module registry_quote is :data:`ARGUMENT_SPEC` (with :data:`REQUIRED_BY`) and :func:`run`; its action
plugin runs the same :func:`run` in Ansible's worker process when the task runs on the controller
(plugin_utils/controller_action.py).

Public API: :data:`ARGUMENT_SPEC`, :data:`REQUIRED_BY`, :func:`run`, :func:`ask`, :func:`bad_options`,
:func:`ask_registry`, :func:`parse_return_oracle`, :func:`judge_oracle`, :func:`quote_summary`,
:func:`verdict_of_result`, :func:`registered_verdict`, :func:`opn_text`, :data:`NO_ORACLE`, :data:`STATES`,
:data:`WEI_PER_OPN`, :class:`RegistryQuoteError`.
"""

import json
import time

from collections.abc import Mapping

from ansible.module_utils.basic import missing_required_lib
from ansible_collections.opencontracts.enclave.plugins.module_utils.client_protocol import (
    HAS_WEBSOCKETS,
    WEBSOCKETS_ERROR,
    ClientProtocolError,
    ClientProtocolTimeout,
    exchange,
)

# The registry's answer when no oracle is free.
NO_ORACLE = "N/A"
REQUEST = {"fname": "get_oracle"}
WEI_PER_OPN = 10 ** 18
STATES = ("registered", "not_quoted", "degraded", "not_checked")

ARGUMENT_SPEC = dict(
    url=dict(type="str", required=True),
    timeout=dict(type="float", default=10),
    validate_certs=dict(type="bool", default=True),
    address=dict(type="str"),
    price_wei=dict(type="raw"),
    provider=dict(type="str"),
    busy=dict(type="bool", default=False),
    retries=dict(type="int", default=0),
    delay=dict(type="float", default=5),
    fail_on_degraded=dict(type="bool", default=False),
)
REQUIRED_BY = {"price_wei": "address"}


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


def opn_text(wei):
    """A whole, non-negative number of wei (an int) as an exact OPN amount for people: 2.5 OPN, 0 OPN."""
    whole, fraction = divmod(int(wei), WEI_PER_OPN)
    if not fraction:
        return "%d OPN" % whole
    return "%d.%s OPN" % (whole, ("%018d" % fraction).rstrip("0"))


def quote_summary(quote):
    """One line for people: where the registry sends users, at what price."""
    if quote is None:
        return "no quote"
    if not quote.get("available"):
        return "the registry knows no free oracle (ip N/A)"
    return "users are sent to %s at %s (+ registry %s)" % (
        quote["ip"], opn_text(quote["price_wei"]), opn_text(quote["registry_price_wei"]))


def judge_oracle(quote, address, price_wei, provider=None, registry="the registry", busy=False):
    """Judge one oracle by the registry's quote.

    quote: the module's RV quote (None when the registry could not be asked); address: the oracle's
    address as the registry knows it (its IP); price_wei: its inventory price; provider: its inventory
    provider address (compared case-insensitively when given); registry: the registry's name for messages;
    busy: the oracle is known to serve a user's session (then not being quoted is normal).

    Returns ``{"registered": True|False|None, "quoted_price_wei", "sent_to", "sent_to_price_wei",
    "problems": [...], "notes": [...]}``; a problem makes the oracle ``degraded``.
    """
    verdict = {"registered": None, "quoted_price_wei": None, "sent_to": None, "sent_to_price_wei": None,
               "problems": [], "notes": []}
    if quote is None:
        verdict["problems"].append("%s gave no quote: users cannot be sent to this oracle" % registry)
        return verdict
    if not quote.get("available"):
        if busy:
            verdict["notes"].append("%s knows no free oracle; this oracle serves a user" % registry)
        else:
            verdict["registered"] = False
            verdict["problems"].append("unknown to %s: it knows no free oracle (get_oracle: ip N/A)" % registry)
        return verdict
    verdict["sent_to"] = quote["ip"]
    verdict["sent_to_price_wei"] = quote["price_wei"]
    if quote["ip"] == address:
        verdict["registered"] = True
        verdict["quoted_price_wei"] = quote["price_wei"]
        if quote["price_wei"] != price_wei:
            verdict["problems"].append("%s quotes this oracle at %s, the inventory price is %s"
                                       % (registry, opn_text(quote["price_wei"]), opn_text(price_wei)))
        if provider and (quote.get("provider") or "").lower() != provider.lower():
            verdict["problems"].append("%s pays provider %s, the inventory provider is %s"
                                       % (registry, quote.get("provider"), provider))
        verdict["notes"].append("%s sends users to this oracle" % registry)
        return verdict
    if quote["price_wei"] > price_wei and not busy:
        verdict["registered"] = False
        verdict["problems"].append("unknown to %s at %s: it sends users to %s at %s, which costs more"
                                   % (registry, opn_text(price_wei), quote["ip"], opn_text(quote["price_wei"])))
        return verdict
    verdict["notes"].append("%s sends users to %s at %s" % (registry, quote["ip"], opn_text(quote["price_wei"])))
    return verdict


def _wei(value):
    """An inventory price in wei (int or string of digits) as an int, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip() if value is not None else ""
    return int(text) if text.isdigit() else None


def verdict_of_result(result, address, price_wei, provider=None, registry="the registry", busy=False):
    """The verdict (see :func:`judge_oracle`) of a registered ``registry_quote`` result, with ``state``,
    ``summary`` (:func:`quote_summary`) and ``registry``.

    result: the registered result (None, skipped or failed are handled); price_wei: the inventory price,
    an int or a string of digits (``oracle_serve_settings`` writes it so).
    """
    verdict = {"registered": None, "quoted_price_wei": None, "sent_to": None, "sent_to_price_wei": None,
               "problems": [], "notes": [], "registry": registry, "summary": "no quote"}
    if not isinstance(result, Mapping) or result.get("skipped"):
        verdict["state"] = "not_checked"
        return verdict
    # A result with a quote is judged even when marked failed: a retried task whose last quote was still
    # degraded ends so.
    if not isinstance(result.get("quote"), Mapping):
        lines = str(result.get("msg") or "no quote").strip().splitlines()
        message = lines[0] if lines else "no quote"
        for prefix in ("Task failed: ", "Action failed: "):  # ansible-core 2.19 prefixes task errors
            if message.startswith(prefix):
                message = message[len(prefix):]
        verdict["problems"].append("%s could not be asked: %s" % (registry, message))
        verdict["state"] = "degraded"
        return verdict
    wanted = _wei(price_wei)
    if wanted is None:
        verdict["problems"].append("the inventory price %r is not a whole number of wei" % (price_wei,))
        verdict["state"] = "degraded"
        return verdict
    verdict.update(judge_oracle(result["quote"], str(address), wanted, provider=provider or None,
                                registry=registry, busy=bool(busy)))
    verdict["registry"] = registry
    verdict["summary"] = quote_summary(result["quote"])
    if verdict["problems"]:
        verdict["state"] = "degraded"
    elif verdict["registered"]:
        verdict["state"] = "registered"
    else:
        verdict["state"] = "not_quoted"
    return verdict


def registered_verdict(result, registry="the registry"):
    """The verdict in a registered ``registry_quote`` result that was given the oracle's address and price.

    The module's own RV ``verdict`` when it has one; ``not_checked`` for a skipped result (or none); ``degraded``
    with the module's message when it failed before it could judge (a bad option).
    """
    if isinstance(result, Mapping) and isinstance(result.get("verdict"), Mapping):
        return dict(result["verdict"])
    if isinstance(result, Mapping) and not result.get("skipped"):
        result = dict(result, quote=None)
    return verdict_of_result(result, "", "", registry=registry)


def ask(url, timeout, validate_certs):
    """One get_oracle: the result as the task would register it, ``{"quote", "answer"}`` or ``{"failed", "msg"}``."""
    try:
        answer = ask_registry(url, timeout, validate_certs)
    except RegistryQuoteError as exc:
        return {"failed": True, "msg": str(exc)}
    try:
        return {"quote": parse_return_oracle(answer), "answer": answer}
    except RegistryQuoteError as exc:
        return {"failed": True, "msg": "the registry at %s: %s" % (url, exc), "answer": answer}


def bad_options(params):
    """Every option error, one message each."""
    errors = []
    if not params["url"].startswith(("ws://", "wss://")):
        errors.append("url must start with ws:// or wss://, got %r" % params["url"])
    if params["timeout"] <= 0:
        errors.append("timeout must be more than 0, got %s" % params["timeout"])
    if params["retries"] < 0:
        errors.append("retries must be 0 or more, got %s" % params["retries"])
    if params["delay"] < 0:
        errors.append("delay must be 0 or more, got %s" % params["delay"])
    price = params["price_wei"]
    if price is not None and (isinstance(price, bool) or not str(price).strip().isdigit()):
        errors.append("price_wei must be a whole number of wei, got %r" % (price,))
    judged = price is not None
    for name in ("provider", "fail_on_degraded", "busy"):
        if params[name] and not judged:
            errors.append("%s needs price_wei (and address): only a judged quote has a verdict" % name)
    return errors


def run(params):
    """The module's result for its validated options ``params``; a failed result has ``failed: true`` and ``msg``."""
    url = params["url"]
    errors = bad_options(params)
    if errors:
        return dict(changed=False, failed=True, msg="; ".join(errors), url=url, address=params["address"], attempts=0)
    if not HAS_WEBSOCKETS:
        return dict(changed=False, failed=True, msg=missing_required_lib("websockets"), exception=WEBSOCKETS_ERROR)
    judged = params["price_wei"] is not None
    attempts = 0
    while True:
        attempts += 1
        result = ask(url, params["timeout"], params["validate_certs"])
        verdict = None
        if judged:
            verdict = verdict_of_result(result, params["address"], params["price_wei"], provider=params["provider"],
                                        registry="the registry %s" % url, busy=params["busy"])
        settled = verdict["state"] != "degraded" if judged else not result.get("failed")
        if settled or attempts > params["retries"]:
            break
        time.sleep(params["delay"])
    result.update(changed=False, url=url, address=params["address"], attempts=attempts)
    if judged:
        result.update(verdict=verdict, failed=False)
        if params["fail_on_degraded"] and verdict["state"] == "degraded":
            result["failed"] = True
            result["msg"] = "degraded in the user's view: %s (%s)" % ("; ".join(verdict["problems"]), verdict["summary"])
    return result
