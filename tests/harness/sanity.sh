#!/usr/bin/env bash
# Run `ansible-test sanity` on the collection.
#
# ansible-test needs the collection at .../ansible_collections/<namespace>/<name>
# inside a git work tree, so the files git sees in this checkout (tracked, and
# untracked but not ignored) are copied into such a tree under .cache/ first.
# ansible-test's --venv bootstrap downloads a pip script from a host that may be
# out of reach; a cached stand-in that installs the pinned pip wheel from PyPI is
# put where ansible-test looks first.
set -euo pipefail

cd "$(dirname "$0")/../.."
repo="$PWD"
venv_python="$repo/.venv/bin/python"
py_version="$("$venv_python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"

# --- offline pip bootstrap for ansible-test's virtual environments ---
pip_version="$("$venv_python" - <<'PY'
from ansible_test._internal.python_requirements import get_venv_packages
from ansible_test._internal.host_configs import NativePythonConfig
print(get_venv_packages(NativePythonConfig(version="3"))["pip"])
PY
)"
cache_dir="$HOME/.ansible/test/cache"
bootstrap="$cache_dir/get_pip_${pip_version//./_}.py"
wheel_glob="$cache_dir/pip-${pip_version}-py3-none-any.whl"
if [[ ! -f "$bootstrap" || ! -f "$wheel_glob" ]]; then
    mkdir -p "$cache_dir"
    "$venv_python" -m pip download --quiet --disable-pip-version-check --no-deps \
        "pip==$pip_version" -d "$cache_dir"
    cat >"$bootstrap" <<PY
# Stand-in for get-pip.py: install pip from the wheel next to this file.
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "pip-${pip_version}-py3-none-any.whl"))
from pip._internal.cli.main import main  # noqa: E402

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
sys.exit(main(["install"] + args))
PY
fi

# --- the collection in an ansible_collections tree, as git sees this checkout ---
tree="$repo/.cache/sanity/ansible_collections/opencontracts/enclave"
# The collections it depends on (galaxy.yml: amazon.aws) beside it, for the import and
# validate-modules tests: the copies the `ansible` package in .venv bundles.
bundled="$("$venv_python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/ansible_collections"
mkdir -p "$repo/.cache/sanity/ansible_collections/amazon"
ln -sfn "$bundled/amazon/aws" "$repo/.cache/sanity/ansible_collections/amazon/aws"
# tests/output holds ansible-test's virtual environments: keep it between runs.
kept_output="$repo/.cache/sanity/output"
[[ -d "$tree/tests/output" ]] && { rm -rf "$kept_output"; mv "$tree/tests/output" "$kept_output"; }
rm -rf "$tree"
mkdir -p "$tree/tests"
[[ -d "$kept_output" ]] && mv "$kept_output" "$tree/tests/output"
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
    [[ -e "$f" ]] && printf '%s\0' "$f"
done | tar --null -T - -cf - | tar -C "$tree" -xf -
(
    cd "$tree"
    git init -q
    git add -A
    git -c user.name=sanity -c user.email=sanity@localhost commit -q -m snapshot
)

cd "$tree"
exec "$repo/.venv/bin/ansible-test" sanity --venv --python "$py_version" --color no "$@"
