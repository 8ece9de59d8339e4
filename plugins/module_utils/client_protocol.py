# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""One exchange of the Open Contracts client protocol: a JSON message over WebSocket, one answer back.

A user's client talks to a registry (``get_oracle``) and to an oracle (``get_attestation``) this way;
the modules registry_quote and attestation_probe do the same through :func:`exchange`. Uses the
``websockets`` library's synchronous client (websockets 13 or later).

Public API: :func:`exchange`, :class:`ClientProtocolError`, :class:`ClientProtocolTimeout`,
:data:`HAS_WEBSOCKETS`, :data:`WEBSOCKETS_ERROR`.
"""

import json
import ssl
import traceback

try:
    from websockets.exceptions import WebSocketException
    from websockets.sync.client import connect
    HAS_WEBSOCKETS = True
    WEBSOCKETS_ERROR = None
except ImportError:
    HAS_WEBSOCKETS = False
    WEBSOCKETS_ERROR = traceback.format_exc()

# An attestation document with its certificates is a few kilobytes; hex doubles it.
MAX_MESSAGE = 1 << 20


class ClientProtocolError(Exception):
    """The peer could not be reached, or did not answer."""


class ClientProtocolTimeout(ClientProtocolError):
    """Connecting, or waiting for the answer, took longer than allowed: ``stage`` says which."""

    def __init__(self, stage, timeout):
        self.stage = stage  # "connecting" or "waiting for the answer"
        super().__init__("timed out after %s s %s" % (timeout, stage))


def exchange(url, message, timeout, validate_certs=True):
    """Send ``message`` (a dict, as JSON) to the WebSocket server at ``url``; return the answer's text.

    ``timeout`` bounds connecting and, again, waiting for the answer. ``validate_certs`` false accepts any
    TLS certificate (wss:// only). Raises ClientProtocolTimeout or ClientProtocolError, whose text names
    what failed (never the url: callers say whom they asked).
    """
    if not HAS_WEBSOCKETS:
        raise ClientProtocolError("the Python library websockets is missing where this runs")
    options = {"open_timeout": timeout, "close_timeout": min(timeout, 2.0), "max_size": MAX_MESSAGE}
    if url.startswith("wss://") and not validate_certs:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        options["ssl"] = context
    try:
        with connect(url, **options) as websocket:
            websocket.send(json.dumps(message))
            try:
                answer = websocket.recv(timeout=timeout)
            except TimeoutError:
                raise ClientProtocolTimeout("waiting for the answer", timeout) from None
    except TimeoutError:
        raise ClientProtocolTimeout("connecting", timeout) from None
    except (OSError, WebSocketException, ValueError) as exc:
        raise ClientProtocolError(str(exc) or type(exc).__name__) from exc
    if isinstance(answer, bytes):
        answer = answer.decode("utf-8", "replace")
    return answer
