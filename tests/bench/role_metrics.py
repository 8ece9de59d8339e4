# Copyright (c) Open Contracts enclave collection contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How much logic the roles keep in YAML and Jinja, per role and in all (docs/benchmarks.md).

    python3 tests/bench/role_metrics.py [ROLES_DIR]

Counted over roles/*/tasks/*.yml and roles/*/vars/*.yml (handlers, defaults, meta, templates aside):
  lines      lines of task and vars YAML
  vars       lines in vars/
  folded     block scalars (`>`, `|`, with or without `-`/`+`) that contain Jinja (`{{` or `{%`)
  set_fact   ansible.builtin.set_fact tasks
  notify     tasks that notify a handler (tasks/ and handlers/)
  shell      block scalars in vars/ that look like shell scripts (a line starting with if/for/while/case,
             `set -`, or a command substitution): there should be none
"""

import glob
import os
import re
import sys

BLOCK_START = re.compile(r":\s*[>|][-+0-9]*\s*(#.*)?$")
SHELL_LINE = re.compile(r"^\s*(if |for |while |case |set -[a-z]|.*\$\()")


def block_scalars(lines):
    """Each block scalar's body (a list of lines)."""
    index = 0
    while index < len(lines):
        line = lines[index]
        if BLOCK_START.search(line) and not line.lstrip().startswith("#"):
            indent = len(line) - len(line.lstrip())
            body = []
            index += 1
            while index < len(lines) and (not lines[index].strip()
                                          or len(lines[index]) - len(lines[index].lstrip()) > indent):
                body.append(lines[index])
                index += 1
            yield body
            continue
        index += 1


def measure(role_dir):
    counts = {"lines": 0, "vars": 0, "folded": 0, "set_fact": 0, "notify": 0, "shell": 0}
    files = sorted(glob.glob(os.path.join(role_dir, "tasks", "*.yml")) + glob.glob(os.path.join(role_dir, "vars", "*.yml")))
    for path in files:
        with open(path) as handle:
            lines = handle.read().splitlines()
        counts["lines"] += len(lines)
        in_vars = os.path.basename(os.path.dirname(path)) == "vars"
        if in_vars:
            counts["vars"] += len(lines)
        for body in block_scalars(lines):
            text = "\n".join(body)
            if "{{" in text or "{%" in text:
                counts["folded"] += 1
            if in_vars and any(SHELL_LINE.match(line) for line in body):
                counts["shell"] += 1
        counts["set_fact"] += sum(1 for line in lines if re.match(r"^\s*(- )?ansible\.builtin\.set_fact:", line))
    for path in glob.glob(os.path.join(role_dir, "tasks", "*.yml")) + glob.glob(os.path.join(role_dir, "handlers", "*.yml")):
        with open(path) as handle:
            counts["notify"] += sum(1 for line in handle if re.match(r"^\s*notify:", line))
    return counts


def main(argv):
    roles_dir = argv[1] if len(argv) > 1 else "roles"
    total = {}
    print("%-18s %6s %5s %7s %9s %7s %6s" % ("role", "lines", "vars", "folded", "set_fact", "notify", "shell"))
    for role_dir in sorted(glob.glob(os.path.join(roles_dir, "*"))):
        counts = measure(role_dir)
        for key, value in counts.items():
            total[key] = total.get(key, 0) + value
        print("%-18s %6d %5d %7d %9d %7d %6d" % ((os.path.basename(role_dir),) + tuple(
            counts[k] for k in ("lines", "vars", "folded", "set_fact", "notify", "shell"))))
    print("%-18s %6d %5d %7d %9d %7d %6d" % (("all",) + tuple(
        total[k] for k in ("lines", "vars", "folded", "set_fact", "notify", "shell"))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
