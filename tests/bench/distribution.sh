#!/usr/bin/env bash
# Image distribution benchmark (docs/benchmarks.md, "Image distribution"; issue 21): the builder's verified
# enclave image delivered to 1, 5 and 20 emulated receivers, through the controller
# (enclave_build_distribution: controller) and through an S3 bucket (s3), side by side in one run.
#
# For every fleet size N, on fresh containers (the fleet benchmark's SSH hosts, tests/bench/fleet.sh) on a
# podman network of this benchmark's own:
#   bench-dist-1          the builder; bench-dist-2 .. N+1 the receivers; bench-dist-s3 the S3 endpoint (S3_SERVER):
#                         s3rver (default): a filesystem-backed S3 server on node, pinned by
#                         tests/bench/distribution/s3/package-lock.json and installed with `npm ci` into
#                         .cache/bench-distribution/s3-server (node and npm from Debian's nodejs and npm when
#                         missing); it writes an upload to disk as it arrives and streams every download from
#                         disk, so concurrent downloads of a large image do not each hold it in memory (its
#                         container's memory is bounded to S3_MEMORY, 1g by default, far below one 1 GiB image
#                         per receiver). It checks the key of every signed request, not its SigV4 signature.
#                         The container runs this machine's node (executable and libraries mounted read-only,
#                         through their own dynamic loader) and tests/bench/distribution/s3/server.js.
#                         moto: moto's server from the controller's .venv (mounted read-only at the same path,
#                         with the Python it was made from); it reads a whole object into memory for every GET,
#                         so concurrent downloads queue on it (S3_MEMORY 12g by default; 1 GiB images to 20
#                         receivers exhaust it).
#   set-up (not measured) tests/sandbox/bringup.yml (the Nitro emulator with build_padding_mib = EIF_MIB, so
#                         every EIF carries a ramdisk of that size), then tests/bench/distribution/prepare.yml:
#                         host_prep, and enclave_build with strategy once (the build, once)
#   ROUNDS rounds, the modes alternating (each round starts with the other one): the image, its record and
#                         the received copy removed from every receiver, the controller's copy removed and the
#                         bucket emptied, then tests/bench/distribution/deliver.yml (role enclave_build) in that
#                         mode, measured (tests/bench/distribution/bench_distribution.py run): wall seconds, the
#                         deliver phase's wall seconds (its tasks, from the run's task profile), the controller's
#                         CPU seconds (the ansible-playbook process tree, SSH masters included: a cgroup), the
#                         bytes through the controller (receive + send counters of the network's bridge on the
#                         controller: everything between the controller and the hosts or the S3 endpoint) and
#                         what landed in the controller's image folder.
# The machine's cores are shared by the controller, the hosts and the S3 endpoint: wall seconds depend on
# the load (printed with every run); bytes do not.
#
# Settings (environment): HOSTS="1 5 20" (receivers per set), ROUNDS=3, EIF_MIB=1024 (the padding; the EIF
# is a few KiB larger), MODES="controller s3", S3_SERVER=s3rver|moto, S3_MEMORY (the endpoint's memory bound).
# Results: .cache/bench-distribution/results-<time>.jsonl
# (RESULTS=FILE appends to another), summary.json and summary.md; logs under .cache/bench-distribution/sets/.
# The containers and the network are removed at the end, and when the benchmark stops early.
#
# Usage: tests/bench/distribution.sh   (make bench-distribution [HOSTS="1 5"] [ROUNDS=N] [EIF_MIB=M] [S3_SERVER=moto])
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/harness/env.sh
source tests/harness/env.sh

sizes="${HOSTS:-1 5 20}"
rounds="${ROUNDS:-3}"
eif_mib="${EIF_MIB:-1024}"
modes="${MODES:-controller s3}"
s3_server="${S3_SERVER:-s3rver}"
out="$repo/.cache/bench-distribution"
results="${RESULTS:-$out/results-$(date +%Y%m%dT%H%M%S).jsonl}"
network="opencontracts-bench-distribution"
cgroup_parent="/opencontracts_bench_distribution"
bucket="bench-distribution-eif"
python="$repo/.venv/bin/python"
bench="$repo/tests/bench/distribution/bench_distribution.py"
# The collection under test: this working tree.
code="$(cd "$repo/.cache/collections/ansible_collections/opencontracts/enclave" && pwd -P)"
# The controller signs the S3 URLs with these, and the benchmark's S3 endpoint accepts only these.
export AWS_ACCESS_KEY_ID=bench-access-key AWS_SECRET_ACCESS_KEY=bench-secret-key AWS_REGION=us-east-1 \
    AWS_DEFAULT_REGION=us-east-1 AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
    AWS_EC2_METADATA_DISABLED=true

