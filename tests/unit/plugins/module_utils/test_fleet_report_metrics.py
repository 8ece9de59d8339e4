"""The fleet report's Prometheus metrics: the text node_exporter's textfile collector reads.

The expected lines are written out by hand from the report rows below.
"""

import pytest

from ansible_collections.opencontracts.enclave.plugins.module_utils import fleet_report_metrics as fm

REPORT = {
    "generated_at": "2026-11-27T09:14:05Z",
    "hosts": [
        {"host": "oracle-1", "kind": "oracle", "verdict": "serving", "attested": "verified", "pcr0_permitted": True,
         "price_wei": "2500000000000000000", "service": {"restarts": 2}, "attestation": {"age_seconds": 7}},
        {"host": "oracle-2", "kind": "oracle", "verdict": "degraded", "attested": "failed", "pcr0_permitted": False,
         "price_wei": "1000000000000000000", "service": {"restarts": 0}, "attestation": {"age_seconds": None}},
        {"host": "oracle-3", "kind": "oracle", "verdict": "serving", "attested": "busy", "pcr0_permitted": True,
         "price_wei": None, "service": None, "attestation": {"status": "busy"}},
        {"host": "oracle-4", "kind": "oracle", "verdict": "down", "attested": "not_checked", "pcr0_permitted": None,
         "price_wei": "3000000000000000000", "service": {"restarts": None}, "attestation": None},
        {"host": "registry-1", "kind": "registry", "verdict": "serving", "pcr0_permitted": True,
         "service": {"restarts": 1}},
    ],
}


def series(text):
    """The sample lines of the text, without comments."""
    return sorted(line for line in text.splitlines() if line and not line.startswith("#"))


def test_metric_text():
    text = fm.metrics_text(REPORT)
    assert series(text) == sorted([
        'opencontracts_enclave_serving{host="oracle-1",kind="oracle"} 1.0',
        'opencontracts_enclave_serving{host="oracle-2",kind="oracle"} 0.0',
        'opencontracts_enclave_serving{host="oracle-3",kind="oracle"} 1.0',
        'opencontracts_enclave_serving{host="oracle-4",kind="oracle"} 0.0',
        'opencontracts_enclave_serving{host="registry-1",kind="registry"} 1.0',
        'opencontracts_enclave_attested{host="oracle-1",kind="oracle"} 1.0',
        'opencontracts_enclave_attested{host="oracle-2",kind="oracle"} 0.0',
        'opencontracts_enclave_pcr0_permitted{host="oracle-1",kind="oracle"} 1.0',
        'opencontracts_enclave_pcr0_permitted{host="oracle-2",kind="oracle"} 0.0',
        'opencontracts_enclave_pcr0_permitted{host="oracle-3",kind="oracle"} 1.0',
        'opencontracts_enclave_pcr0_permitted{host="registry-1",kind="registry"} 1.0',
        'opencontracts_enclave_price_wei{host="oracle-1",kind="oracle"} 2.5e+18',
        'opencontracts_enclave_price_wei{host="oracle-2",kind="oracle"} 1e+18',
        'opencontracts_enclave_price_wei{host="oracle-4",kind="oracle"} 3e+18',
        'opencontracts_enclave_restarts{host="oracle-1",kind="oracle"} 2.0',
        'opencontracts_enclave_restarts{host="oracle-2",kind="oracle"} 0.0',
        'opencontracts_enclave_restarts{host="registry-1",kind="registry"} 1.0',
        'opencontracts_enclave_attestation_age_seconds{host="oracle-1",kind="oracle"} 7.0',
        'opencontracts_enclave_report_timestamp_seconds 1.795770845e+09',
    ])
    # Every metric is typed and explained, as the textfile collector expects.
    for name in ("serving", "attested", "pcr0_permitted", "price_wei", "restarts", "attestation_age_seconds",
                 "report_timestamp_seconds"):
        assert "# TYPE opencontracts_enclave_%s gauge\n" % name in text
        assert "# HELP opencontracts_enclave_%s " % name in text


def test_label_values_are_escaped():
    text = fm.metrics_text({"generated_at": "2026-11-27T09:14:05Z",
                            "hosts": [{"host": 'odd"host\\', "kind": "oracle", "verdict": "serving"}]})
    assert 'opencontracts_enclave_serving{host="odd\\"host\\\\",kind="oracle"} 1.0' in text


def test_written_file_is_the_text(tmp_path):
    path = tmp_path / "opencontracts_enclave.prom"
    fm.write_metrics(REPORT, str(path))
    assert path.read_text() == fm.metrics_text(REPORT)
    assert [p.name for p in tmp_path.iterdir()] == ["opencontracts_enclave.prom"]  # no temporary file left


@pytest.mark.parametrize("report", [None, {}, {"hosts": "x"}, {"hosts": [{"host": "a"}]}])
def test_not_a_report(report):
    with pytest.raises(fm.MetricsError):
        fm.metrics_text(report)
