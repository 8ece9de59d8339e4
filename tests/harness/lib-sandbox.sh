# shellcheck shell=bash
# Building blocks of the local sandbox, sourced by tests/harness/sandbox.sh (make sandbox) and
# tests/bench/fleet.sh (make bench-fleet): emulated Nitro hosts in podman containers, brought
# up with tests/sandbox/bringup.yml, and the fixture enclave repository they clone.
#
# Before sourcing, set:
#   repo            the repository root (absolute)
#   sandbox_prefix  the word every message starts with (sandbox, bench-fleet, ...)
#   sandbox_label   the podman label that marks the containers as this tool's (value 1)
# and optionally sandbox_code: the tree whose playbooks, emulator and fixture are used (default: repo),
# and sandbox_upstream: another copy of the enclave repository to publish instead of the fixture.
# The caller exports CONTAINERS_CONF, ANSIBLE_COLLECTIONS_PATH and PATH (.venv first).
# shellcheck disable=SC2154  # repo, sandbox_prefix and sandbox_label are the caller's (above)
: "${repo:?}" "${sandbox_prefix:?}" "${sandbox_label:?}"

die() {
    echo "$sandbox_prefix: $*" >&2
    exit 1
}

# The hosts an inventory lists.
sandbox_inventory_hosts() {
    ansible all -i "$1" --list-hosts | awk 'NR > 1 {print $1}'
}

# Start one container, or reuse it: running ones are left alone, stopped ones started again. Arguments
# after the image go to `podman run` (only used when the container is created).
container_up() {
    local name="$1" image="$2" owner
    shift 2
    if podman container exists "$name"; then
        owner="$(podman inspect --format "{{ index .Config.Labels \"$sandbox_label\" }}" "$name")"
        [[ "$owner" == "1" ]] || die "a container named $name exists and is not the $sandbox_prefix's; remove or rename it"
        if [[ "$(podman inspect --format '{{ .State.Running }}' "$name")" == "true" ]]; then
            echo "$sandbox_prefix: $name is running (reused)"
        else
            podman start "$name" >/dev/null
            echo "$sandbox_prefix: $name started again"
        fi
        if [[ "$(podman inspect --format '{{ .ImageName }}' "$name")" != "$image" ]]; then
            echo "$sandbox_prefix: note: $name runs an older test image; \`make sandbox-clean\` then \`make sandbox\` renews it"
        fi
    else
        podman run --detach --name "$name" --hostname "$name" --label "$sandbox_label=1" \
            --systemd=always "$@" "$image" /sbin/init >/dev/null
        echo "$sandbox_prefix: $name created"
    fi
}

# Remove every container labelled as this tool's.
containers_remove() {
    local name
    while read -r name; do
        [[ -n "$name" ]] || continue
        podman rm --force --time 5 "$name" >/dev/null
        echo "$sandbox_prefix: $name removed"
    done < <(podman ps --all --filter "label=$sandbox_label=1" --format '{{ .Names }}')
}

# Run a bring-up playbook quietly into a log; show the log's end when it fails.
run_logged() {
    local what="$1" log="$2"
    shift 2
    echo "$sandbox_prefix: $what (log: ${log#"$repo"/})"
    if ! "$@" >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        die "$what failed; full log: $log"
    fi
}

# What the fixture's published images and PCR0 values depend on.
fixture_digest() {
    (
        cd "${sandbox_code:-$repo}" || exit 1
        find tests/fixtures/enclave-protocol tests/nitro_emulator extensions/molecule/enclave_build/fixture_repo.yml \
            ${sandbox_upstream:+"$sandbox_upstream"} -type f -not -name '*.pyc' -not -path '*/.git/*' -print0 \
            | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1
    )
}

# Turn the started containers of an inventory into emulated Nitro hosts (tests/sandbox/bringup.yml).
# Usage: sandbox_bringup INVENTORY LOG [ansible-playbook arguments]
sandbox_bringup() {
    local inventory="$1" log="$2"
    shift 2
    run_logged "emulated Nitro hosts" "$log" \
        ansible-playbook -i "$inventory" "${sandbox_code:-$repo}/tests/sandbox/bringup.yml" "$@"
}

# Publish the fixture enclave repository from a host of an inventory into STATE/fixture when it is
# new or changed (extensions/molecule/enclave_build/fixture_repo.yml: the emulator measures the fixture
# image's PCR0, which the inventories permit). The playbook keeps its files under
# $MOLECULE_EPHEMERAL_DIRECTORY/fixture and reads the fixture from $MOLECULE_PROJECT_DIRECTORY: here,
# STATE and this checkout.
# Usage: fixture_publish INVENTORY STATE PUBLISHER LOG
fixture_publish() {
    local inventory="$1" state="$2" publisher="$3" log="$4" digest
    digest="$(fixture_digest)"
    if [[ ! -s "$state/fixture/fixture.json" || "$(cat "$state/fixture.sha256" 2>/dev/null)" != "$digest" ]]; then
        rm -f "$state/fixture.sha256"
        run_logged "publishing ${sandbox_upstream:-the fixture enclave repository} on $publisher" "$log" \
            env MOLECULE_EPHEMERAL_DIRECTORY="$state" MOLECULE_PROJECT_DIRECTORY="${sandbox_code:-$repo}" \
            ansible-playbook -i "$inventory" "${sandbox_code:-$repo}/extensions/molecule/enclave_build/fixture_repo.yml" \
            -e "fixture_repo_publisher=$publisher" ${sandbox_upstream:+-e "fixture_repo_source=$sandbox_upstream"}
        echo "$digest" >"$state/fixture.sha256"
    else
        echo "$sandbox_prefix: the fixture enclave repository is up to date"
    fi
}
