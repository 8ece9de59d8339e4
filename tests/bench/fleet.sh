#!/usr/bin/env bash
# Fleet-scale benchmark (docs/benchmarks.md, "Fleet scale"): playbooks/oracle.yml and playbooks/status.yml
# on 1, 5 and 20 emulated oracle hosts (the sandbox's hosts: podman containers with the Nitro hardware
# emulated), before and after the fleet tuning (ansible.cfg, docs/controller-tuning.md, and the roles'
# cheaper no-op runs).
#
# For every fleet size and mode, on fresh containers named bench-fleet-<n>, and bench-fleet-registry (the
# registry the oracles register with, when the code under test's sandbox has one, group `registries` of
# its inventories/sandbox; older commits', such as the baseline's, give their oracles a loopback address
# and get none):
#   bringup   tests/sandbox/bringup.yml on the oracle hosts (the emulator, docker and the allocator; timed
#             on its own)
#   registry  (not measured) bringup.yml on the registry host, then ansible-playbook playbooks/registry.yml,
#             as `make sandbox` does before oracle.yml: a serving oracle registers with it
#   converge  the first ansible-playbook playbooks/oracle.yml --limit oracles
#   noop      oracle.yml again, ROUNDS times: the benchmark FAILS when any host reports a change
#   status    ansible-playbook playbooks/status.yml --limit oracles, ROUNDS times (alternating with the no-op
#             runs)
#   floor     tests/bench/fleet/floor.yml, after each status run: Ansible's own cost for plays shaped like a
#             receiving host's no-op (the same tasks per host and module runs on it, none of the collection)
# Each run records wall seconds, controller CPU seconds (ansible-playbook and every process it started,
# SSH masters included), the CPU seconds of each host container and of podman's runtime processes for
# them (cgroup accounting), and the changed count of every host (tests/bench/fleet/bench_fleet.py).
# The registry is not a measured host: its container runs under a cgroup parent of its own, so that
# neither the hosts' CPU nor podman's runtime figures include it; its CPU seconds during each run (the
# oracles' registrations, the controller's quotes) are recorded beside them (registry_cpu_s), outside the
# totals and the per-host figures.
# The hosts share this machine's cores with the controller, so CPU seconds are the figures to compare;
# then the per-host cost (slope over the sizes) per phase and mode, and each mode's no-op slope against
# ssh-baseline's.
#
# Modes are <transport>-<config>:
#   transport  ssh     SSH to each container (an image with sshd built from the test image), as a real fleet
#              podman  the sandbox's connection (containers.podman.podman, no pipelining possible)
#   config     baseline  "before": tests/bench/fleet/baseline.cfg (Ansible's defaults) with the collection at
#                        BASELINE_REV (default 1be6b86, the collection before the fleet tuning)
#              tuned     "after": the repository's ansible.cfg with this working tree (or REV)
#              NAME      a variant, tests/bench/fleet/variants/NAME.env: a line `config: baseline`,
#                        `config: tuned` or `config: <file>.cfg`, then ANSIBLE_*=VALUE lines laid over it
#                        (environment variables take precedence over ansible.cfg); a line `code: <commit>`
#                        runs the collection as committed there (modes, not VARIANTS: each mode converges
#                        its own containers); a variant that names
#                        ANSIBLE_STRATEGY_PLUGINS under .cache/bench-fleet/mitogen gets Mitogen installed
#                        there first (optional, never needed by the collection)
#
# VARIANTS="MODE MODE ..." (same transport) measures settings one against another instead: per size, one
# set of fresh containers is brought up and converged with the first mode (and its code), then the no-op
# run of every mode, alternating, ROUNDS times after a warm-up round (round 0, which fills the fact cache
# and is left out of the report).
#
# Settings (environment): HOSTS="1 5 20", MODES="ssh-baseline ssh-tuned", ROUNDS=2 (no-op and status runs
# per set), BASELINE_REV=1be6b86 (empty: the *-baseline modes run the same code as the others),
# REV=<commit> (the collection as committed there instead of this working tree, so that a series of runs
# measures the same code while the working tree changes), TASK_PROFILE=1 (also record every task's CPU
# seconds in the converge and no-op runs, next to their logs as *.tasks.jsonl, with
# tests/bench/fleet/callback; read one with `.venv/bin/python tests/bench/fleet/bench_fleet.py tasks FILE`),
# IDLE_SECONDS=20 (the hosts' background CPU, measured once per set). Commits are exported with
# `git archive` under .cache/bench-fleet/tree/.
# Results: .cache/bench-fleet/results-<time>.jsonl (one JSON line per run; RESULTS=FILE appends to another
# file), summary.json and summary.csv from it, logs under .cache/bench-fleet/sets/ (the last run of each
# mode and size). Several results files make one report:
#   .venv/bin/python tests/bench/fleet/bench_fleet.py report --out-dir .cache/bench-fleet FILE...
# The containers are removed at the end, and when the benchmark stops early.
#
# Usage: tests/bench/fleet.sh   (make bench-fleet [HOSTS="1 5"] [MODES=...] [ROUNDS=N])
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/harness/env.sh
source tests/harness/env.sh

