#!/usr/bin/env bash
# Benchmark of the sandbox (docs/benchmarks.md, "Sandbox"): playbooks/oracle.yml on the three
# emulated oracle hosts of inventories/sandbox, timed as whole commands:
#   1. fresh:        `make sandbox` from nothing (containers, emulator and fixture bring-up, then the
#                    first oracle.yml converge);
#   2. no-op:        oracle.yml again;
#   3. price change: oracle.yml with one host's price changed (a second inventory source);
#   4. price back:   oracle.yml with the inventory as it is.
# Prints wall seconds, the changed= count of every host from PLAY RECAP and the load average; the
# sandbox is removed at the end. Logs in .cache/bench-sandbox/.
#
# Usage: tests/bench/sandbox.sh   (make bench-sandbox)
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/harness/env.sh
source tests/harness/env.sh
logs="$repo/.cache/bench-sandbox"
mkdir -p "$logs"

changed_counts() {
    grep -E '^sandbox-oracle-[0-9]+ +: ok=' "$1" | sed -E 's/^(\S+) .*changed=([0-9]+).*/\1=\2/' | tr '\n' ' '
}

timed() {
    local label="$1" log="$2" start end
    shift 2
    start="$(date +%s.%N)"
    "$@" >"$log" 2>&1 || { echo "$label FAILED, see $log" >&2; exit 1; }
    end="$(date +%s.%N)"
    printf '%-13s wall %6.1f s  changed: %s load %s\n' "$label" "$(echo "$end - $start" | bc)" \
        "$(changed_counts "$log")" "$(cut -d' ' -f1-3 /proc/loadavg)"
}

price_change="$logs/price-change.yml"
cat >"$price_change" <<'YAML'
all:
  children:
    oracles:
      hosts:
        sandbox-oracle-2:
          oracle_service_price: "1.5 OPN"
YAML

tests/harness/sandbox.sh clean >/dev/null
timed "fresh" "$logs/fresh.log" tests/harness/sandbox.sh up
timed "no-op" "$logs/noop.log" ansible-playbook -i inventories/sandbox playbooks/oracle.yml
timed "price change" "$logs/price-change.log" \
    ansible-playbook -i inventories/sandbox -i "$price_change" playbooks/oracle.yml
timed "price back" "$logs/price-back.log" ansible-playbook -i inventories/sandbox playbooks/oracle.yml
tests/harness/sandbox.sh clean >/dev/null
