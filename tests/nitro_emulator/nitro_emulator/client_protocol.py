"""The oracle's client protocol on an emulated enclave's port: WebSocket, one user session at a time.

What a user's client sends first to an oracle is `{"fname": "get_attestation"}`; the oracle answers
`{"fname": "attestation", "attestation": <hex of the attestation document>, "signThis": <hex>}`, or
`{"fname": "busy"}` when another user's session holds it. Here the session is held from the first
`get_attestation` of a connection until that connection closes.

The document is a real COSE_Sign1 (attestation.document, under the emulator's CA) with what the NSM
of a Nitro enclave puts in it: PCR0..PCR15 (the running image's PCR0, PCR1, PCR2 and PCR8 when it is
signed; all zeros in debug mode), module_id (the enclave ID), the time, and the oracle's keys:
`public_key` is the text of an Ethereum address (bytes) and `user_data` the hex text of an RSA public
key (DER SubjectPublicKeyInfo), generated when the enclave boots, as the protocol's client expects.
The WebSocket framing is the `websockets` library's Sans-I/O protocol (10.x names it ServerConnection).
"""

import hashlib
import json
import os
import re
import socket
import threading

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

try:
    from websockets.server import ServerProtocol
except ImportError:  # websockets 10 (Debian bookworm)
    from websockets.server import ServerConnection as ServerProtocol
from websockets.frames import Opcode

from . import attestation

UPGRADE = re.compile(rb"^upgrade:[ \t]*websocket[ \t]*\r?$", re.IGNORECASE | re.MULTILINE)
# A connection that says nothing for this long is closed (and its session released).
IDLE_SECONDS = 60.0


def is_websocket(request):
    """Whether an HTTP request asks to upgrade to WebSocket."""
    head = request.split(b"\r\n\r\n", 1)[0]
    return UPGRADE.search(head) is not None


# PCR0..PCR15 as the NSM reports them (shared with the NSM stand-in of image programs).
document_pcrs = attestation.document_pcrs


class Oracle:
    """What one emulated enclave answers on the client protocol."""

    def __init__(self, spec, console):
        self.spec = spec
        self.console = console
        self.session = threading.Lock()
        self.pcrs = document_pcrs(spec.get("measurements") or {}, spec.get("debug_mode", False))
        # The enclave's Ethereum key: an address derived from the enclave ID (no key is needed here).
        self.public_key = ("0x" + hashlib.sha256(spec["enclave_id"].encode("ascii")).hexdigest()[-40:]).encode("ascii")
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.user_data = spki.hex().encode("ascii")

    def attestation(self, nonce=None):
        document = attestation.document(self.pcrs, self.spec["enclave_id"], public_key=self.public_key,
                                        user_data=self.user_data, nonce=nonce)
        return {"fname": "attestation", "attestation": document.hex(),
                "signThis": nonce.hex() if nonce else os.urandom(32).hex()}

    def answer(self, text, holding):
        """The reply to one message, and whether this connection now holds the session."""
        try:
            message = json.loads(text)
        except ValueError:
            return None, holding
        if not isinstance(message, dict) or message.get("fname") != "get_attestation":
            return None, holding
        if not holding and not self.session.acquire(blocking=False):
            return {"fname": "busy"}, False
        nonce = None
        if isinstance(message.get("nonce"), str):
            try:
                nonce = bytes.fromhex(message["nonce"])
            except ValueError:
                nonce = None
        return self.attestation(nonce), True

    def serve(self, conn, request, port, transport):
        """One WebSocket connection whose HTTP upgrade request has been read."""
        protocol = ServerProtocol()
        protocol.receive_data(request)
        holding = False
        try:
            events = protocol.events_received()
            if not events:
                return
            response = protocol.accept(events[0])
            protocol.send_response(response)
            self.flush(protocol, conn)
            if response.status_code != 101:
                return
            self.console.write("nitro-emulator: %s WebSocket session on port %d" % (transport, port))
            conn.settimeout(IDLE_SECONDS)
            while True:
                try:
                    data = conn.recv(65536)
                except (socket.timeout, OSError):
                    return
                if data:
                    protocol.receive_data(data)
                else:
                    protocol.receive_eof()
                for event in protocol.events_received():
                    if getattr(event, "opcode", None) != Opcode.TEXT:
                        continue
                    reply, holding = self.answer(event.data.decode("utf-8", "replace"), holding)
                    if reply is not None:
                        protocol.send_text(json.dumps(reply).encode("utf-8"))
                        if reply["fname"] == "busy":
                            self.console.write("nitro-emulator: busy: another session holds the oracle")
                            protocol.send_close(1000, "busy")
                self.flush(protocol, conn)
                if not data or protocol.close_expected():
                    return
        finally:
            if holding:
                self.session.release()

    @staticmethod
    def flush(protocol, conn):
        for chunk in protocol.data_to_send():
            if chunk:
                conn.sendall(chunk)
            else:
                conn.shutdown(socket.SHUT_WR)