hosts_list="${HOSTS:-1 5 20}"
modes="${MODES:-ssh-baseline ssh-tuned}"
rounds="${ROUNDS:-2}"
idle_seconds="${IDLE_SECONDS:-20}"
out="$repo/.cache/bench-fleet"
results="${RESULTS:-$out/results-$(date +%Y%m%dT%H%M%S).jsonl}"
cgroup_parent="/opencontracts_bench_fleet"
registry_cgroup_parent="/opencontracts_bench_fleet_registry"
registry_host="bench-fleet-registry"
python="$repo/.venv/bin/python"
bench="$repo/tests/bench/fleet/bench_fleet.py"

# The collection under test: this working tree, or a commit's copy (exported once under
# .cache/bench-fleet/tree/<commit>). The *-baseline modes run BASELINE_REV (default: the collection before
# the fleet tuning), the others REV or this working tree; BASELINE_REV= (empty) runs the same code in all.
export_tree() {
    local rev tree
    rev="$(git rev-parse --short "$1^{commit}")"
    tree="$out/tree/$rev"
    if [[ ! -f "$tree/ansible_collections/opencontracts/enclave/galaxy.yml" ]]; then
        rm -rf "$tree"
        mkdir -p "$tree/ansible_collections/opencontracts/enclave"
        git archive "$rev" | tar -x -C "$tree/ansible_collections/opencontracts/enclave"
    fi
    echo "$tree"
}

default_tree="$repo/.cache/collections"
if [[ -n "${REV:-}" ]]; then
    default_tree="$(export_tree "$REV")"
fi
baseline_rev="${BASELINE_REV-1be6b86}"
baseline_tree="$default_tree"
if [[ -n "$baseline_rev" ]]; then
    baseline_tree="$(export_tree "$baseline_rev")"
fi

# Point code, the sandbox helpers and Ansible at the collection a mode runs.
use_code() {
    local tree="$default_tree" rev
    rev="$(mode_code "$1")"
    if [[ -n "$rev" ]]; then
        tree="$(export_tree "$rev")"
    elif [[ "$(mode_config "$1")" == "$repo/tests/bench/fleet/baseline.cfg" ]]; then
        tree="$baseline_tree"
    fi
    export ANSIBLE_COLLECTIONS_PATH="$tree"
    code="$tree/ansible_collections/opencontracts/enclave"
    code="$(cd "$code" && pwd -P)"
    sandbox_code="$code"
}

describe_code() {
    local tree="$1"
    if [[ "$tree" == "$repo/.cache/collections" ]]; then
        echo "this working tree, at $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- roles playbooks plugins || echo ' with changes in roles, playbooks or plugins')"
    else
        echo "commit $(basename "$tree") (${tree#"$repo"/})"
    fi
}

sandbox_prefix="bench-fleet"
sandbox_label="opencontracts.bench-fleet"
# shellcheck source=tests/harness/lib-sandbox.sh
source "$repo/tests/harness/lib-sandbox.sh"

[[ -x "$repo/.venv/bin/ansible-playbook" ]] || die "no .venv: run \`make bench-fleet\` (it sets everything up)"
test_image="$(tests/harness/build-image.sh --print-ref)"
podman image exists "$test_image" || die "test image $test_image missing: run \`make bench-fleet\` (or tests/harness/build-image.sh)"
mkdir -p "$out/sets"

