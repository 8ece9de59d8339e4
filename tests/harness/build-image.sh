#!/usr/bin/env bash
# Build the local Debian bookworm systemd image the molecule hosts run on.
# No registry is needed: debootstrap a root file system and `podman import` it.
# The tag is a hash of this script and the package list, so a changed recipe
# builds a new image and an unchanged one is reused.
#
# Usage: build-image.sh [--print-ref]
#   --print-ref  print the image reference for the current recipe and exit
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
name="localhost/opencontracts-enclave-testhost"
recipe_hash="$(cat "$here/build-image.sh" "$here/image-packages.txt" | sha256sum | cut -c1-12)"
ref="$name:$recipe_hash"

if [[ "${1:-}" == "--print-ref" ]]; then
    echo "$ref"
    exit 0
fi

if podman image exists "$ref"; then
    echo "test image $ref is up to date"
    exit 0
fi

# The Debian mirror this machine already uses, else the public one.
mirror="${DEBIAN_MIRROR:-}"
if [[ -z "$mirror" ]]; then
    mirror="$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v -- '-security' | grep -m1 'debian' || true)"
fi
if [[ -z "$mirror" ]]; then
    mirror="$(grep -hs '^deb ' /etc/apt/sources.list | awk '{print $2}' | grep -v -- '-security' | grep -m1 'debian' || true)"
fi
mirror="${mirror:-http://deb.debian.org/debian}"

packages="$(grep -v '^\s*#' "$here/image-packages.txt" | grep -v '^\s*$' | paste -sd, -)"
rootfs="$(mktemp -d /var/tmp/testhost-rootfs.XXXXXX)"
trap 'rm -rf "$rootfs"' EXIT

echo "building test image $ref from $mirror (about a minute)"
debootstrap --variant=minbase --include="$packages" bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || {
    tail -n 30 "$rootfs.log" >&2
    echo "debootstrap failed; full log: $rootfs.log" >&2
    exit 1
}
rm -f "$rootfs.log"

# Containers have no consoles or hardware to wait for: mask what only fails there.
for unit in getty@tty1.service serial-getty@.service console-getty.service \
            systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket \
            systemd-remount-fs.service sys-kernel-config.mount sys-kernel-debug.mount \
            systemd-firstboot.service systemd-modules-load.service apt-daily.timer \
            apt-daily-upgrade.timer e2scrub_reap.service; do
    ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
done
# Keep the image small: package caches and docs are not needed on test hosts.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
       "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/*
echo "testhost" >"$rootfs/etc/hostname"
: >"$rootfs/etc/machine-id"

tar -C "$rootfs" -c . | podman import --quiet \
    --change 'CMD ["/sbin/init"]' --change 'STOPSIGNAL SIGRTMIN+3' - "$ref" >/dev/null
# Older recipes' images are dead weight.
podman images --format '{{.Repository}}:{{.Tag}}' | grep "^$name:" | grep -v ":$recipe_hash\$" \
    | xargs -r podman rmi >/dev/null 2>&1 || true
echo "built test image $ref"
