#!/bin/sh
# terminate-enclave NITRO_CLI NAME: terminate the enclave named NAME when one runs. The unit calls it
# before a start (a leftover of a crash) and after a stop; usually the serve script has already
# terminated its enclave, and then this says nothing, so the journal keeps only what matters.
set -u
nitro_cli="$1"
name="$2"
if "$nitro_cli" describe-enclaves 2>/dev/null | grep -q "\"EnclaveName\": \"$name\""; then
    exec "$nitro_cli" terminate-enclave --enclave-name "$name"
fi
