#!/usr/bin/env bash
# Run the named test levels in order (unit, lint, sanity, molecule), every one of
# them even when an earlier one fails, then print one summary line per level.
# Exit status: 0 when all passed, 1 otherwise.
set -uo pipefail

cd "$(dirname "$0")/../.." || exit 1
python=".venv/bin/python"
logdir=".cache/test-logs"
mkdir -p "$logdir"

level_unit() {
    "$python" -m pytest tests/unit -q -p no:cacheprovider
}

# ansible-lint, then the changelog fragments (a malformed fragment fails the level).
level_lint() {
    local rc=0
    .venv/bin/ansible-lint --profile production --offline || rc=1
    echo "antsibull-changelog lint (changelogs/)"
    .venv/bin/antsibull-changelog lint || rc=1
    return $rc
}

level_sanity() {
    tests/harness/sanity.sh
}

# Every scenario under extensions/molecule, one `molecule test` each, so one
# failing scenario does not hide the others. Results go to a file because the
# level runs in a pipeline (a subshell).
level_molecule() {
    local scenario rc=0
    : >"$logdir/molecule.results"
    for scenario in $(find extensions/molecule -mindepth 2 -maxdepth 2 -name molecule.yml -printf '%h\n' | xargs -n1 basename | sort); do
        echo "=== molecule scenario: $scenario"
        if .venv/bin/molecule test -s "$scenario"; then
            echo "$scenario ok" >>"$logdir/molecule.results"
        else
            echo "$scenario FAILED" >>"$logdir/molecule.results"
            rc=1
        fi
    done
    return $rc
}

summary=()
passed=0
failed=0
for level in "$@"; do
    echo
    echo "================ $level ================"
    start=$(date +%s)
    "level_$level" 2>&1 | tee "$logdir/$level.log"
    rc=${PIPESTATUS[0]}
    seconds=$(( $(date +%s) - start ))
    detail=""
    if [[ "$level" == molecule && -s "$logdir/molecule.results" ]]; then
        detail=" [$(paste -sd, "$logdir/molecule.results" | sed 's/,/, /g')]"
    fi
    if [[ $rc -eq 0 ]]; then
        summary+=("$(printf '%-9s passed  %5ss%s' "$level" "$seconds" "$detail")")
        passed=$((passed + 1))
    else
        summary+=("$(printf '%-9s FAILED  %5ss%s  (log: %s/%s.log)' "$level" "$seconds" "$detail" "$logdir" "$level")")
        failed=$((failed + 1))
    fi
done

echo
echo "================ summary ================"
printf '%s\n' "${summary[@]}"
echo "levels: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
