# shellcheck shell=bash
# The common environment of the harness's sandbox scripts, sourced from the repository root: $repo,
# podman's settings for this machine, the collection path and the virtualenv first on PATH.
repo="$PWD"
export CONTAINERS_CONF="$repo/tests/harness/containers.conf"
export ANSIBLE_COLLECTIONS_PATH="$repo/.cache/collections"
export PATH="$repo/.venv/bin:$PATH"
export ANSIBLE_NOCOLOR="${ANSIBLE_NOCOLOR:-1}"
