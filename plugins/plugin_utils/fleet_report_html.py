# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The fleet report as one self-contained HTML page.

No external asset, no script: inline CSS only, so the file can be mailed,
archived or opened offline. Problems come first: a summary of the totals, then
every host that is down or degraded with its reasons, then the table of all
hosts ordered down, degraded, serving. On a narrow screen (a phone) each table
row becomes a card whose cells carry their column name.

Every host row is ``<tr class="host-row" data-host=... data-kind=... data-verdict=...>``
with a cell ``td.verdict``, so tools and tests can read the page back.

Public API: :func:`render_html`.
"""

from html import escape

from ansible_collections.opencontracts.enclave.plugins.plugin_utils.fleet_report import (
    SCHEMA,
    format_duration,
    short_hex,
    sort_problems_first,
)

_CSS = """
:root { color-scheme: light dark; --fg: #1d2330; --muted: #5b6475; --bg: #f6f7f9; --card: #ffffff; --line: #d9dde5;
  --down: #b42318; --down-bg: #fde8e7; --degraded: #8a5300; --degraded-bg: #fff1d6; --serving: #146c2e; --serving-bg: #e3f5e8; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e8ebf1; --muted: #a3acbd; --bg: #14171d; --card: #1d2129; --line: #343a46;
    --down: #ff8a80; --down-bg: #3d1715; --degraded: #ffc766; --degraded-bg: #3a2a0c; --serving: #7ee2a0; --serving-bg: #10301b; }
}
* { box-sizing: border-box; }
body { margin: 0; padding: 16px; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
  background: var(--bg); }
main { max-width: 1500px; margin: 0 auto; }
h1 { font-size: 1.5em; margin: 0 0 4px; }
h2 { font-size: 1.15em; margin: 24px 0 8px; }
.meta { color: var(--muted); margin: 0 0 8px; }
.headline { font-size: 1.1em; font-weight: 600; margin: 0 0 8px; }
.headline .down { color: var(--down); } .headline .degraded { color: var(--degraded); } .headline .serving { color: var(--serving); }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.92em; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 10px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; min-width: 0; }
.card .label { color: var(--muted); font-size: 0.85em; }
.card .value { font-size: 1.35em; font-weight: 600; overflow-wrap: anywhere; }
.card .sub { color: var(--muted); font-size: 0.85em; overflow-wrap: anywhere; }
.card.bad .value { color: var(--down); }
.card.warn .value { color: var(--degraded); }
.card.good .value { color: var(--serving); }
.badge { display: inline-block; padding: 1px 8px; border-radius: 999px; font-weight: 600; font-size: 0.85em; }
.badge.down { color: var(--down); background: var(--down-bg); }
.badge.degraded { color: var(--degraded); background: var(--degraded-bg); }
.badge.serving { color: var(--serving); background: var(--serving-bg); }
ul.problems { list-style: none; padding: 0; margin: 0; display: grid; gap: 8px; }
ul.problems > li { min-width: 0; overflow-wrap: anywhere;
  background: var(--card); border: 1px solid var(--line); border-left-width: 5px; border-radius: 6px; padding: 8px 12px; }
