"""The NSM stand-in for an image's own program (run_image_command).

A real enclave program asks the Nitro Security Module (/dev/nsm, an ioctl with a CBOR request) for
its attestation document: `Attestation {user_data, nonce, public_key}`, answered with the document
the NSM signs over the enclave's PCRs. The emulator has no enclave kernel and no /dev/nsm; the
enclave process serves the same request on a unix socket instead, whose path the program gets in
NITRO_EMULATOR_NSM:

- request: one JSON line {"user_data": <hex>, "nonce": <hex>, "public_key": <hex>} (each optional);
- answer: one JSON line {"document": <hex of the untagged COSE_Sign1>} or {"error": <text>}.

The document is attestation.document() for the running EIF's PCRs (all zeros in debug mode), with
the enclave ID as module_id: the same document the built-in server's get_attestation returns.
"""

import json
import os
import socket
import threading

from . import attestation, paths

MAX_REQUEST = 65536
FIELDS = ("user_data", "nonce", "public_key")


def request_fields(line):
    """{field: bytes or None} from a request line; ValueError when it is not the request above."""
    request = json.loads(line)
    if not isinstance(request, dict):
        raise ValueError("the request must be a JSON object")
    unknown = sorted(set(request) - set(FIELDS))
    if unknown:
        raise ValueError("unknown request fields: %s" % ", ".join(unknown))
    fields = {}
    for name in FIELDS:
        value = request.get(name)
        if value is not None and not isinstance(value, str):
            raise ValueError("%s must be hex text" % name)
        fields[name] = bytes.fromhex(value) if value is not None else None
    return fields


class Nsm:
    """Serves attestation requests of the enclave's program on a unix socket at path."""

    def __init__(self, spec, console, path):
        self.spec = spec
        self.console = console
        self.path = path
        self.pcrs = attestation.document_pcrs(spec.get("measurements") or {}, spec.get("debug_mode", False))
        self.listener = None

    def answer(self, line):
        try:
            fields = request_fields(line)
        except ValueError as exc:
            return {"error": "bad NSM request: %s" % exc}
        document = attestation.document(self.pcrs, self.spec["enclave_id"], **fields)
        return {"document": document.hex()}

    def handle(self, conn):
        try:
            conn.settimeout(10)
            line = conn.makefile("rb").readline(MAX_REQUEST)
            conn.sendall(json.dumps(self.answer(line)).encode("utf-8") + b"\n")
        except OSError:
            pass
        finally:
            conn.close()

    def start(self, stopping):
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with paths.unix_address(self.path) as address:
            self.listener.bind(address)
        os.chmod(self.path, 0o600)
        self.listener.listen(16)
        self.listener.settimeout(0.5)
        threading.Thread(target=self.serve, args=(stopping,), daemon=True).start()
        self.console.write("nitro-emulator: NSM attestation for the image's program at %s" % self.path)

    def serve(self, stopping):
        while not stopping.is_set():
            try:
                conn, _address = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def stop(self):
        if self.listener is not None:
            self.listener.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass
