#!/usr/bin/env bash
# The local sandbox: three oracle hosts and their registry (inventories/sandbox) in podman containers
# with the Nitro hardware emulated, served by the collection's own playbooks.
#
#   up     (make sandbox) start the containers, or reuse the running ones; install the Nitro emulator
#          and start docker and the allocator on them (tests/sandbox/bringup.yml); publish the
#          fixture enclave repository when it is new or changed
#          (extensions/molecule/enclave_build/fixture_repo.yml: the emulator measures the fixture
#          image's PCR0, which inventories/sandbox permits); then run
#              ansible-playbook -i inventories/sandbox playbooks/registry.yml
#              ansible-playbook -i inventories/sandbox playbooks/oracle.yml
#          (the registry first: an oracle registers with it when it starts) and print which oracle the
#          registry sends users to, at what price (tests/sandbox/quote.yml). Run again, it changes nothing.
#          `up --upstream DIR` (make sandbox UPSTREAM=DIR) publishes DIR, another copy of the enclave
#          repository, instead of the fixture: its serve scripts and code as they are, its images
#          rebuilt from its sources by the docker stand-in (so its own published PCR0 does not apply).
#   clean  (make sandbox-clean) remove the sandbox's containers (only those labelled as such) and its
#          state in .cache/sandbox.
#
# Expects what `make sandbox` sets up first: .venv, the collection link in .cache/collections and the
# test image (tests/harness/build-image.sh). Extra arguments of `up` (after --upstream DIR) go to the
# registry.yml and oracle.yml runs.
set -euo pipefail

cd "$(dirname "$0")/../.."
# shellcheck source=tests/harness/env.sh
source tests/harness/env.sh

inventory="$repo/inventories/sandbox"
state="$repo/.cache/sandbox"
label="opencontracts.sandbox"

# die, container_up, run_logged, fixture_publish, ...
sandbox_prefix="sandbox"
sandbox_label="$label"
# shellcheck source=tests/harness/lib-sandbox.sh
source "$repo/tests/harness/lib-sandbox.sh"

# The sandbox's hosts, as the inventory lists them.
sandbox_hosts() {
    sandbox_inventory_hosts "$inventory"
}

up() {
    local image host first
    [[ -x "$repo/.venv/bin/ansible-playbook" ]] || die "no .venv: run \`make sandbox\` (it sets everything up)"
    image="$(tests/harness/build-image.sh --print-ref)"
    podman image exists "$image" || die "test image $image missing: run \`make sandbox\` (or tests/harness/build-image.sh)"
    mkdir -p "$state"

    if [[ "${1:-}" == "--upstream" ]]; then
        [[ -n "${2:-}" && -d "$2" ]] || die "--upstream needs the folder of a copy of the enclave repository"
        sandbox_upstream="$(cd "$2" && pwd)"
        [[ -d "$sandbox_upstream/oracle_enclave" && -d "$sandbox_upstream/registry_enclave" ]] \
            || die "$sandbox_upstream has no oracle_enclave/ and registry_enclave/: not the enclave repository"
        echo "sandbox: the enclave repository is $sandbox_upstream (not the fixture)"
        shift 2
    fi
    mapfile -t hosts < <(sandbox_hosts)
    ((${#hosts[@]} > 0)) || die "no hosts in $inventory"
    for host in "${hosts[@]}"; do
        container_up "$host" "$image"
    done
    first="${hosts[0]}"

    sandbox_bringup "$inventory" "$state/bringup.log"
    fixture_publish "$inventory" "$state" "$first" "$state/fixture.log"

    local kind rc
    for kind in registry oracle; do
        echo "sandbox: ansible-playbook -i inventories/sandbox playbooks/$kind.yml $*"
        echo
        set +e
        ansible-playbook -i "$inventory" "playbooks/$kind.yml" "$@" 2>&1 | tee "$state/$kind.log"
        rc="${PIPESTATUS[0]}"
        set -e
        echo
        if ((rc != 0)); then
            die "playbooks/$kind.yml failed (exit status $rc); its output: .cache/sandbox/$kind.log"
        fi
    done
    run_logged "asking the registry where it sends users" "$state/quote.log" \
        ansible-playbook -i "$inventory" tests/sandbox/quote.yml
    sed -n 's/^ *"msg": "\(.*\)"$/sandbox: \1/p' "$state/quote.log"
    echo "sandbox: done. The oracles' hosts are emulated Nitro hosts in podman containers (podman exec -it ${first} bash);"
    echo "sandbox: run the command above again at any time; \`make sandbox-clean\` removes the sandbox."
}

clean() {
    containers_remove
    rm -rf "$state"
    echo "sandbox: state removed (.cache/sandbox)"
}

case "${1:-}" in
    up)
        shift
        up "$@"
        ;;
    clean)
        clean
        ;;
    *)
        echo "usage: $0 up [--upstream DIR] [ansible-playbook arguments] | clean" >&2
        exit 2
        ;;
esac
