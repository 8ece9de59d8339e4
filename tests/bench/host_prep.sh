#!/usr/bin/env bash
# Host preparation benchmark (docs/benchmarks.md, "Host preparation"): the first converge of the
# host_prep scenario on 3 fresh emulated hosts against a re-run of the same converge.
#
# Usage: tests/bench/host_prep.sh [ROUNDS]   (default 3; run `make setup` first)
#
# Each round: molecule destroy, create and prepare (not timed), then `molecule converge` twice,
# each timed as a whole command (molecule start-up included). A round only counts when the
# re-run's PLAY RECAP shows changed=0 on every host. Prints every round, the load average around
# it, and the medians. Leaves no container behind.
set -euo pipefail

cd "$(dirname "$0")/../.."
rounds="${1:-3}"
export CONTAINERS_CONF="$PWD/tests/harness/containers.conf"
export ANSIBLE_COLLECTIONS_PATH="$PWD/.cache/collections"
MOLECULE_TEST_IMAGE="$(tests/harness/build-image.sh --print-ref)"
export MOLECULE_TEST_IMAGE
export PATH="$PWD/.venv/bin:$PATH"
log="$(mktemp -d /tmp/host-prep-bench.XXXXXX)"
trap 'molecule destroy -s host_prep >/dev/null 2>&1 || true' EXIT

# Seconds of one command, its output in $log/$2.log.
timed() {
    local start end
    start=$(date +%s.%N)
    molecule "$1" -s host_prep >"$log/$2.log" 2>&1 || { echo "molecule $1 failed, see $log/$2.log" >&2; exit 1; }
    end=$(date +%s.%N)
    python3 -c "print(round($end - $start, 1))"
}

# "changed=N" of every host in the last PLAY RECAP of a log, comma separated.
changed() {
    sed 's/\x1b\[[0-9;]*m//g' "$1" | grep -o 'changed=[0-9]*' | tail -n 3 | cut -d= -f2 | paste -sd, -
}

firsts=()
reruns=()
for round in $(seq 1 "$rounds"); do
    molecule destroy -s host_prep >/dev/null 2>&1
    molecule create -s host_prep >"$log/create-$round.log" 2>&1
    molecule prepare -s host_prep >"$log/prepare-$round.log" 2>&1
    load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
    first="$(timed converge "first-$round")"
    rerun="$(timed converge "rerun-$round")"
    load_after="$(cut -d' ' -f1-3 /proc/loadavg)"
    first_changed="$(changed "$log/first-$round.log")"
    rerun_changed="$(changed "$log/rerun-$round.log")"
    echo "round $round: first converge ${first} s (changed=$first_changed), re-run ${rerun} s (changed=$rerun_changed)," \
         "ratio $(python3 -c "print(round($rerun / $first, 2))"), load average before $load_before, after $load_after"
    if [[ "$rerun_changed" != "0,0,0" ]]; then
        echo "the re-run changed something: see $log/rerun-$round.log" >&2
        exit 1
    fi
    firsts+=("$first")
    reruns+=("$rerun")
done

python3 - "${firsts[*]}" "${reruns[*]}" <<'PY'
import statistics
import sys

first = [float(x) for x in sys.argv[1].split()]
rerun = [float(x) for x in sys.argv[2].split()]
print("median first converge %.1f s, median re-run %.1f s, ratio of the medians %.2f (%d rounds)"
      % (statistics.median(first), statistics.median(rerun), statistics.median(rerun) / statistics.median(first), len(first)))
PY
echo "logs: $log"
