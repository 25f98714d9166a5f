#!/usr/bin/env bash
# `make bench`: keyward bench on each adapter set this machine offers, each
# beside the same load in memory mode (the ceiling ratio), plus the
# micro-benchmarks of the hot pure paths. Postgres is required; Vault and
# NATS sets run when their servers are available.
#
# Env: BENCH_ORDERS (default 1000), BENCH_CLIENTS (16), BENCH_RATE (0: as
# fast as possible), BENCH_STEADY_RATE (10: the latency run's orders/s, for
# 30 s; 0 skips it), KEYWARD_DATABASE_URL (default the local server),
# KEYWARD_VAULT_DEV_BIN (a built vault-dev, else scripts/vault-dev.sh builds
# one), KEYWARD_NATS_URL (default nats://127.0.0.1:4222).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
log() { echo "bench.sh: $*" >&2; }

ORDERS="${BENCH_ORDERS:-1000}"
CLIENTS="${BENCH_CLIENTS:-16}"
RATE="${BENCH_RATE:-0}"
STEADY="${BENCH_STEADY_RATE:-10}"
export KEYWARD_DATABASE_URL="${KEYWARD_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}"
NATS_URL="${KEYWARD_NATS_URL:-nats://127.0.0.1:4222}"

go build -o bin/keyward ./cmd/keyward
run() { echo; echo "## $1"; shift; echo '```'; "$@" bin/keyward bench --orders "$ORDERS" --clients "$CLIENTS" --rate "$RATE"; echo '```'; }

run "postgres+local" env KEYWARD_KEY_VAULT=local

if (( STEADY > 0 )); then
	echo; echo "## postgres+local at a steady $STEADY orders/s for 30 s (latency below saturation)"; echo '```'
	KEYWARD_KEY_VAULT=local bin/keyward bench --orders $((STEADY * 30)) --clients "$CLIENTS" --rate "$STEADY" --compare-memory=false
	echo '```'
fi

if [[ -n "${KEYWARD_VAULT_DEV_BIN:-}" ]]; then
	mkdir -p .cache/bin && ln -sf "$KEYWARD_VAULT_DEV_BIN" .cache/bin/vault-dev && touch -h .cache/bin/vault-dev
fi
if addr=$(scripts/vault-dev.sh start | tail -1); then
	trap 'scripts/vault-dev.sh stop >/dev/null 2>&1 || true' EXIT
	run "postgres+vault" env "$addr" VAULT_TOKEN=root KEYWARD_KEY_VAULT=vault
else
	log "no Vault dev server: skipping postgres+vault"
fi

host_port="${NATS_URL#nats://}"
if (exec 3<>"/dev/tcp/${host_port%:*}/${host_port#*:}") 2>/dev/null; then
	run "postgres+nats" env KEYWARD_KEY_VAULT=local KEYWARD_BROKER=nats KEYWARD_NATS_URL="$NATS_URL" KEYWARD_BROKER_PREFIX="bench$$"
else
	log "no NATS at $NATS_URL: skipping postgres+nats"
fi

echo; echo "## micro-benchmarks"; echo '```'
go test -run XXX -bench . -benchmem ./domain ./application ./adapters/nowpayments
echo '```'
