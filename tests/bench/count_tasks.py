# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tasks evaluated per host in one playbook run, from the ansible.posix.json callback's output.

    ANSIBLE_STDOUT_CALLBACK=ansible.posix.json ansible-playbook ... > run.json
    python3 tests/bench/count_tasks.py run.json [--host NAME] [--list]

Prints, per host, how many tasks it evaluated (ok + changed + skipped + failed), split by outcome;
--list also names them (play | task: outcome). A task that ran on the controller for the play
(run_once, delegate_to) counts for the host it ran for, as Ansible reports it.
"""

import argparse
import collections
import json
import sys


def outcome(result):
    if result.get("failed") or result.get("unreachable"):
        return "failed"
    if result.get("skipped"):
        return "skipped"
    if result.get("changed"):
        return "changed"
    return "ok"


def count(run, only_host=None):
    """{host: [(play, task, outcome)]} in the order the tasks ran."""
    per_host = collections.OrderedDict()
    for play in run.get("plays", []):
        play_name = play.get("play", {}).get("name", "")
        for task in play.get("tasks", []):
            task_name = task.get("task", {}).get("name", "")
            for host, result in task.get("hosts", {}).items():
                if only_host and host != only_host:
                    continue
                per_host.setdefault(host, []).append((play_name, task_name, outcome(result)))
    return per_host


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="the json callback's output (- for standard input)")
    parser.add_argument("--host", help="only this host")
    parser.add_argument("--list", action="store_true", help="name every task")
    args = parser.parse_args(argv)
    text = sys.stdin.read() if args.run == "-" else open(args.run).read()
    # Warnings may precede the JSON document.
    run = json.loads(text[text.index("{"):])
    for host, tasks in count(run, args.host).items():
        totals = collections.Counter(task[2] for task in tasks)
        print("%s: %d tasks (%s)" % (host, len(tasks), ", ".join(
            "%d %s" % (totals[name], name) for name in ("ok", "changed", "skipped", "failed") if totals[name])))
        if args.list:
            for play, task, result in tasks:
                print("    %s | %s: %s" % (play, task, result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