# The containers go away however the benchmark ends; their empty cgroups with them.
cleanup() {
    containers_remove >/dev/null
    local dir
    for dir in /sys/fs/cgroup/*/"${cgroup_parent#/}" /sys/fs/cgroup/*/"${registry_cgroup_parent#/}"; do
        [[ -d "$dir" ]] || continue
        find "$dir" -depth -mindepth 1 -type d -exec rmdir {} + 2>/dev/null || true
        rmdir "$dir" 2>/dev/null || true
    done
}
trap cleanup EXIT

# The SSH hosts' image: the test image plus an OpenSSH server, tagged by the hash of both recipes.
ssh_image() {
    local tag
    tag="$(printf '%s\n' "$test_image" | cat - tests/bench/fleet/Containerfile | sha256sum | cut -c1-12)"
    echo "localhost/opencontracts-enclave-bench-sshd:$tag"
}

build_ssh_image() {
    local image
    image="$(ssh_image)"
    if ! podman image exists "$image"; then
        run_logged "building the SSH host image $image" "$out/ssh-image.log" \
            podman build --build-arg "BASE_IMAGE=$test_image" --tag "$image" \
            --file tests/bench/fleet/Containerfile tests/bench/fleet
    fi
    if [[ ! -s "$out/ssh/id_ed25519" ]]; then
        mkdir -p "$out/ssh"
        ssh-keygen -q -t ed25519 -N '' -C bench-fleet -f "$out/ssh/id_ed25519"
    fi
}

# A mode's configuration file (for ANSIBLE_CONFIG) and extra environment (--env arguments of `run`).
mode_config() {
    local name="${1#*-}" variant
    variant="$repo/tests/bench/fleet/variants/$name.env"
    if [[ -f "$variant" ]]; then
        name="$(sed -n 's/^config: *//p' "$variant")"
    fi
    case "$name" in
        baseline) echo "$repo/tests/bench/fleet/baseline.cfg" ;;
        tuned) echo "$repo/ansible.cfg" ;;
        *.cfg) [[ -f "$name" ]] || die "mode $1: no configuration file $name"; echo "$name" ;;
        *) die "mode $1: no configuration '$name' (baseline, tuned, or tests/bench/fleet/variants/$name.env)" ;;
    esac
}

# The commit a variant's `code: <commit>` line names (empty: the mode's default code).
mode_code() {
    local variant="$repo/tests/bench/fleet/variants/${1#*-}.env"
    [[ -f "$variant" ]] || return 0
    sed -n 's/^code: *//p' "$variant"
}

mode_env_args() {
    local variant="$repo/tests/bench/fleet/variants/${1#*-}.env" line
    [[ -f "$variant" ]] || return 0
    while read -r line; do
        [[ "$line" =~ ^ANSIBLE_[A-Z_]+= ]] || continue
        printf -- '--env\n%s\n' "${line//@REPO@/$repo}"
    done <"$variant"
}

# Mitogen, only for a variant that asks for it: installed under .cache/bench-fleet/mitogen, never into .venv.
mitogen_for() {
    local variant="$repo/tests/bench/fleet/variants/${1#*-}.env"
    [[ -f "$variant" ]] && grep -q '^ANSIBLE_STRATEGY_PLUGINS=.*mitogen' "$variant" || return 0
    [[ -d "$out/mitogen/ansible_mitogen" ]] && return 0
    run_logged "installing Mitogen ${MITOGEN_VERSION:-0.3.54} into ${out#"$repo"/}/mitogen" "$out/mitogen.log" \
        "$python" -m pip install --disable-pip-version-check --target "$out/mitogen" "mitogen==${MITOGEN_VERSION:-0.3.54}"
}

# Start N fresh containers of a transport's image, and with a third argument REGISTRY that registry host's.
start_set() {
    local transport="$1" count="$2" registry="${3:-}" image i args=()
    containers_remove >/dev/null
    image="$test_image"
    if [[ "$transport" == "ssh" ]]; then
        image="$(ssh_image)"
        args+=(--volume "$out/ssh/id_ed25519.pub:/root/.ssh/authorized_keys:ro")
    fi
    for ((i = 1; i <= count; i++)); do
        container_up "bench-fleet-$i" "$image" --cgroup-parent "$cgroup_parent" "${args[@]}" >/dev/null
    done
    if [[ -n "$registry" ]]; then
        container_up "$registry" "$image" --cgroup-parent "$registry_cgroup_parent" "${args[@]}" >/dev/null
    fi
}

