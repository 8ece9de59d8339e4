# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The attestation probe: ask an oracle for its attestation document, as a user's client does, and verify it.

The module attestation_probe is :data:`ARGUMENT_SPEC` and :func:`run`; its action plugin runs the same
:func:`run` in Ansible's worker process when the task runs on the controller (plugin_utils/controller_action.py).

Public API: :data:`ARGUMENT_SPEC`, :data:`REQUEST`, :func:`run`, :func:`probe`, :func:`parse_answer`.
"""

import json
import time

from ansible.module_utils.basic import missing_required_lib
from ansible_collections.opencontracts.enclave.plugins.module_utils.attestation import failure, verification_result
from ansible_collections.opencontracts.enclave.plugins.module_utils.client_protocol import (
    HAS_WEBSOCKETS,
    WEBSOCKETS_ERROR,
    ClientProtocolError,
    ClientProtocolTimeout,
    exchange,
)

REQUEST = {"fname": "get_attestation"}

ARGUMENT_SPEC = dict(
    url=dict(type="str", required=True),
    timeout=dict(type="float", default=10.0),
    validate_certs=dict(type="bool", default=True),
    allowed_pcr0=dict(type="list", elements="str"),
    root_certificate=dict(type="path"),
    max_age_seconds=dict(type="int", default=300),
)


def parse_answer(text):
    """The oracle's answer -> (status, attestation hex, signThis, error)."""
    try:
        message = json.loads(text)
    except (TypeError, ValueError):
        return "error", None, None, "the answer is not JSON: %r" % (text[:200],)
    fname = message.get("fname") if isinstance(message, dict) else None
    if fname == "busy":
        return "busy", None, None, None
    if fname != "attestation":
        return "error", None, None, "unexpected answer %r (expected attestation or busy)" % (fname if fname else text[:200],)
    document = message.get("attestation")
    if not isinstance(document, str) or not document:
        return "error", None, None, "the attestation answer has no document"
    try:
        bytes.fromhex(document)
    except ValueError:
        return "error", None, None, "the attestation answer's document is not hex"
    sign_this = message.get("signThis")
    return "attestation", document.lower(), sign_this if isinstance(sign_this, str) else None, None


def probe(url, timeout, validate_certs=True):
    """Send get_attestation to url -> (status, attestation, sign_this, error, elapsed)."""
    started = time.monotonic()
    try:
        text = exchange(url, REQUEST, timeout, validate_certs)
    except ClientProtocolTimeout as exc:
        return "error", None, None, str(exc), time.monotonic() - started
    except ClientProtocolError as exc:
        return "error", None, None, "cannot talk to %s: %s" % (url, exc), time.monotonic() - started
    status, document, sign_this, error = parse_answer(text)
    return status, document, sign_this, error, time.monotonic() - started


def run(params):
    """The module's result for its validated options ``params``; a failed result has ``failed: true`` and ``msg``."""
    url = params["url"]
    timeout = params["timeout"]
    if not HAS_WEBSOCKETS:
        # Without a status: the roles do not ask again for what a missing library fails.
        return dict(changed=False, failed=True, msg=missing_required_lib("websockets"), exception=WEBSOCKETS_ERROR)
    result = dict(changed=False, status="error", attestation=None, sign_this=None, url=url, elapsed=0.0, error=None,
                  verification=None)
    if not url.startswith(("ws://", "wss://")):
        return dict(result, failed=True, msg="url must start with ws:// or wss://, got %r" % url, error="bad url")
    if timeout <= 0:
        return dict(result, failed=True, msg="timeout must be more than 0, got %s" % timeout, error="bad timeout")
    status, document, sign_this, error, elapsed = probe(url, timeout, params["validate_certs"])
    result.update(status=status, attestation=document, sign_this=sign_this, elapsed=round(elapsed, 3), error=error)
    if status == "error":
        return dict(result, failed=True, msg="attestation probe of %s failed: %s" % (url, error))
    if status == "attestation" and params["allowed_pcr0"] is not None:
        result["verification"], failed = verification_result({
            "document": document, "allowed_pcr0": params["allowed_pcr0"],
            "root_certificate": params["root_certificate"], "max_age_seconds": params["max_age_seconds"]})
        if failed is not None:
            return dict(result, failed=True, **failure(failed, "the attestation document of %s" % url))
    return result
