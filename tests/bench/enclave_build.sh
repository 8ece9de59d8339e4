#!/usr/bin/env bash
# Benchmark of the enclave_build strategies (docs/benchmarks.md, "Enclave image builds").
#
# Sets up the scenario's hosts once (molecule destroy, create, prepare) and converges the fleet once
# (warm-up: the distribution packages stay installed from then on). Then, for RUNS rounds, for each
# strategy (once, per_host, alternating so both see the same machine state), four timed converges of
# the three fleet hosts (--limit fleet):
#   1. fresh: after removing everything the role made (checkout, virtualenv, loaded image, EIFs,
#      records, the controller's copy): checkout, virtualenv, load, build, verify, distribute, install;
#   2. no-op: the same again, nothing to do (what a re-run costs);
#   3. forced: enclave_build_force=true (load, build, verify, distribute, install);
#   4. forced with --forks 1: a fleet larger than Ansible's forks, where hosts take turns.
# The emulator's build-enclave takes BUILD_SECONDS (a realistic build takes many minutes). After each
# converge the builds are counted in the fleet's /var/lib/nitro_emulator/build-enclave.log. Prints one
# line per converge and the medians; logs with task profiles in .cache/bench-enclave-build/.
#
# Usage: tests/bench/enclave_build.sh [BUILD_SECONDS (20)] [RUNS (3)]
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds="${1:-20}"
runs="${2:-3}"
export CONTAINERS_CONF="$PWD/tests/harness/containers.conf"
export ANSIBLE_COLLECTIONS_PATH="$PWD/.cache/collections"
MOLECULE_TEST_IMAGE="$(tests/harness/build-image.sh --print-ref)"
export MOLECULE_TEST_IMAGE
export PATH="$PWD/.venv/bin:$PATH"
export ANSIBLE_CALLBACKS_ENABLED=ansible.posix.profile_tasks
export ENCLAVE_BUILD_SECONDS="$seconds"
# The strategies' figures with the distribution they were first measured with (through the controller).
export ENCLAVE_BUILD_DISTRIBUTION=controller
logs="$PWD/.cache/bench-enclave-build"
results="$logs/results.tsv"
mkdir -p "$logs"
: >"$results"
fleet=(eb-fleet-1 eb-fleet-2 eb-fleet-3)

builds() {
    local host total=0 count
    for host in "${fleet[@]}"; do
        count="$(podman exec "$host" sh -c 'cat /var/lib/nitro_emulator/build-enclave.log 2>/dev/null | wc -l')"
        total=$((total + count))
    done
    echo "$total"
}

reset_fleet() {
    local host
    for host in "${fleet[@]}"; do
        podman exec "$host" sh -c 'rm -rf /opt/opencontracts /var/lib/opencontracts && docker rmi -f oracle_enclave:latest >/dev/null 2>&1; true'
    done
    rm -rf "$(molecule_ephemeral)/controller"
}

molecule_ephemeral() {
    # Where molecule keeps this scenario's state (the controller's copy of the EIF lives there).
    find "$HOME/.ansible/tmp" -maxdepth 1 -type d -name 'molecule.*.enclave_build' | head -n 1
}

timed_converge() {
    local strategy="$1" label="$2" log="$3"
    shift 3
    local start end before after wall
    before="$(builds)"
    start="$(date +%s.%N)"
    ENCLAVE_BUILD_STRATEGY="$strategy" molecule converge -s enclave_build -- --limit fleet "$@" >"$log" 2>&1 \
        || { echo "$strategy $label: converge FAILED, see $log" >&2; return 1; }
    end="$(date +%s.%N)"
    after="$(builds)"
    wall="$(echo "$end - $start" | bc)"
    printf '%s\t%s\t%.1f\t%d\t%s\n' "$strategy" "$label" "$wall" "$((after - before))" "$(cut -d' ' -f1 /proc/loadavg)" >>"$results"
    printf '%-9s %-16s wall %6.1f s  builds %d  load %s\n' "$strategy" "$label" "$wall" "$((after - before))" \
        "$(cut -d' ' -f1-3 /proc/loadavg)"
}

echo "build-enclave takes ${seconds} s on every emulated host; $(nproc) CPUs; $runs rounds"
molecule destroy -s enclave_build >"$logs/destroy.log" 2>&1
molecule create -s enclave_build >"$logs/create.log" 2>&1
molecule prepare -s enclave_build >"$logs/prepare.log" 2>&1
ENCLAVE_BUILD_STRATEGY=once molecule converge -s enclave_build -- --limit fleet >"$logs/warm-up.log" 2>&1

for run in $(seq "$runs"); do
    for strategy in once per_host; do
        reset_fleet
        timed_converge "$strategy" "fresh" "$logs/$strategy-$run-fresh.log"
        timed_converge "$strategy" "no-op" "$logs/$strategy-$run-noop.log"
        timed_converge "$strategy" "forced" "$logs/$strategy-$run-forced.log" -e enclave_build_force=true
        timed_converge "$strategy" "forced, forks 1" "$logs/$strategy-$run-forced-forks1.log" -e enclave_build_force=true --forks 1
    done
done
molecule destroy -s enclave_build >"$logs/destroy.log" 2>&1

echo
echo "medians (wall seconds, builds per converge):"
python3 - "$results" <<'PY'
import statistics
import sys

rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1]) if line.strip()]
labels = []
for row in rows:
    if row[1] not in labels:
        labels.append(row[1])
print("%-16s %22s %22s" % ("converge", "once", "per_host"))
for label in labels:
    cells = []
    for strategy in ("once", "per_host"):
        walls = [float(r[2]) for r in rows if r[0] == strategy and r[1] == label]
        built = sorted(set(r[3] for r in rows if r[0] == strategy and r[1] == label))
        cells.append("%6.1f s (%s builds)" % (statistics.median(walls), "/".join(built)) if walls else "-")
    print("%-16s %22s %22s" % (label, cells[0], cells[1]))
loads = [float(r[4]) for r in rows]
print("load average (1 min) after the converges: %.1f to %.1f, median %.1f" % (min(loads), max(loads), statistics.median(loads)))
PY