sandbox_prefix="bench-distribution"
sandbox_label="opencontracts.bench-distribution"
sandbox_code="$code"
# shellcheck source=tests/harness/lib-sandbox.sh
source "$repo/tests/harness/lib-sandbox.sh"

case "$s3_server" in
    s3rver | moto) ;;
    *) die "S3_SERVER must be s3rver or moto; got '$s3_server'" ;;
esac
[[ -x "$repo/.venv/bin/ansible-playbook" ]] || die "no .venv: run \`make bench-distribution\` (it sets everything up)"
test_image="$(tests/harness/build-image.sh --print-ref)"
podman image exists "$test_image" || die "test image $test_image missing: run \`make bench-distribution\`"
venv_real="$(cd "$repo/.venv" && pwd -P)"
python_home="$(sed -n 's/^home = //p' "$venv_real/pyvenv.cfg")"
python_home="$(cd "$python_home/.." && pwd -P)"
mkdir -p "$out/sets"

cleanup() {
    containers_remove >/dev/null
    podman network exists "$network" && podman network rm "$network" >/dev/null
    local dir
    for dir in /sys/fs/cgroup/*/"${cgroup_parent#/}"; do
        [[ -d "$dir" ]] || continue
        find "$dir" -depth -mindepth 1 -type d -exec rmdir {} + 2>/dev/null || true
        rmdir "$dir" 2>/dev/null || true
    done
}
trap cleanup EXIT

# The fleet benchmark's SSH hosts: the test image plus an OpenSSH server (tests/bench/fleet/Containerfile),
# tagged as tests/bench/fleet.sh tags it.
ssh_image="localhost/opencontracts-enclave-bench-sshd:$(printf '%s\n' "$test_image" | cat - tests/bench/fleet/Containerfile | sha256sum | cut -c1-12)"
if ! podman image exists "$ssh_image"; then
    run_logged "building the SSH host image $ssh_image" "$out/ssh-image.log" \
        podman build --build-arg "BASE_IMAGE=$test_image" --tag "$ssh_image" --file tests/bench/fleet/Containerfile tests/bench/fleet
fi
if [[ ! -s "$out/ssh/id_ed25519" ]]; then
    mkdir -p "$out/ssh"
    ssh-keygen -q -t ed25519 -N '' -C bench-distribution -f "$out/ssh/id_ed25519"
fi

podman network exists "$network" || podman network create --label "$sandbox_label=1" "$network" >/dev/null
bridge="$(podman network inspect "$network" | "$python" -c '
import json, sys
net = json.load(sys.stdin)[0]
name = net.get("network_interface") or next((p.get("bridge") for p in net.get("plugins", []) if p.get("bridge")), "")
print(name)')"
[[ -n "$bridge" ]] || die "network $network has no bridge interface"

# s3rver's node and npm: Debian's packages when this machine has none (as tests/harness/system-packages.sh
# installs the tests' packages); a node that is there is used as it is (NodeSource's brings its own npm).
node_packages() {
    local -a need=()
    command -v node >/dev/null || need+=(nodejs npm)
    command -v node >/dev/null && ! command -v npm >/dev/null && need+=(npm)
    ((${#need[@]} > 0)) || return 0
    local sudo=""
    [[ "$(id -u)" -eq 0 ]] || sudo="sudo"
    echo "bench-distribution: installing system packages: ${need[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
}

# s3rver from the committed lock file (integrity hashes), into .cache; again only when the lock file changed.
s3rver_install() {
    local dir="$out/s3-server" lock="$repo/tests/bench/distribution/s3/package-lock.json" stamp
    node_packages
    stamp="$(cat "$repo/tests/bench/distribution/s3/package.json" "$lock" | sha256sum | cut -c1-16)"
    [[ "$(cat "$dir/.installed" 2>/dev/null)" == "$stamp" ]] && return 0
    rm -rf "$dir"
    mkdir -p "$dir"
    cp "$repo/tests/bench/distribution/s3/package.json" "$lock" "$dir/"
    run_logged "installing s3rver (npm ci, tests/bench/distribution/s3/package-lock.json)" "$out/s3rver-install.log" \
        npm ci --prefix "$dir" --omit=dev --ignore-scripts --no-audit --no-fund
    echo "$stamp" >"$dir/.installed"
}

# The S3 endpoint, in a container of this benchmark on its network, memory bounded (S3_MEMORY).
s3_up() {
    if [[ "$s3_server" == moto ]]; then
        # moto holds an object in memory while it sends it.
        podman run --detach --name bench-dist-s3 --hostname bench-dist-s3 --label "$sandbox_label=1" \
            --network "$network" --memory "${S3_MEMORY:-12g}" \
            --volume "$venv_real:$venv_real:ro" --volume "$python_home:$python_home:ro" \
            "$test_image" "$venv_real/bin/moto_server" -H 0.0.0.0 -p 5000 >/dev/null
    else
        podman run --detach --name bench-dist-s3 --hostname bench-dist-s3 --label "$sandbox_label=1" \
            --network "$network" --memory "${S3_MEMORY:-1g}" --stop-signal SIGTERM "${s3rver_mounts[@]}" \
            --env NODE_PATH=/opt/bench-s3/node_modules --env AWS_ACCESS_KEY_ID --env AWS_SECRET_ACCESS_KEY \
            "$test_image" /opt/bench-s3/lib/"$s3rver_loader" --library-path /opt/bench-s3/lib /opt/bench-s3/node \
            /opt/bench-s3/server.js /var/lib/bench-s3 0.0.0.0 5000 >/dev/null
    fi
    local address
    address="$(podman inspect --format '{{ range .NetworkSettings.Networks }}{{ .IPAddress }}{{ end }}' bench-dist-s3)"
    [[ -n "$address" ]] || die "the S3 endpoint has no address on $network"
    endpoint="http://$address:5000"
    "$python" "$bench" bucket --endpoint "$endpoint" --bucket "$bucket"
}

# s3rver's container: this machine's node and its libraries, s3rver's packages and the server script, read-only.
s3rver_mounts=()
s3rver_loader=""
if [[ "$s3_server" == s3rver ]]; then
    s3rver_install
    while IFS=$'\t' read -r host_path container_path; do
        s3rver_mounts+=(--volume "$host_path:$container_path:ro")
        [[ "$container_path" == /opt/bench-s3/lib/ld-linux* ]] && s3rver_loader="${container_path##*/}"
    done < <("$python" "$bench" node-mounts --node "$(command -v node)" --prefix /opt/bench-s3)
    [[ -n "$s3rver_loader" ]] || die "cannot run node in the S3 endpoint's container (no dynamic loader found)"
    s3rver_mounts+=(--volume "$out/s3-server/node_modules:/opt/bench-s3/node_modules:ro"
        --volume "$repo/tests/bench/distribution/s3/server.js:/opt/bench-s3/server.js:ro")
