# Copyright: Open Contracts enclave collection contributors (@open-contracts)
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark-only callback: the CPU time of every task of a run (make bench-fleet with TASK_PROFILE=1)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: bench_fleet_tasks
type: aggregate
short_description: CPU seconds per task, from cgroup accounting (fleet benchmark only)
description:
  - With the linear strategy every host finishes a task before any host starts the next one, so the CPU
    time the controller's and the hosts' cgroups used between the start of one task and the start of the
    next is that task's cost.
  - Writes one JSON line per task (name, action, role, hosts that ran it, hosts that skipped it,
    controller and host CPU seconds, wall seconds) to E(BENCH_FLEET_TASK_LOG).
  - Reads the cgroups from E(BENCH_FLEET_TASK_CGROUPS) (the controller's first, then one per host,
    separated by colons). Does nothing when either variable is missing.
  - Part of the test harness (tests/bench/fleet); not shipped with the collection.
author: Open Contracts enclave collection contributors (@open-contracts)
requirements:
  - cgroup v1 cpuacct or cgroup v2 CPU accounting
"""

import json
import os
import time

from ansible.plugins.callback import CallbackBase


def _usage_ns(path):
    for name, scale in (("cpuacct.usage", 1), ("cpu.stat", 1000)):
        try:
            with open(os.path.join(path, name)) as handle:
                if name == "cpuacct.usage":
                    return int(handle.read())
                for line in handle:
                    key, value = line.split()
                    if key == "usage_usec":
                        return int(value) * scale
        except (FileNotFoundError, ValueError):
            continue
    return 0


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_fleet_tasks"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._log = os.environ.get("BENCH_FLEET_TASK_LOG")
        paths = [p for p in os.environ.get("BENCH_FLEET_TASK_CGROUPS", "").split(":") if p]
        self._controller, self._hosts = (paths[0], paths[1:]) if paths else (None, [])
        self._current = None

    def _snapshot(self):
        return (time.monotonic(), _usage_ns(self._controller), sum(_usage_ns(p) for p in self._hosts))

    def _close(self):
        if not (self._current and self._log):
            return
        task, counts, before = self._current
        after = self._snapshot()
        record = {
            "task": task.get_name(),
            "action": task.action,
            "role": task._role.get_name() if task._role else "",
            "ran": counts["ran"],
            "skipped": counts["skipped"],
            "wall_s": round(after[0] - before[0], 3),
            "controller_cpu_s": round((after[1] - before[1]) / 1e9, 3),
            "hosts_cpu_s": round((after[2] - before[2]) / 1e9, 3),
        }
        with open(self._log, "a") as handle:
            handle.write(json.dumps(record) + "\n")
        self._current = None

    def _start(self, task):
        self._close()
        if self._controller and self._log:
            self._current = (task, {"ran": 0, "skipped": 0}, self._snapshot())

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._start(task)

    def v2_playbook_on_handler_task_start(self, task):
        self._start(task)

    def _count(self, key):
        if self._current:
            self._current[1][key] += 1

    def v2_runner_on_ok(self, result):
        self._count("ran")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._count("ran")

    def v2_runner_on_skipped(self, result):
        self._count("skipped")

    def v2_playbook_on_stats(self, stats):
        self._close()
