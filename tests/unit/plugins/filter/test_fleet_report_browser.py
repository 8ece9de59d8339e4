"""The fleet report's HTML page rendered by headless Chromium (Debian's `chromium` package).

The page is rendered at a laptop and at a phone size. The assertions read the DOM Chromium built
(`--dump-dom`): every host's row and verdict, and, through a probe page that shows the report in a
frame of the screen's size, what is visible and whether anything overflows the screen sideways.
Screenshots of both sizes are written to tests/output/fleet_report/ for a person to look at.
"""

import json
import os
import shutil
import subprocess
from html import escape
from html.parser import HTMLParser

import pytest

import fleet_samples as samples
from ansible_collections.opencontracts.enclave.plugins.filter import fleet_report as filters

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
OUTPUT = os.path.join(REPO, "tests", "output", "fleet_report")
SIZES = {"laptop": (1366, 900), "phone": (390, 844)}

# A page that shows the report in a frame of the screen's size (headless Chromium keeps its window at least
# 500 pixels wide, so a phone's 390 pixels are given to the frame, whose width the page's CSS sees) and
# writes what the browser laid out there, as JSON, into <pre id="probe">.
PROBE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"></head><body style="margin:0">
<iframe id="page" style="width:%(width)dpx;height:%(height)dpx;border:0;display:block" srcdoc="%(srcdoc)s"></iframe>
<script>
window.addEventListener("load", function () {
  var doc = document.getElementById("page").contentDocument, win = document.getElementById("page").contentWindow;
  var rows = Array.prototype.map.call(doc.querySelectorAll("tr.host-row"), function (row) {
    var verdict = row.querySelector("td.verdict .badge");
    var box = verdict.getBoundingClientRect();
    return {host: row.getAttribute("data-host"), verdict: verdict.innerText.trim(),
            visible: box.width > 0 && box.height > 0 && win.getComputedStyle(verdict).visibility === "visible",
            left: box.left, right: box.right};
  });
  var problems = Array.prototype.map.call(doc.querySelectorAll("#problems > li"), function (item) {
    return {host: item.getAttribute("data-host"), top: item.getBoundingClientRect().top};
  });
  var out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify({
    innerWidth: win.innerWidth,
    scrollWidth: doc.documentElement.scrollWidth,
    tableTop: doc.getElementById("hosts").getBoundingClientRect().top,
    problemsTop: problems.length ? problems[0].top : null,
    headerCells: Array.prototype.filter.call(doc.querySelectorAll("#hosts thead th"), function (th) {
      return th.getBoundingClientRect().height > 0; }).length,
    rows: rows, problems: problems
  });
  document.body.appendChild(out);
});
</script>
</body></html>
"""


def chromium():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("headless Chromium is needed for this test: install Debian's package `chromium` "
                "(`make setup` does, through tests/harness/system-packages.sh)")
    return None


def run_chromium(tmp_path, size, *args):
    width, height = SIZES[size]
    argv = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
            "--disable-extensions", "--user-data-dir=%s" % (tmp_path / ("profile-" + size)),
            "--window-size=%d,%d" % (width, height)] + list(args)
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=180, check=False,
                          env=dict(os.environ, HOME=str(tmp_path)))
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")[-3000:]
    return proc.stdout.decode("utf-8")


class Rows(HTMLParser):
    """The host rows of a DOM dump: data-host, data-verdict and the verdict cell's badge text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.rows = []
        self.probe = ""
        self._badge = None
        self._in_probe = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        if tag == "tr" and "host-row" in classes:
            self.rows.append({"host": attrs.get("data-host"), "verdict": attrs.get("data-verdict"), "badge": ""})
        elif tag == "span" and "badge" in classes and self.rows and self.rows[-1]["badge"] == "":
            self._badge = self.rows[-1]
        elif tag == "pre" and attrs.get("id") == "probe":
            self._in_probe = True

    def handle_endtag(self, tag):
        if tag == "span":
            self._badge = None
        elif tag == "pre":
            self._in_probe = False

    def handle_data(self, data):
        if self._badge is not None:
            self._badge["badge"] += data
        if self._in_probe:
            self.probe += data


@pytest.fixture(scope="module", name="page")
def fixture_page():
    hostvars, groups = samples.sample_fleet()
    report = filters.fleet_report(sorted(hostvars), hostvars, groups, generated_at="2026-11-27T09:14:05Z")
    os.makedirs(OUTPUT, exist_ok=True)
    path = os.path.join(OUTPUT, "fleet.html")
    html = filters.fleet_report_html(report)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(html)
    probes = {}
    for size, (width, height) in SIZES.items():
        probes[size] = os.path.join(OUTPUT, "fleet-probe-%s.html" % size)
        with open(probes[size], "w", encoding="utf-8") as handle:
            handle.write(PROBE % {"width": width, "height": height, "srcdoc": escape(html, quote=True)})
    return path, probes


@pytest.mark.parametrize("size", sorted(SIZES))
def test_every_host_row_and_verdict_in_the_rendered_dom(page, size, tmp_path):
    path, _probe = page
    dom = run_chromium(tmp_path, size, "--dump-dom", "file://" + path)
    parsed = Rows()
    parsed.feed(dom)
    found = dict((row["host"], (row["verdict"], row["badge"].strip())) for row in parsed.rows)
    assert found == dict((host, (verdict, verdict)) for host, verdict in samples.EXPECTED_VERDICTS.items())
    assert len(parsed.rows) == len(samples.EXPECTED_VERDICTS)


@pytest.mark.parametrize("size", sorted(SIZES))
def test_layout_problems_first_and_nothing_off_screen(page, size, tmp_path):
    _path, probes = page
    parsed = Rows()
    parsed.feed(run_chromium(tmp_path, size, "--dump-dom", "--virtual-time-budget=3000", "file://" + probes[size]))
    assert parsed.probe, "the probe script did not run"
    layout = json.loads(parsed.probe)
    width = SIZES[size][0]
    assert layout["innerWidth"] == width
    # Nothing wider than the screen: no sideways scrolling on a phone or a laptop.
    assert layout["scrollWidth"] <= width, layout["scrollWidth"]
    rows = dict((row["host"], row) for row in layout["rows"])
    assert sorted(rows) == sorted(samples.EXPECTED_VERDICTS)
    for host, row in rows.items():
        assert row["visible"] and row["verdict"] == samples.EXPECTED_VERDICTS[host], row
        assert 0 <= row["left"] and row["right"] <= width, row
    # Problems come before the table of all hosts, down before degraded.
    assert [item["host"] for item in layout["problems"]] == ["oracle-6", "oracle-7", "oracle-4", "oracle-5"]
    assert layout["problemsTop"] < layout["tableTop"]
    # The phone shows cards (no visible table header), the laptop a table with its header.
    assert layout["headerCells"] == (0 if size == "phone" else 9)


@pytest.mark.parametrize("size", sorted(SIZES))
def test_screenshot_for_a_person(page, size, tmp_path):
    path, _probe = page
    width, _height = SIZES[size]
    shot = os.path.join(OUTPUT, "fleet-%s.png" % size)
    if os.path.exists(shot):
        os.unlink(shot)
    # A tall window, so the screenshot shows the whole page.
    tall = dict(SIZES)
    tall[size] = (width, 3200 if size == "phone" else 1600)
    argv_size = "--window-size=%d,%d" % tall[size]
    run_chromium(tmp_path, size, argv_size, "--screenshot=%s" % shot, "file://" + path)
    with open(shot, "rb") as handle:
        header = handle.read(24)
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(header[16:20], "big") == width
