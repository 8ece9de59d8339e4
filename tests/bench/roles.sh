#!/usr/bin/env bash
# make bench-roles (docs/benchmarks.md, "Roles"): how much logic the roles keep in YAML and Jinja
# (tests/bench/role_metrics.py), then how many tasks a no-op `playbooks/oracle.yml` evaluates on each
# sandbox host (tests/bench/count_tasks.py): the sandbox is brought up and converged (make sandbox),
# then the playbook runs once more with the JSON callback, and must change nothing.
set -euo pipefail

cd "$(dirname "$0")/../.."
# shellcheck source=tests/harness/env.sh
source tests/harness/env.sh

echo "== roles/: task and vars YAML"
python3 tests/bench/role_metrics.py roles
echo

echo "== the sandbox, converged (log: .cache/sandbox/oracle.log)"
tests/harness/sandbox.sh up >/dev/null
run=.cache/sandbox/noop.json
ANSIBLE_STDOUT_CALLBACK=ansible.posix.json ansible-playbook -i inventories/sandbox playbooks/oracle.yml >"$run"
echo "== tasks evaluated per host by a no-op playbooks/oracle.yml ($run)"
python3 tests/bench/count_tasks.py "$run"
changed="$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(s["changed"] for s in d["stats"].values()))' "$run")"
echo "changed: $changed"
[[ "$changed" == 0 ]]
