#!/usr/bin/env bash
# Render CHANGELOG.md from changelogs/ with antsibull-changelog (make changelog).
#
# changelogs/changelog.yaml holds the released versions, changelogs/fragments/ one YAML file per
# change since. While there are fragments, CHANGELOG.md shows them as the version in galaxy.yml, not
# released yet: `antsibull-changelog release` runs on a scratch copy of the files git sees, so the
# fragments and changelog.yaml here stay as they are. (To release: set the release summary fragment,
# run `.venv/bin/antsibull-changelog release` here, which moves the fragments into changelog.yaml,
# then `make changelog`.)
set -euo pipefail
cd "$(dirname "$0")/../.."
repo="$PWD"
tool="$repo/.venv/bin/antsibull-changelog"
export PATH="$repo/.venv/bin:$PATH"

"$tool" lint
shopt -s nullglob
fragments=(changelogs/fragments/*.yml changelogs/fragments/*.yaml)
shopt -u nullglob
if [[ ${#fragments[@]} -eq 0 ]]; then
    exec "$tool" generate
fi

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
tree="$scratch/ansible_collections/opencontracts/enclave"
mkdir -p "$tree"
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
    [[ -e "$f" ]] && printf '%s\0' "$f"
done | tar --null -T - -cf - | tar -C "$tree" -xf -
# The release's new modules, plugins and roles are found with ansible-doc in the scratch tree.
(cd "$tree" && ANSIBLE_COLLECTIONS_PATH="$scratch" "$tool" release >"$scratch/release.log" 2>&1) \
    || { cat "$scratch/release.log" >&2; exit 1; }
cp "$tree/CHANGELOG.md" CHANGELOG.md
echo "CHANGELOG.md: $(sed -n 's/^version: *//p' galaxy.yml) (not released yet) from ${#fragments[@]} fragments"
