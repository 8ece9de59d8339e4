"""The filters fleet_report, fleet_report_table and fleet_report_html, and the HTML page's structure."""

import re
from html.parser import HTMLParser

import pytest

import fleet_samples as samples
from ansible.errors import AnsibleFilterError
from ansible_collections.opencontracts.enclave.plugins.filter import fleet_report as filters


class Page(HTMLParser):
    """Collects the tags, attributes and text of a page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags = []
        self.rows = []
        self.problems = []
        self.text = []
        self._verdict_cell = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        classes = (attrs.get("class") or "").split()
        if tag == "tr" and "host-row" in classes:
            self.rows.append({"host": attrs["data-host"], "kind": attrs["data-kind"], "verdict": attrs["data-verdict"], "cell": ""})
        if tag == "li" and attrs.get("data-host") and self.tags and any(t == "ul" and a.get("id") == "problems" for t, a in self.tags):
            self.problems.append(attrs["data-host"])
        if tag == "td" and "verdict" in classes:
            self._verdict_cell = self.rows[-1]

    def handle_endtag(self, tag):
        if tag == "td":
            self._verdict_cell = None

    def handle_data(self, data):
        self.text.append(data)
        if self._verdict_cell is not None:
            self._verdict_cell["cell"] += data


def report():
    hostvars, groups = samples.sample_fleet()
    return filters.fleet_report(sorted(hostvars), hostvars, groups, generated_at="2026-11-27T09:14:05Z")


def parse(html):
    page = Page()
    page.feed(html)
    return page


def test_filters_are_registered():
    assert set(filters.FilterModule().filters()) == {"fleet_report", "fleet_report_table", "fleet_report_html",
                                                     "fleet_report_attestation_archive"}


def test_filter_builds_the_report():
    built = report()
    assert built["generated_at"] == "2026-11-27T09:14:05Z"
    assert dict((row["host"], row["verdict"]) for row in built["hosts"]) == samples.EXPECTED_VERDICTS


def test_filter_errors_are_filter_errors():
    with pytest.raises(AnsibleFilterError, match="opencontracts.enclave.fleet_report: unknown report option 'colour'"):
        filters.fleet_report([], {}, {}, options={"colour": "red"})
    for name in ("fleet_report_table", "fleet_report_html"):
        with pytest.raises(AnsibleFilterError, match="opencontracts.enclave.%s: the input must be a report" % name):
            getattr(filters, name)({"not": "a report"})


def test_generated_at_defaults_to_now():
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", filters.fleet_report([], {}, {})["generated_at"])


def test_html_is_self_contained():
    html = filters.fleet_report_html(report())
    page = parse(html)
    assert html.startswith("<!DOCTYPE html>")
    assert not [tag for tag, _attrs in page.tags if tag in ("script", "link", "img", "iframe", "object", "embed")]
    assert not [attrs for _tag, attrs in page.tags if "src" in attrs or "href" in attrs]
    for external in ("url(", "@import", "http://", "https://"):
        assert external not in html
    assert ('meta', {"name": "viewport", "content": "width=device-width, initial-scale=1"}) in page.tags


def test_html_rows_problems_first_and_verdicts():
    page = parse(filters.fleet_report_html(report()))
    assert [row["host"] for row in page.rows] == [
        "oracle-6", "oracle-7", "oracle-4", "oracle-5", "oracle-1", "oracle-2", "oracle-3", "registry-1"]
    for row in page.rows:
        assert row["verdict"] == samples.EXPECTED_VERDICTS[row["host"]]
        assert row["cell"].startswith(row["verdict"])
    assert page.problems == ["oracle-6", "oracle-7", "oracle-4", "oracle-5"]
    text = "".join(page.text)
    for fact in ("4 of 8 serving", "2 degraded", "2 down", "not permitted",
                 "debug mode", "2.5 OPN", "2500000000000000000 wei", "up 1d 1h", "203.0.113.10"):
        assert fact in text, fact


def test_html_escapes_everything():
    built = report()
    built["hosts"][0]["host"] = "<script>alert(1)</script>"
    built["hosts"][0]["reasons"] = ['port "8080" <closed> & gone']
    html = filters.fleet_report_html(built)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "port &quot;8080&quot; &lt;closed&gt; &amp; gone" in html


def test_html_without_problems_says_so():
    hostvars, groups = samples.sample_fleet()
    serving = [host for host, verdict in samples.EXPECTED_VERDICTS.items() if verdict == "serving"]
    html = filters.fleet_report_html(filters.fleet_report(serving, hostvars, groups))
    assert 'id="no-problems"' in html and "every host is serving" in html and 'id="problems"' not in html


def test_table_filter():
    table = filters.fleet_report_table(report())
    assert table.splitlines()[1].startswith("oracle-6") and table.endswith("\n")


def test_html_shows_the_registry_quote():
    hostvars, groups = samples.sample_fleet()
    hostvars["oracle-3"].update({
        "__fleet_report_registry_quote": {"changed": False, "quote": {
            "ip": "198.51.100.3", "available": True, "price_wei": 10 ** 18, "registry_price_wei": 10 ** 17,
            "provider": samples.PROVIDER_EIP55, "registry_signature": "0x01"},
            "address": "198.51.100.3", "url": "ws://203.0.113.10:8080<b>"}})
    html = filters.fleet_report_html(filters.fleet_report(sorted(hostvars), hostvars, groups, generated_at="2026-11-27T09:14:05Z"))
    assert "Registry ws://203.0.113.10:8080&lt;b&gt;" in html
    assert "users are sent to 198.51.100.3 at 1 OPN (+ registry 0.1 OPN)" in html
    assert html.count('class="sub registry-quote">registry: registered<') == 1