fi

# Fresh containers: the S3 endpoint, the builder and N receivers.
start_set() {
    local count="$1" i
    containers_remove >/dev/null
    s3_up
    for ((i = 1; i <= count + 1; i++)); do
        container_up "bench-dist-$i" "$ssh_image" --network "$network" --cgroup-parent "$cgroup_parent" \
            --volume "$out/ssh/id_ed25519.pub:/root/.ssh/authorized_keys:ro" >/dev/null
    done
}

# The fixture enclave repository, published once with this EIF size (its PCR0 covers the padding).
publish_fixture() {
    local state="$out/fixture-state" inventory="$out/fixture-inventory" digest
    digest="$(fixture_digest)-$eif_mib"
    mkdir -p "$state"
    if [[ -s "$state/fixture/fixture.json" && "$(cat "$state/fixture.id" 2>/dev/null)" == "$digest" ]]; then
        echo "bench-distribution: the fixture enclave repository is up to date"
        return
    fi
    start_set 0
    "$python" "$bench" inventory --code "$code" --receivers 0 --out "$inventory" --state "$state" --eif-mib "$eif_mib" \
        --ssh-key "$out/ssh/id_ed25519" --known-hosts "$state/known_hosts" --endpoint "$endpoint" --bucket "$bucket"
    "$python" "$repo/tests/bench/fleet/bench_fleet.py" wait-ssh --known-hosts "$state/known_hosts"
    sandbox_bringup "$inventory" "$state/bringup.log"
    rm -f "$state/fixture.sha256"
    fixture_publish "$inventory" "$state" bench-dist-1 "$state/fixture.log"
    echo "$digest" >"$state/fixture.id"
    containers_remove >/dev/null
}

