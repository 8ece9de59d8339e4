# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The fleet report as Prometheus metrics, for node_exporter's textfile collector.

Used by the module fleet_report_metrics, which runs on the controller. Every metric has the
prefix :data:`PREFIX` and the labels ``host`` and ``kind`` (one series per report row), except the
report's own time. A value that is unknown for a row (no PCR0, no price, an attestation that was not
checked) has no series for that row, so that an alert never mistakes "unknown" for 0.
The exposition format is prometheus_client's.
"""

import calendar
import time

from collections.abc import Mapping

try:
    from prometheus_client import CollectorRegistry, Gauge
    from prometheus_client.exposition import generate_latest, write_to_textfile
    HAS_PROMETHEUS_CLIENT = True
except ImportError:
    HAS_PROMETHEUS_CLIENT = False

PREFIX = "opencontracts_enclave_"
LABELS = ("host", "kind")

# name (without the prefix) -> help text
METRICS = (
    ("serving", "1 when the enclave of this kind serves (fleet report verdict serving), else 0."),
    ("attested", "1 when the oracle's attestation document verified, 0 when it failed; no series when it was not checked or the oracle was busy."),
    ("pcr0_permitted", "1 when the running enclave's PCR0 is on the permitted list, 0 when not; no series when unknown."),
    ("price_wei", "The oracle's price in the token's smallest unit (OPN x 10^18), as configured."),
    ("restarts", "Automatic restarts of the enclave's service unit by systemd (NRestarts)."),
    ("attestation_age_seconds", "Seconds between the attestation document's timestamp and the report."),
)


class MetricsError(ValueError):
    """The input is not a fleet report."""


def _flag(value):
    if value is True:
        return 1.0
    if value is False:
        return 0.0
    return None


def row_values(row):
    """The metric values of one report row: name -> float, only for the known ones."""
    attestation = row.get("attestation") if isinstance(row.get("attestation"), Mapping) else {}
    service = row.get("service") if isinstance(row.get("service"), Mapping) else {}
    attested = row.get("attested")
    values = {
        "serving": 1.0 if row.get("verdict") == "serving" else 0.0,
        "attested": {"verified": 1.0, "failed": 0.0}.get(attested),
        "pcr0_permitted": _flag(row.get("pcr0_permitted")),
        "price_wei": float(row["price_wei"]) if row.get("price_wei") is not None else None,
        "restarts": float(service["restarts"]) if isinstance(service.get("restarts"), int) else None,
        "attestation_age_seconds": float(attestation["age_seconds"]) if isinstance(attestation.get("age_seconds"), int) else None,
    }
    return dict((name, value) for name, value in values.items() if value is not None)


def report_time(report):
    """The report's generated_at as seconds since the epoch, or None."""
    try:
        return float(calendar.timegm(time.strptime(report.get("generated_at"), "%Y-%m-%dT%H:%M:%SZ")))
    except (TypeError, ValueError):
        return None


def build_registry(report):
    """A prometheus_client registry holding the report's metrics."""
    if not isinstance(report, Mapping) or not isinstance(report.get("hosts"), list):
        raise MetricsError("the input must be a fleet report (a mapping with hosts), made by the filter "
                           "opencontracts.enclave.fleet_report")
    registry = CollectorRegistry()
    gauges = dict((name, Gauge(PREFIX + name, text, LABELS, registry=registry)) for name, text in METRICS)
    generated = Gauge(PREFIX + "report_timestamp_seconds", "When the fleet report was made (its generated_at).",
                      registry=registry)
    for row in report["hosts"]:
        if not isinstance(row, Mapping) or not row.get("host") or not row.get("kind"):
            raise MetricsError("every report row needs a host and a kind; got %r" % (row,))
        for name, value in row_values(row).items():
            gauges[name].labels(host=str(row["host"]), kind=str(row["kind"])).set(value)
    seconds = report_time(report)
    if seconds is not None:
        generated.set(seconds)
    return registry


def metrics_text(report):
    """The metrics in the text exposition format, as node_exporter's textfile collector reads them."""
    return generate_latest(build_registry(report)).decode("utf-8")


def write_metrics(report, path):
    """Write the metrics to path atomically (a temporary file beside it, then renamed)."""
    write_to_textfile(path, build_registry(report))