# The fixture enclave repository, published once on a container of its own (not one of the measured
# hosts, whose first converge would otherwise find the fixture's images already there).
publish_fixture() {
    local state="$out/fixture-state" inventory="$out/fixture-inventory"
    use_code tuned
    mkdir -p "$state"
    if [[ -s "$state/fixture/fixture.json" && "$(cat "$state/fixture.sha256" 2>/dev/null)" == "$(fixture_digest)" ]]; then
        echo "bench-fleet: the fixture enclave repository is up to date"
        return
    fi
    start_set podman 1
    "$python" "$bench" inventory --code "$code" --transport podman --hosts 1 --out "$inventory" --state "$state"
    ANSIBLE_CONFIG="$repo/tests/bench/fleet/baseline.cfg" sandbox_bringup "$inventory" "$state/bringup.log"
    ANSIBLE_CONFIG="$repo/tests/bench/fleet/baseline.cfg" fixture_publish "$inventory" "$state" bench-fleet-1 "$state/fixture.log"
    containers_remove >/dev/null
}

measure() {
    local phase="$1" round="$2" log="$3" envs
    shift 3
    mapfile -t envs < <(mode_env_args "$mode")
    if [[ "${TASK_PROFILE:-0}" == "1" && "$phase" != "status" && "$phase" != "bringup" ]]; then
        envs+=(--task-profile "${log%.log}.tasks.jsonl")
    fi
    if [[ -n "$registry" ]]; then
        envs+=(--registry "$registry" --registry-cgroup-parent "$registry_cgroup_parent")
    fi
    ANSIBLE_CONFIG="$(mode_config "$mode")" "$python" "$bench" run --mode "$mode" --hosts "$count" \
        --phase "$phase" --round "$round" --cgroup-parent "$cgroup_parent" --log "$log" --results "$results" \
        "${envs[@]}" "$@"
}

