#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: fleet_report_files
short_description: Write the fleet report's files - JSON, HTML, the fleet-latest links and the attestation archive
version_added: 0.2.0
description:
  - Writes a fleet report (the filter P(opencontracts.enclave.fleet_report#filter)) into O(dir) as
    C(fleet-<stamp>.json) and C(fleet-<stamp>.html), where C(<stamp>) is the report's C(generated_at) without
    C(-) and C(:) (C(20261127T091405Z)), and points the links C(fleet-latest.json) and C(fleet-latest.html) at them.
  - Appends O(attestations) (the filter P(opencontracts.enclave.fleet_report_attestation_archive#filter)'s lines)
    to C(attestations-<date>.jsonl), C(<date>) being the report's day (C(20261127)); nothing when it is empty.
  - Creates O(dir) (mode C(0755)) when it is missing. Each file is written to a temporary file beside it, then
    renamed.
  - A report's files are new output, not managed state; the fleet_report role runs this task with
    C(check_mode=false) and C(changed_when=false). In check mode the module writes nothing and says what it
    would write.
options:
  report:
    description: The fleet report; its C(generated_at) (C(YYYY-MM-DDTHH:MM:SSZ)) names the files.
    type: dict
    required: true
  html:
    description: The report as an HTML page (the filter P(opencontracts.enclave.fleet_report_html#filter)).
    type: str
    required: true
  attestations:
    description: JSON lines to append to the day's attestation archive; empty appends nothing.
    type: str
    default: ""
  dir:
    description: The folder of the report files.
    type: path
    required: true
  mode:
    description: The permissions of the files written.
    type: raw
    default: "0644"
extends_documentation_fragment:
  - opencontracts.enclave.attributes
attributes:
  check_mode:
    support: full
    details: Writes nothing and returns the paths it would write.
  diff_mode:
    support: none
    details: Every file is new (or an archive grows); there is no before to show.
  platform:
    details: Runs where the report is kept, usually the controller (C(delegate_to=localhost)).
seealso:
  - module: opencontracts.enclave.fleet_report_metrics
    description: Writes the same report as Prometheus metrics.
author:
  - Open Contracts enclave collection contributors (@open-contracts)
"""

EXAMPLES = r"""
- name: Write the report files
  opencontracts.enclave.fleet_report_files:
    report: "{{ fleet_report_result }}"
    html: "{{ fleet_report_result | opencontracts.enclave.fleet_report_html }}"
    attestations: "{{ fleet_report_result | opencontracts.enclave.fleet_report_attestation_archive(hostvars) }}"
    dir: "{{ playbook_dir }}/../reports"
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
json:
  description: The JSON report written.
  returned: always
  type: str
  sample: /srv/reports/fleet-20261127T091405Z.json
html:
  description: The HTML report written.
  returned: always
  type: str
  sample: /srv/reports/fleet-20261127T091405Z.html
archive:
  description: The attestation archive appended to, or null when O(attestations) is empty.
  returned: always
  type: str
  sample: /srv/reports/attestations-20261127.jsonl
ansible_facts:
  description: The fact the fleet_report role publishes.
  returned: always
  type: dict
  contains:
    fleet_report_files:
      description: C(json) and C(html), the paths written.
      type: dict
      sample: {json: /srv/reports/fleet-20261127T091405Z.json, html: /srv/reports/fleet-20261127T091405Z.html}
"""

import json
import os
import re
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes

GENERATED_AT_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z\Z")


def names(generated_at):
    """(stamp, day) of the report's files: 2026-11-27T09:14:05Z -> (20261127T091405Z, 20261127)."""
    return re.sub(r"[-:]", "", generated_at), generated_at[:10].replace("-", "")


def write_atomic(path, data):
    """Write bytes to a temporary file beside path, then rename it to path."""
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".%s." % os.path.basename(path))
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def link(target, path):
    """Point the symbolic link path at target (a name in the same folder), replacing what is there."""
    temporary = "%s.%d.tmp" % (path, os.getpid())
    os.symlink(target, temporary)
    os.replace(temporary, path)


def appended(path, lines):
    """The archive's new bytes: what it has (ending with a newline), then lines."""
    try:
        with open(path, "rb") as handle:
            existing = handle.read()
    except FileNotFoundError:
        existing = b""
    if existing and not existing.endswith(b"\n"):
        existing += b"\n"
    return existing + to_bytes(lines if lines.endswith("\n") else lines + "\n")


def main():
    module = AnsibleModule(
        argument_spec=dict(
            report=dict(type="dict", required=True),
            html=dict(type="str", required=True),
            attestations=dict(type="str", default=""),
            dir=dict(type="path", required=True),
            mode=dict(type="raw", default="0644"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    generated_at = params["report"].get("generated_at")
    if not isinstance(generated_at, str) or not GENERATED_AT_RE.match(generated_at):
        module.fail_json(msg="report.generated_at must be a UTC time such as 2026-11-27T09:14:05Z, got %r" % (generated_at,))
    folder = params["dir"]
    if os.path.exists(folder) and not os.path.isdir(folder):
        module.fail_json(msg="dir is not a folder: %s" % folder)
    stamp, day = names(generated_at)
    files = {"json": os.path.join(folder, "fleet-%s.json" % stamp), "html": os.path.join(folder, "fleet-%s.html" % stamp)}
    archive = os.path.join(folder, "attestations-%s.jsonl" % day) if params["attestations"].strip() else None
    result = dict(changed=True, json=files["json"], html=files["html"], archive=archive,
                  ansible_facts={"fleet_report_files": files})
    if module.check_mode:
        module.exit_json(**result)
    contents = {
        "json": to_bytes(json.dumps(params["report"], indent=2, sort_keys=True, separators=(",", ": ")) + "\n"),
        "html": to_bytes(params["html"]),
    }
    try:
        if not os.path.isdir(folder):
            os.makedirs(folder, 0o755)
        for kind in ("json", "html"):
            write_atomic(files[kind], contents[kind])
            link(os.path.basename(files[kind]), os.path.join(folder, "fleet-latest.%s" % kind))
        if archive:
            write_atomic(archive, appended(archive, params["attestations"]))
    except OSError as error:
        module.fail_json(msg="cannot write the report files in %s: %s" % (folder, error), **result)
    for path in [files["json"], files["html"]] + ([archive] if archive else []):
        module.set_fs_attributes_if_different(module.load_file_common_arguments(dict(path=path, mode=params["mode"])), True)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