# Before every measured run: no receiver holds the image, the controller holds no copy, the bucket is empty.
reset_delivery() {
    local count="$1" i
    for ((i = 2; i <= count + 1; i++)); do
        podman exec "bench-dist-$i" rm -f /opt/opencontracts/oracle.eif /opt/opencontracts/oracle.eif.json \
            /var/lib/opencontracts/enclave_build/oracle.received.eif
    done
    rm -rf "$setdir/state/eif"
    "$python" "$bench" bucket --endpoint "$endpoint" --bucket "$bucket" --empty >/dev/null
}

bench_size() {
    local count="$1" inventory state round i mode eif_bytes
    local -a list
    read -ra list <<<"$modes"
    setdir="$out/sets/receivers-$count"
    state="$setdir/state"
    inventory="$setdir/inventory"
    rm -rf "$setdir"
    mkdir -p "$state" "$setdir/logs"
    ln -s "$out/fixture-state/fixture" "$state/fixture"
    echo "bench-distribution: $count receiver(s): a builder, $count receiver(s) and the S3 endpoint, fresh"
    start_set "$count"
    "$python" "$bench" inventory --code "$code" --receivers "$count" --out "$inventory" --state "$state" \
        --eif-mib "$eif_mib" --ssh-key "$out/ssh/id_ed25519" --known-hosts "$setdir/known_hosts" \
        --endpoint "$endpoint" --bucket "$bucket"
    "$python" "$repo/tests/bench/fleet/bench_fleet.py" wait-ssh --known-hosts "$setdir/known_hosts"
    export ANSIBLE_CACHE_PLUGIN_CONNECTION="$setdir/facts"
    export ANSIBLE_SSH_CONTROL_PATH_DIR="$setdir/cp"
    sandbox_bringup "$inventory" "$setdir/logs/bringup.log"
    run_logged "host_prep and the build on bench-dist-1 (set-up, not measured)" "$setdir/logs/prepare.log" \
        ansible-playbook -i "$inventory" "$code/tests/bench/distribution/prepare.yml"
    eif_bytes="$(podman exec bench-dist-1 stat -c %s /opt/opencontracts/oracle.eif)"
    echo "bench-distribution: the builder's verified EIF: $eif_bytes bytes"
    for ((round = 1; round <= rounds; round++)); do
        for ((i = 0; i < ${#list[@]}; i++)); do
            # Each round starts with another mode, so that no mode always runs first.
            mode="${list[$(((i + round + 1) % ${#list[@]}))]}"
            reset_delivery "$count"
            "$python" "$bench" run --mode "$mode" --receivers "$count" --round "$round" --eif-bytes "$eif_bytes" \
                --s3-server "$s3_server" --bridge "$bridge" --controller-dir "$state/eif" --cgroup-parent "$cgroup_parent" \
                --log "$setdir/logs/$mode-$round.log" --results "$results" \
                -- ansible-playbook -i "$inventory" "$code/tests/bench/distribution/deliver.yml" \
                -e "enclave_build_distribution=$mode"
        done
    done
    containers_remove >/dev/null
}

echo "bench-distribution: receivers $sizes; modes $modes (S3 endpoint: $s3_server); $rounds round(s); EIF padding $eif_mib MiB; $(nproc) CPUs"
echo "bench-distribution: load average $(cut -d' ' -f1-3 /proc/loadavg); results appended to ${results#"$repo"/}"
echo "bench-distribution: code under test: this working tree at $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- roles playbooks plugins tests/nitro_emulator || echo ' with changes')"
touch "$results"
ln -sfn "$(basename "$results")" "$out/results-latest.jsonl"
publish_fixture
for count in $sizes; do
    bench_size "$count"
done
"$python" "$bench" report --out-dir "$out" "$results"
