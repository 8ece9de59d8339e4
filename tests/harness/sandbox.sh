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
repo="$PWD"
export CONTAINERS_CONF="$repo/tests/harness/containers.conf"
export ANSIBLE_COLLECTIONS_PATH="$repo/.cache/collections"
export PATH="$repo/.venv/bin:$PATH"
export ANSIBLE_NOCOLOR="${ANSIBLE_NOCOLOR:-1}"

inventory="$repo/inventories/sandbox"
state="$repo/.cache/sandbox"
label="opencontracts.sandbox"

die() {
    echo "sandbox: $*" >&2
    exit 1
}

# The sandbox's hosts, as the inventory lists them.
sandbox_hosts() {
    ansible all -i "$inventory" --list-hosts | awk 'NR > 1 {print $1}'
}

# Start one container, or reuse it: running ones are left alone, stopped ones started again.
container_up() {
    local name="$1" image="$2" owner
    if podman container exists "$name"; then
        owner="$(podman inspect --format "{{ index .Config.Labels \"$label\" }}" "$name")"
        [[ "$owner" == "1" ]] || die "a container named $name exists and is not the sandbox's; remove or rename it"
        if [[ "$(podman inspect --format '{{ .State.Running }}' "$name")" == "true" ]]; then
            echo "sandbox: $name is running (reused)"
        else
            podman start "$name" >/dev/null
            echo "sandbox: $name started again"
        fi
        if [[ "$(podman inspect --format '{{ .ImageName }}' "$name")" != "$image" ]]; then
            echo "sandbox: note: $name runs an older test image; \`make sandbox-clean\` then \`make sandbox\` renews it"
        fi
    else
        podman run --detach --name "$name" --hostname "$name" --label "$label=1" \
            --systemd=always "$image" /sbin/init >/dev/null
        echo "sandbox: $name created"
    fi
}

# Run a bring-up playbook quietly into a log; show the log's end when it fails.
run_logged() {
    local what="$1" log="$2"
    shift 2
    echo "sandbox: $what (log: ${log#"$repo"/})"
    if ! "$@" >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        die "$what failed; full log: $log"
    fi
}

# What the fixture's published images and PCR0 values depend on.
fixture_digest() {
    find tests/fixtures/enclave-protocol tests/nitro_emulator extensions/molecule/enclave_build/fixture_repo.yml \
        -type f -not -name '*.pyc' -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1
}

up() {
    local image host first digest
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

    run_logged "emulated Nitro hosts" "$state/bringup.log" \
        ansible-playbook -i "$inventory" tests/sandbox/bringup.yml

    digest="$(fixture_digest)"
    if [[ ! -s "$state/fixture/fixture.json" || "$(cat "$state/fixture.sha256" 2>/dev/null)" != "$digest" ]]; then
        rm -f "$state/fixture.sha256"
        # The fixture playbook keeps its files under $MOLECULE_EPHEMERAL_DIRECTORY/fixture and reads the
        # fixture from $MOLECULE_PROJECT_DIRECTORY: here, the sandbox's state and this checkout.
        run_logged "publishing the fixture enclave repository on $first" "$state/fixture.log" \
            env MOLECULE_EPHEMERAL_DIRECTORY="$state" MOLECULE_PROJECT_DIRECTORY="$repo" \
            ansible-playbook -i "$inventory" extensions/molecule/enclave_build/fixture_repo.yml \
            -e "fixture_repo_publisher=$first"
        echo "$digest" >"$state/fixture.sha256"
    else
        echo "sandbox: the fixture enclave repository is up to date"
    fi

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
    local name
    while read -r name; do
        [[ -n "$name" ]] || continue
        podman rm --force --time 5 "$name" >/dev/null
        echo "sandbox: $name removed"
    done < <(podman ps --all --filter "label=$label=1" --format '{{ .Names }}')
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
