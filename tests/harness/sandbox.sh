#!/usr/bin/env bash
# The local sandbox: three oracle hosts (inventories/sandbox) in podman containers with the Nitro
# hardware emulated, served by the collection's own playbook.
#
#   up     (make sandbox) start the containers, or reuse the running ones; install the Nitro emulator
#          and start docker and the allocator on them (tests/sandbox/bringup.yml); publish the
#          fixture enclave repository when it is new or changed
#          (extensions/molecule/enclave_build/fixture_repo.yml: the emulator measures the fixture
#          image's PCR0, which inventories/sandbox permits); then run
#              ansible-playbook -i inventories/sandbox playbooks/oracle.yml
#          and print its summary. Run again, it changes nothing.
#   clean  (make sandbox-clean) remove the sandbox's containers (only those labelled as such) and its
#          state in .cache/sandbox.
#
# Expects what `make sandbox` sets up first: .venv, the collection link in .cache/collections and the
# test image (tests/harness/build-image.sh). Extra arguments of `up` go to the oracle.yml run.
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

    mapfile -t hosts < <(sandbox_hosts)
    ((${#hosts[@]} > 0)) || die "no hosts in $inventory"
    for host in "${hosts[@]}"; do
        container_up "$host" "$image"
    done
    first="${hosts[0]}"

    sandbox_bringup "$inventory" "$state/bringup.log"
    fixture_publish "$inventory" "$state" "$first" "$state/fixture.log"

    echo "sandbox: ansible-playbook -i inventories/sandbox playbooks/oracle.yml $*"
    echo
    set +e
    ansible-playbook -i "$inventory" playbooks/oracle.yml "$@" 2>&1 | tee "$state/oracle.log"
    local rc="${PIPESTATUS[0]}"
    set -e
    echo
    if ((rc != 0)); then
        die "playbooks/oracle.yml failed (exit status $rc); its output: .cache/sandbox/oracle.log"
    fi
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
        echo "usage: $0 up [ansible-playbook arguments] | clean" >&2
        exit 2
        ;;
esac
