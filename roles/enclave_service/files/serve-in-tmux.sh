#!/bin/sh
# Managed by the opencontracts.enclave collection (roles oracle_service, registry_service).
#
# serve-in-tmux RUNTIME_DIR SESSION SCRIPT
#
# Runs `sh SCRIPT` inside a detached tmux session named SESSION, as the provider guide's
# serve_enclave.sh does, but stays in the foreground for as long as the script runs, so that a
# systemd unit supervises it: the script's output also goes to this program's standard output (the
# journal) and this program exits with the script's exit status. `tmux attach -t SESSION` shows the
# script's terminal. RUNTIME_DIR is a private folder (the unit's RuntimeDirectory).
set -eu

if [ "$#" -ne 3 ]; then
    echo "usage: serve-in-tmux RUNTIME_DIR SESSION SCRIPT" >&2
    exit 2
fi
runtime_dir=$1
session=$2
script=$3

if [ ! -d "$runtime_dir" ]; then
    echo "serve-in-tmux: $runtime_dir is not a folder" >&2
    exit 2
fi
if [ ! -f "$script" ]; then
    echo "serve-in-tmux: $script does not exist" >&2
    exit 2
fi

output=$runtime_dir/output
status=$runtime_dir/status
rm -f "$output" "$status"
mkfifo -m 600 "$output"

# A session of the same name left over from an earlier start would keep the old script's terminal.
tmux kill-session -t "=$session" 2>/dev/null || true

# The pane runs the script, copies its output into the FIFO and records its exit status.
# The names are single-quoted for the pane's shell (the unit only passes plain names and paths).
tmux new-session -d -s "$session" -c "$(dirname "$script")" \
    "{ sh '$script' 2>&1; echo \$? > '$status'; } | tee '$output'"

# Blocks until the pane's tee closes the FIFO, i.e. until the script has ended.
cat "$output"

# Give the pane's shell a moment to write the status after the pipe closed.
tries=0
while [ ! -s "$status" ] && [ "$tries" -lt 50 ]; do
    sleep 0.1
    tries=$((tries + 1))
done
if [ ! -s "$status" ]; then
    echo "serve-in-tmux: $script ended without an exit status (its tmux session was killed?)" >&2
    exit 1
fi
exit "$(cat "$status")"
