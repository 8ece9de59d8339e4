#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: fleet_report_metrics
short_description: Write the fleet report as Prometheus metrics for node_exporter's textfile collector
version_added: 0.2.0
description:
  - Writes a fleet report (the filter P(opencontracts.enclave.fleet_report#filter)) as Prometheus metrics in the
    text format that node_exporter's textfile collector reads (C(--collector.textfile.directory)), atomically,
    to a temporary file beside O(path), then renamed (C(prometheus_client.write_to_textfile)), so the collector
    never reads half a file.
  - One series per report row, labels C(host) and C(kind), prefix C(opencontracts_enclave_), for
    C(serving) (1 or 0), C(attested) (1 verified, 0 failed), C(pcr0_permitted) (1 or 0), C(price_wei),
    C(restarts) (of the service unit), C(attestation_age_seconds); and C(opencontracts_enclave_report_timestamp_seconds),
    when the report was made (alert when it gets old, since then the scheduled run stopped).
  - A value that is unknown for a row (no PCR0, an attestation that was not checked or found the oracle busy, no
    price) has no series for that row.
  - Runs on the controller, or wherever node_exporter reads its textfile directory from.
options:
  report:
    description: The fleet report.
    type: dict
    required: true
  path:
    description:
      - The file to write, in node_exporter's textfile directory; its name must end in C(.prom). The directory
        must exist.
    type: path
    required: true
  mode:
    description: The file's permissions.
    type: raw
    default: "0644"
extends_documentation_fragment:
  - opencontracts.enclave.attributes
  - opencontracts.enclave.attributes.files
attributes:
  platform:
    details: Runs where the metrics file is read, usually the controller; needs the Python library C(prometheus_client).
requirements:
  - prometheus_client (Python), where the module runs
seealso:
  - name: node_exporter textfile collector
    description: How node_exporter reads metrics from files.
    link: https://github.com/prometheus/node_exporter#textfile-collector
author:
  - Open Contracts enclave collection contributors (@open-contracts)
"""

EXAMPLES = r"""
- name: Write the fleet report's metrics
  opencontracts.enclave.fleet_report_metrics:
    report: "{{ fleet_report_result }}"
    path: /var/lib/node_exporter/textfile/opencontracts_enclave.prom
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
path:
  description: The file written.
  returned: always
  type: str
  sample: /var/lib/node_exporter/textfile/opencontracts_enclave.prom
series:
  description: How many series (lines with a value) the file has.
  returned: always
  type: int
  sample: 19
"""

import os
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.common.text.converters import to_text
from ansible_collections.opencontracts.enclave.plugins.module_utils.fleet_report_metrics import (
    HAS_PROMETHEUS_CLIENT,
    MetricsError,
    metrics_text,
    write_metrics,
)


def read_text(path):
    try:
        with open(path, "rb") as handle:
            return to_text(handle.read(), errors="surrogate_or_strict")
    except FileNotFoundError:
        return ""


def main():
    module = AnsibleModule(
        argument_spec=dict(
            report=dict(type="dict", required=True),
            path=dict(type="path", required=True),
            mode=dict(type="raw", default="0644"),
        ),
        supports_check_mode=True,
    )
    if not HAS_PROMETHEUS_CLIENT:
        module.fail_json(msg=missing_required_lib("prometheus_client"), exception=traceback.format_exc())
    path = module.params["path"]
    if not path.endswith(".prom"):
        module.fail_json(msg="path must end in .prom (node_exporter's textfile collector reads only those): %s" % path)
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        module.fail_json(msg="the folder of path does not exist: %s" % folder)
    try:
        after = metrics_text(module.params["report"])
    except MetricsError as error:
        module.fail_json(msg=str(error))
    before = read_text(path)
    changed = before != after
    result = dict(changed=changed, path=path,
                  series=sum(1 for line in after.splitlines() if line and not line.startswith("#")))
    if module._diff:
        result["diff"] = dict(before=before, after=after, before_header=path, after_header=path)
    if changed and not module.check_mode:
        try:
            write_metrics(module.params["report"], path)
        except OSError as error:
            module.fail_json(msg="cannot write %s: %s" % (path, error), **result)
    if not module.check_mode and os.path.exists(path):
        result["changed"] = module.set_fs_attributes_if_different(
            module.load_file_common_arguments(dict(path=path, mode=module.params["mode"])), result["changed"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
