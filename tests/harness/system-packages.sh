#!/usr/bin/env bash
# Install the system packages the tests need when they are missing (Debian or Ubuntu).
set -euo pipefail

need=()
command -v podman >/dev/null || need+=(podman)
command -v runc >/dev/null || need+=(runc)
command -v debootstrap >/dev/null || need+=(debootstrap)
[[ -e /usr/share/keyrings/debian-archive-keyring.gpg ]] || need+=(debian-archive-keyring)
# Python's venv module is a separate package on Debian and Ubuntu.
python3 -c 'import ensurepip' 2>/dev/null || need+=(python3-venv)
command -v git >/dev/null || need+=(git)
command -v openssl >/dev/null || need+=(openssl)
# ansible-test sanity lints shell scripts with it (skipped with a warning without it).
command -v shellcheck >/dev/null || need+=(shellcheck)
# The Nitro emulator's vsock library (tests/nitro_emulator/vsock) is compiled on the controller.
command -v gcc >/dev/null || need+=(gcc)
[[ -e /usr/include/linux/vm_sockets.h && -e /usr/include/stdio.h ]] || need+=(libc6-dev linux-libc-dev)
# The fleet report's HTML page is rendered by headless Chromium in the unit tests.
command -v chromium >/dev/null || command -v chromium-browser >/dev/null || need+=(chromium)

sudo=""
[[ "$(id -u)" -eq 0 ]] || sudo="sudo"

# Every test host's systemd takes inotify instances from the same user's budget (128 by default): past
# about 20 containers (a benchmark's fleet beside a scenario) the next ones never finish booting
# ("Failed to create inotify object: Too many open files"). Raised for this boot only, never lowered.
inotify_wanted=1024
if (($(cat /proc/sys/fs/inotify/max_user_instances) < inotify_wanted)); then
    echo "raising fs.inotify.max_user_instances to $inotify_wanted (many systemd containers)"
    $sudo sysctl -q -w fs.inotify.max_user_instances="$inotify_wanted"
fi

if ((${#need[@]} == 0)); then
    exit 0
fi
echo "installing system packages: ${need[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
