# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The fleet report's attestation part: what the probe and the verification found for an oracle.

The role fleet_report registers, on each oracle it probes (``fleet_report_attest``), the result of
the module ``attestation_probe`` (the client protocol's ``get_attestation``, sent from the controller),
which, when the oracle sent a document, verifies it (its ``verification``: attestation_verify's result).
:func:`judge_attestation` turns it into the row's ``attested`` and ``attestation`` fields (docs/fleet-report.md);
:func:`archive_records` and :func:`archive_text` keep every verified document in
``attestations-<date>.jsonl`` so that it can be verified again later (``at: document``).

``attested`` is one of :data:`ATTESTED`: ``verified``; ``failed`` (the probe could not get a
document, or a check failed: the reason says which); ``busy`` (the oracle served another user's
session: not a failure, nothing was checked); ``not_checked`` (the probe is off, or the host was
not probed: it is down, or it is not an oracle).
"""

import datetime
import json

from collections.abc import Mapping

try:
    import cbor2
    from cryptography import x509
    HAS_LIBRARIES = True
except ImportError:
    HAS_LIBRARIES = False

ATTESTED = ("verified", "failed", "busy", "not_checked")
ARCHIVE_SCHEMA = "opencontracts.enclave/attestation"


def _parse_time(text):
    if not isinstance(text, str) or not text:
        return None
    try:
        value = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value


def _iso(value):
    return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def leaf_not_after(document_hex):
    """When the leaf certificate of an attestation document expires (ISO 8601, UTC), or None.

    Only reads the document: its signature and chain are attestation_verify's business.
    """
    if not HAS_LIBRARIES or not isinstance(document_hex, str):
        return None
    try:
        message = cbor2.loads(bytes.fromhex(document_hex))
        if isinstance(message, cbor2.CBORTag):
            message = message.value
        payload = cbor2.loads(message[2])
        certificate = x509.load_der_x509_certificate(payload["certificate"])
    except Exception:  # pylint: disable=broad-except
        # Anything unreadable: attestation_verify says what is wrong with it.
        return None
    not_after = getattr(certificate, "not_valid_after_utc", None)
    if not_after is None:  # cryptography < 42
        not_after = certificate.not_valid_after.replace(tzinfo=datetime.timezone.utc)
    return _iso(not_after)


def _first_line(text, limit=300):
    text = str(text or "").strip().splitlines()
    return text[0][:limit] if text else ""


def _empty():
    return {"status": "not_checked", "reason": None, "url": None, "pcr0": None, "matched_pcr0": None,
            "module_id": None, "timestamp": None, "age_seconds": None, "leaf_not_after": None,
            "leaf_expires_in_seconds": None}


def judge_attestation(probe, now):
    """(attested, attestation object) of one oracle from its registered probe result and the verification in it.

    ``now`` is the report's time (a datetime, UTC): the age of the document and the time left on its
    leaf certificate are counted from it.
    """
    attestation = _empty()
    if not isinstance(probe, Mapping) or probe.get("skipped") or "status" not in probe:
        return "not_checked", attestation
    attestation["url"] = probe.get("url")
    status = probe.get("status")
    if status == "busy":
        attestation["status"] = "busy"
        return "busy", attestation
    if status != "attestation":
        attestation["status"] = "failed"
        attestation["reason"] = "probe: %s" % (_first_line(probe.get("error") or probe.get("msg")) or "no answer")
        return "failed", attestation
    verify = probe.get("verification") if isinstance(probe.get("verification"), Mapping) else {}
    pcrs = verify.get("pcrs") if isinstance(verify.get("pcrs"), Mapping) else {}
    attestation.update({
        "pcr0": pcrs.get("PCR0"),
        "matched_pcr0": verify.get("matched_pcr0"),
        "module_id": verify.get("module_id"),
        "timestamp": verify.get("timestamp"),
    })
    stamp = _parse_time(verify.get("timestamp"))
    if stamp is not None:
        attestation["age_seconds"] = int((now - stamp).total_seconds())
    # attestation_verify returns it too; read from the document when it did not (it could not parse it, or is older).
    attestation["leaf_not_after"] = verify.get("leaf_not_after") or leaf_not_after(probe.get("attestation"))
    expiry = _parse_time(attestation["leaf_not_after"])
    if expiry is not None:
        attestation["leaf_expires_in_seconds"] = int((expiry - now).total_seconds())
    if verify.get("verified") is True:
        attestation["status"] = "verified"
        return "verified", attestation
    reasons = [str(reason) for reason in verify.get("reasons") or [] if reason]
    attestation["status"] = "failed"
    attestation["reason"] = "; ".join(reasons) if reasons else (_first_line(probe.get("msg")) or "not verified")
    return "failed", attestation


def archive_records(rows, hostvars, probe_var, checked_at):
    """One archive record per verified oracle row: host, time, the document (hex) and the result."""
    records = []
    for row in rows or []:
        if not isinstance(row, Mapping) or row.get("attested") != "verified":
            continue
        variables = hostvars[row["host"]] if row["host"] in hostvars else {}
        probe = variables.get(probe_var) or {}
        verify = probe.get("verification") or {}
        result = dict((key, verify.get(key)) for key in (
            "verified", "matched_pcr0", "module_id", "timestamp", "nonce", "reasons"))
        result["pcr0"] = (verify.get("pcrs") or {}).get("PCR0")
        records.append({
            "schema": ARCHIVE_SCHEMA,
            "host": row["host"],
            "kind": row.get("kind"),
            "url": probe.get("url"),
            "checked_at": checked_at,
            "document": probe.get("attestation"),
            "sign_this": probe.get("sign_this"),
            "result": result,
        })
    return records


def archive_text(existing, records):
    """The archive file's new text: what it had, then one JSON line per record."""
    lines = [line for line in str(existing or "").splitlines() if line.strip()]
    lines.extend(json.dumps(record, sort_keys=True, separators=(",", ":")) for record in records or [])
    return "\n".join(lines) + "\n" if lines else ""