# A fresh set of containers for a mode's transport (and the registry, when the mode's code has one),
# its inventory, bring-up, the registry served, and the first converge.
# Sets: setdir inventory registry
prepare_set() {
    local mode="$1" count="$2" name="$3" transport state
    local -a registry_args=()
    transport="${mode%%-*}"
    setdir="$out/sets/$name"
    state="$setdir/state"
    inventory="$setdir/inventory"
    use_code "$mode"
    registry=""
    if [[ "$(ansible registries -i "$code/inventories/sandbox" --list-hosts 2>/dev/null)" =~ hosts\ \([1-9] ]]; then
        registry="$registry_host"
        registry_args=(--registry "$registry")
    fi
    rm -rf "$setdir"
    mkdir -p "$state" "$setdir/logs"
    ln -s "$out/fixture-state/fixture" "$state/fixture"

    echo "bench-fleet: $name: $count fresh container(s)${registry:+ and the registry host $registry}"
    start_set "$transport" "$count" "$registry"
    "$python" "$bench" inventory --code "$code" --transport "$transport" --hosts "$count" --out "$inventory" \
        --state "$state" --ssh-key "$out/ssh/id_ed25519" --known-hosts "$setdir/known_hosts" "${registry_args[@]}"
    if [[ "$transport" == "ssh" ]]; then
        "$python" "$bench" wait-ssh --known-hosts "$setdir/known_hosts"
    fi
    # Each set starts without cached facts and SSH connections of its own (locations only: whether
    # facts are cached and connections kept is the configuration's choice).
    export ANSIBLE_CACHE_PLUGIN_CONNECTION="$setdir/facts"
    export ANSIBLE_SSH_CONTROL_PATH_DIR="$setdir/cp"

    measure bringup 1 "$setdir/logs/bringup.log" \
        -- ansible-playbook -i "$inventory" "$code/tests/sandbox/bringup.yml" --limit oracles
    if [[ -n "$registry" ]]; then
        ANSIBLE_CONFIG="$(mode_config "$mode")" run_logged "the registry host $registry (bring-up, not measured)" \
            "$setdir/logs/registry-bringup.log" \
            ansible-playbook -i "$inventory" "$code/tests/sandbox/bringup.yml" --limit registries
        ANSIBLE_CONFIG="$(mode_config "$mode")" run_logged "the registry served: playbooks/registry.yml (not measured)" \
            "$setdir/logs/registry.log" ansible-playbook -i "$inventory" "$code/playbooks/registry.yml"
    fi
    measure converge 1 "$setdir/logs/converge.log" \
        -- ansible-playbook -i "$inventory" "$code/playbooks/oracle.yml" --limit oracles
}

bench_set() {
    local mode="$1" count="$2" setdir inventory registry round
    prepare_set "$mode" "$count" "$mode-$count"
    for ((round = 1; round <= rounds; round++)); do
        measure noop "$round" "$setdir/logs/noop-$round.log" --expect-no-change \
            -- ansible-playbook -i "$inventory" "$code/playbooks/oracle.yml" --limit oracles
        measure status "$round" "$setdir/logs/status-$round.log" \
            -- ansible-playbook -i "$inventory" "$code/playbooks/status.yml" --limit oracles
        measure floor "$round" "$setdir/logs/floor-$round.log" --expect-no-change \
            -- ansible-playbook -i "$inventory" "$repo/tests/bench/fleet/floor.yml" --limit oracles
    done
    "$python" "$bench" idle --mode "$mode" --hosts "$count" --cgroup-parent "$cgroup_parent" \
        --seconds "$idle_seconds" --results "$results"
    containers_remove >/dev/null
}

# The no-op run of several modes on the same converged set, alternating (VARIANTS).
variants_set() {
    local count="$1" setdir inventory registry round mode i
    local -a list
    read -ra list <<<"$VARIANTS"
    mode="${list[0]}"
    prepare_set "$mode" "$count" "variants-${mode%%-*}-$count"
    for ((round = 0; round <= rounds; round++)); do
        for ((i = 0; i < ${#list[@]}; i++)); do
            # Each round starts one mode further, so that no mode always runs first.
            mode="${list[$(((i + round) % ${#list[@]}))]}"
            measure noop "$round" "$setdir/logs/noop-$mode-$round.log" --expect-no-change \
                -- ansible-playbook -i "$inventory" "$code/playbooks/oracle.yml" --limit oracles
        done
    done
    containers_remove >/dev/null
}

if [[ -n "${VARIANTS:-}" ]]; then
    modes="$VARIANTS"
    echo "bench-fleet: sizes $hosts_list; no-op runs of $modes, alternating; $rounds round(s) after a warm-up round"
else
    echo "bench-fleet: sizes $hosts_list; modes $modes; $rounds no-op and status run(s) per set"
fi
echo "bench-fleet: load average $(cut -d' ' -f1-3 /proc/loadavg); results appended to ${results#"$repo"/}"
echo "bench-fleet: code under test: $(describe_code "$default_tree")"
if [[ "$baseline_tree" != "$default_tree" ]]; then
    echo "bench-fleet: code under test in the *-baseline modes: $(describe_code "$baseline_tree")"
fi
touch "$results"
ln -sfn "$(basename "$results")" "$out/results-latest.jsonl"
for mode in $modes; do
    mode_config "$mode" >/dev/null
    mitogen_for "$mode"
done
if [[ " $modes " == *" ssh-"* ]]; then
    build_ssh_image
fi
publish_fixture
read -ra mode_list <<<"$modes"
size_index=0
for count in $hosts_list; do
    if [[ -n "${VARIANTS:-}" ]]; then
        variants_set "$count"
        continue
    fi
    # The modes in the given order for the first size, reversed for the second, and so on: a mode does
    # not always run in the same part of a long benchmark (the machine's load drifts).
    for ((i = 0; i < ${#mode_list[@]}; i++)); do
        if ((size_index % 2 == 0)); then
            bench_set "${mode_list[$i]}" "$count"
        else
            bench_set "${mode_list[$((${#mode_list[@]} - 1 - i))]}" "$count"
        fi
    done
    size_index=$((size_index + 1))
done
"$python" "$bench" report --out-dir "$out" "$results"