ul.problems > li.down { border-left-color: var(--down); }
ul.problems > li.degraded { border-left-color: var(--degraded); }
.ok { background: var(--serving-bg); color: var(--serving); border-radius: 6px; padding: 8px 12px; }
.table-wrap { overflow-x: auto; background: var(--card); border: 1px solid var(--line); border-radius: 8px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 7px 9px; border-bottom: 1px solid var(--line); }
th { font-size: 0.85em; color: var(--muted); font-weight: 600; white-space: nowrap; }
tr.host-row.down td:first-child { box-shadow: inset 4px 0 0 var(--down); }
tr.host-row.degraded td:first-child { box-shadow: inset 4px 0 0 var(--degraded); }
tr.host-row.serving td:first-child { box-shadow: inset 4px 0 0 var(--serving); }
td.host { font-weight: 600; white-space: nowrap; }
.reasons, .notes { margin: 4px 0 0; padding-left: 18px; font-size: 0.9em; overflow-wrap: anywhere; }
.notes { color: var(--muted); }
.sub { color: var(--muted); font-size: 0.85em; }
details summary { cursor: pointer; }
details code { display: block; overflow-wrap: anywhere; word-break: break-all; margin-top: 4px; }
.no { color: var(--down); font-weight: 600; }
.yes { color: var(--serving); font-weight: 600; }
footer { color: var(--muted); font-size: 0.85em; margin-top: 24px; }
@media (max-width: 760px) {
  body { padding: 10px; }
  .cards { grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 6px; }
  .card { padding: 6px 8px; }
  .card .value { font-size: 1.1em; }
  .table-wrap { overflow: visible; background: none; border: 0; }
  table, tbody, tr, td { display: block; width: 100%; }
  thead { display: none; }
  tr.host-row { background: var(--card); border: 1px solid var(--line); border-radius: 8px; margin-bottom: 10px; padding: 4px 0; }
  tr.host-row.down { border-left: 5px solid var(--down); }
  tr.host-row.degraded { border-left: 5px solid var(--degraded); }
  tr.host-row.serving { border-left: 5px solid var(--serving); }
  tr.host-row td:first-child { box-shadow: none; }
  td, td.host { border: 0; padding: 4px 12px; overflow-wrap: anywhere; white-space: normal; }
  td::before { content: attr(data-label); display: block; color: var(--muted); font-size: 0.8em; font-weight: 600; }
}
"""


def _e(value):
    return escape("" if value is None else str(value), quote=True)


def _cell(label, content, css=""):
    return '<td data-label="%s"%s>%s</td>' % (_e(label), (' class="%s"' % css) if css else "", content)


def _hex_details(value, head=16):
    if not value:
        return '<span class="sub">-</span>'
    return '<details><summary><code>%s</code></summary><code>%s</code></details>' % (_e(short_hex(value, head)), _e(value))


def _list(items, css):
    if not items:
        return ""
    return '<ul class="%s">%s</ul>' % (css, "".join("<li>%s</li>" % _e(item) for item in items))


def _enclave_html(row):
    enclave = row.get("enclave")
    if not enclave:
        return '<span class="sub">none</span>'
    flags = enclave.get("flags")
    flag_html = ' <span class="badge degraded">%s</span>' % _e(flags) if flags and flags != "NONE" else ""
    details = []
    if enclave.get("cid") is not None:
        details.append("CID %s" % enclave["cid"])
    if enclave.get("cpu_count") is not None:
        details.append("%s CPUs" % enclave["cpu_count"])
    if enclave.get("memory_mib") is not None:
        details.append("%s MiB" % enclave["memory_mib"])
    return '%s%s<div class="sub">%s</div><div class="sub mono">%s</div>' % (
        _e(enclave.get("state")), flag_html, _e(", ".join(details)), _e(enclave.get("id") or ""))


def _pcr0_html(row):
    html = _hex_details(row.get("pcr0"))
    if row.get("pcr0_permitted") is True:
        html += '<div class="yes">permitted (#%d of %d)</div>' % (row["pcr0_permitted_index"] + 1, row.get("permitted_pcr0_count") or 0)
    elif row.get("pcr0_permitted") is False:
        html += '<div class="no">not permitted</div>'
    elif row.get("pcr0"):
        html += '<div class="sub">no permitted list</div>'
    return html


def _price_html(row):
    if row["kind"] != "oracle":
        return '<span class="sub">n/a</span>'
    if row.get("price_opn") is None:
        return '<span class="sub">-</span>'
    quote = row.get("registry_quote")
    quoted = ('<div class="sub registry-quote">registry: %s</div>' % _e(quote["state"].replace("_", " "))) if quote else ""
    return '%s<div class="sub mono">%s wei</div>%s' % (_e(row["price_opn"]), _e(row["price_wei"]), quoted)


def _settings_html(row):
    if row["kind"] != "oracle":
        return '<span class="sub">n/a</span>'
    timeout = "forever" if row.get("runs_forever") else ("%s s" % row["no_demand_timeout"] if row.get("no_demand_timeout") else "-")
    provider = row.get("provider")
    provider_html = ('<span class="mono" title="%s">%s</span>' % (_e(provider), _e(short_hex(provider, 10)))) if provider else "-"
    return ('<div><span class="sub">provider</span> %s</div><div><span class="sub">registry</span> <span class="mono">%s</span></div>'
            '<div><span class="sub">no-demand timeout</span> %s</div>') % (provider_html, _e(row.get("registry") or "-"), _e(timeout))


def _service_html(row):
    service = row.get("service")
    if not service:
        return '<span class="sub">-</span>'
    state = service.get("active_state") or service.get("load_state") or "-"
    if service.get("load_state") == "not-found":
        state = "not installed"
    css = "yes" if state == "active" else "no"
    html = '<span class="%s">%s</span>' % (css, _e(state))
    if service.get("sub_state"):
        html += ' <span class="sub">(%s)</span>' % _e(service["sub_state"])
    if service.get("uptime_seconds") is not None:
        html += '<div>up %s</div>' % _e(format_duration(service["uptime_seconds"]))
    if service.get("restarts"):
        html += '<div class="sub">%s automatic restart%s</div>' % (_e(service["restarts"]), "" if service["restarts"] == 1 else "s")
    html += '<div class="sub mono">%s</div>' % _e(service.get("unit"))
    return html


def _ports_html(row):
    if not row.get("ports"):
        return '<span class="sub">-</span>'
    parts = []
    for probe in row["ports"]:
        css = "yes" if probe.get("open") else "no"
        parts.append('<div><span class="mono">%s</span> <span class="%s">%s</span></div>' % (
            _e(probe.get("port")), css, "reachable" if probe.get("open") else "closed"))
    return "".join(parts)


def _row_html(row):
    verdict = row.get("verdict") or "down"
    verdict_html = '<span class="badge %s">%s</span>%s%s' % (
        _e(verdict), _e(verdict), _list(row.get("reasons"), "reasons"), _list(row.get("notes"), "notes"))
    cells = [
        _cell("Host", _e(row["host"]), "host"),
        _cell("Kind", _e(row["kind"]), "kind"),
        _cell("Verdict", verdict_html, "verdict"),
        _cell("Enclave", _enclave_html(row), "enclave"),
        _cell("PCR0", _pcr0_html(row), "pcr0"),
        _cell("Price", _price_html(row), "price"),
        _cell("Settings", _settings_html(row), "settings"),
        _cell("Service", _service_html(row), "service"),
        _cell("Ports", _ports_html(row), "ports"),
    ]
    return '<tr class="host-row %s" data-host="%s" data-kind="%s" data-verdict="%s">%s</tr>' % (
        _e(verdict), _e(row["host"]), _e(row["kind"]), _e(verdict), "".join(cells))


def _card(label, value, sub="", css=""):
    return '<div class="card %s"><div class="label">%s</div><div class="value">%s</div><div class="sub">%s</div></div>' % (
        css, _e(label), _e(value), _e(sub))


def _cards_html(totals):
    price = totals.get("price") or {}
    rows = totals.get("rows", 0)
    cards = [
        _card("Serving", "%d / %d" % (totals.get("serving", 0), rows), "hosts and kinds",
              "good" if totals.get("serving") == rows and rows else "warn"),
        _card("Degraded", totals.get("degraded", 0), "running, not fit to serve", "warn" if totals.get("degraded") else ""),
        _card("Down", totals.get("down", 0), "nothing serving", "bad" if totals.get("down") else ""),
        _card("Cheapest price", price.get("cheapest_opn") or "-",
              ("%s wei, %s" % (price.get("cheapest_wei"), ", ".join(price.get("cheapest_hosts") or []))) if price.get("count") else "no oracle serving"),
        _card("Median price", price.get("median_opn") or "-",
              ("%s wei, %d serving oracle%s" % (price.get("median_wei"), price["count"], "" if price["count"] == 1 else "s")) if price.get("count") else ""),
    ]
    # Where each registry asked sends users (fleet_report_registry_quote).
    for item in totals.get("registry_quotes") or []:
        cards.append(_card("Registry %s" % item["registry"], item["summary"].split(" (+ ", 1)[0], item["summary"]))
    for key, label in (("pcr0_not_permitted", "PCR0 not permitted"), ("debug_mode", "Debug mode"), ("unreachable", "Unreachable")):
        item = totals.get(key) or {}
        cards.append(_card(label, item.get("count", 0), ", ".join(item.get("hosts") or []), "bad" if item.get("count") else ""))
    return '<div class="cards">%s</div>' % "".join(cards)


def _headline_html(totals):
    rows = totals.get("rows", 0)
    parts = ['<span class="serving">%d of %d serving</span>' % (totals.get("serving", 0), rows)]
    if totals.get("degraded"):
        parts.append('<span class="degraded">%d degraded</span>' % totals["degraded"])
    if totals.get("down"):
        parts.append('<span class="down">%d down</span>' % totals["down"])
    return '<p class="headline" id="headline">%s</p>' % " &middot; ".join(parts)


def _problems_html(rows):
    problems = [row for row in rows if row.get("verdict") != "serving"]
    if not problems:
        return '<h2>Problems</h2><p class="ok" id="no-problems">No problems: every host is serving.</p>'
    items = []
    for row in problems:
        items.append('<li class="%s" data-host="%s" data-kind="%s"><strong>%s</strong> <span class="sub">%s</span> '
                     '<span class="badge %s">%s</span>%s</li>' % (
                         _e(row["verdict"]), _e(row["host"]), _e(row["kind"]), _e(row["host"]), _e(row["kind"]),
                         _e(row["verdict"]), _e(row["verdict"]), _list(row.get("reasons"), "reasons")))
    return '<h2>Problems (%d)</h2><ul class="problems" id="problems">%s</ul>' % (len(problems), "".join(items))


def render_html(report):
    """The report as a complete HTML document (a str)."""
    rows = sort_problems_first(report.get("hosts") or [])
    totals = report.get("totals") or {}
    title = report.get("title") or "Fleet report"
    headers = ["Host", "Kind", "Verdict", "Enclave", "PCR0", "Price", "Settings", "Service", "Ports"]
    body = [
        "<header><h1>%s</h1><p class=\"meta\">Generated %s &middot; %d host%s &middot; schema %s v%s</p></header>" % (
            _e(title), _e(report.get("generated_at")), totals.get("hosts", 0), "" if totals.get("hosts") == 1 else "s",
            _e(report.get("schema") or SCHEMA), _e(report.get("schema_version"))),
        _headline_html(totals),
        '<section id="problem-list">%s</section>' % _problems_html(rows),
        '<section id="summary"><h2>Fleet totals</h2>%s</section>' % _cards_html(totals),
        '<section id="all-hosts"><h2>All hosts</h2><div class="table-wrap"><table id="hosts"><thead><tr>%s</tr></thead>'
        '<tbody>%s</tbody></table></div></section>' % (
            "".join("<th>%s</th>" % _e(h) for h in headers), "".join(_row_html(row) for row in rows)),
        "<footer>Verdicts: <b>down</b> = nothing of this kind serves (unreachable, no enclave running, nitro-cli missing); "
        "<b>degraded</b> = the enclave runs but is not fit to serve (debug mode, PCR0 not permitted, port closed, "
        "service not active); <b>serving</b> = none of these. Prices of serving oracles only.</footer>",
    ]
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            "<title>%s %s</title>\n<style>%s</style>\n</head>\n<body>\n<main>\n%s\n</main>\n</body>\n</html>\n") % (
        _e(title), _e(report.get("generated_at")), _CSS, "\n".join(body))
