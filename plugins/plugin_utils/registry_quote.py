# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""An oracle judged by the registry's quote: the user's view of the fleet.

The registry answers ``get_oracle`` with ONE oracle, the cheapest free one (module
``registry_quote``, ``plugins/module_utils/registry_quote.py``). From that single answer,
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

:func:`verdict_of_result` judges the registered result of the module (which may have failed or been
skipped) and gives the verdict a ``state``: ``registered`` (the registry sends users to this oracle
at its price), ``not_quoted`` (users go to another oracle at a lower or equal price: nothing wrong
can be told), ``degraded`` (a problem, or the registry could not be asked), ``not_checked`` (skipped).

Public API: :func:`judge_oracle`, :func:`quote_summary`, :func:`verdict_of_result`.
"""

from collections.abc import Mapping


from ansible_collections.opencontracts.enclave.plugins.plugin_utils.oracle_inputs import format_opn


def _opn(wei):
    return format_opn(wei)


def quote_summary(quote):
    """One line for people: where the registry sends users, at what price."""
    if quote is None:
        return "no quote"
    if not quote.get("available"):
        return "the registry knows no free oracle (ip N/A)"
    return "users are sent to %s at %s (+ registry %s)" % (
        quote["ip"], _opn(quote["price_wei"]), _opn(quote["registry_price_wei"]))


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
                                       % (registry, _opn(quote["price_wei"]), _opn(price_wei)))
        if provider and (quote.get("provider") or "").lower() != provider.lower():
            verdict["problems"].append("%s pays provider %s, the inventory provider is %s"
                                       % (registry, quote.get("provider"), provider))
        verdict["notes"].append("%s sends users to this oracle" % registry)
        return verdict
    if quote["price_wei"] > price_wei and not busy:
        verdict["registered"] = False
        verdict["problems"].append("unknown to %s at %s: it sends users to %s at %s, which costs more"
                                   % (registry, _opn(price_wei), quote["ip"], _opn(quote["price_wei"])))
        return verdict
    verdict["notes"].append("%s sends users to %s at %s" % (registry, quote["ip"], _opn(quote["price_wei"])))
    return verdict


STATES = ("registered", "not_quoted", "degraded", "not_checked")


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
