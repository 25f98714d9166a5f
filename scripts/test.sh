#!/usr/bin/env bash
# Runs every test. The services the tests need are found or started here:
#   PostgreSQL  KEYWARD_TEST_DATABASE_URL, default the local server; when no
#               server answers and PostgreSQL binaries exist, a throwaway
#               cluster is started in .cache/pg.
#   Vault       KEYWARD_TEST_VAULT_ADDR; when unset, a Vault dev server is
#               built (once, cached) and started (scripts/vault-dev.sh).
#   Chromium    the browser test (bootstrap/browser_test.go) drives Debian's
#               chromium; installed with apt-get when missing.
#   NATS        KEYWARD_TEST_NATS_URL, default the local server (JetStream);
#   RabbitMQ    KEYWARD_TEST_AMQP_URL, default the local server: started
#               when they do not answer on their usual ports.
#   Redis       KEYWARD_TEST_REDIS_URL, default the local server (shared
#               rate limits): started, and installed from Debian when
#               missing, when nothing answers on 6379.
# Before them the OpenAPI document is linted (Redocly CLI, installed with
# npm into .cache/npm once) and the vendored docs UI is checked against its
# recorded hashes.
# A service that cannot be provided fails the run: nothing is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

log() { echo "test.sh: $*" >&2; }
# shown URL: without user or password
shown() { sed -E 's#//[^/@]*@#//#' <<<"$1"; }
cleanup=()
on_exit() { for c in "${cleanup[@]}"; do eval "$c" || true; done; }
trap on_exit EXIT

# --- OpenAPI lint -----------------------------------------------------------
# The document `keyward openapi` prints must pass Redocly's recommended rules
# (redocly.yaml) without error: generated clients rely on it. The CLI is
# installed once, at a pinned version, into .cache/npm.
if [[ -z "${BENCH:-}" ]]; then
	REDOCLY_VERSION=2.77.0
	redocly="$REPO/.cache/npm/node_modules/.bin/redocly"
	if [[ ! -x "$redocly" || "$("$redocly" --version 2>/dev/null)" != "$REDOCLY_VERSION" ]]; then
		log "installing @redocly/cli@$REDOCLY_VERSION into .cache/npm"
		npm install --prefix "$REPO/.cache/npm" --no-audit --no-fund --loglevel=error "@redocly/cli@$REDOCLY_VERSION" >&2
	fi
	export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true
	export KEYWARD_REDOCLY="$redocly" # tools/apiclient lints the 3.0 document too
	mkdir -p .cache/openapi
	go run ./cmd/keyward openapi >.cache/openapi/openapi.json
	"$redocly" lint --config redocly.yaml .cache/openapi/openapi.json
fi

# --- Docs UI ----------------------------------------------------------------
# /docs serves Stoplight Elements from files committed in adapters/http/docs;
# they must be exactly what scripts/vendor-docs.sh recorded.
scripts/vendor-docs.sh verify

# --- Prometheus alert rules ------------------------------------------------
# deploy/prometheus/alerts.yml is checked and unit-tested with promtool
# (Debian's prometheus package), installed when missing.
if [[ -z "${BENCH:-}" ]]; then
	if ! command -v promtool >/dev/null; then
		if [[ $(id -u) != 0 ]]; then
			log "promtool is missing and installing it needs root: apt-get install -y prometheus"
			exit 1
		fi
		log "installing Debian's prometheus for promtool"
		apt-get update -qq >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >&2
		command -v promtool >/dev/null || { log "promtool did not install"; exit 1; }
	fi
	promtool check rules deploy/prometheus/alerts.yml
	(cd deploy/prometheus && promtool test rules alerts_test.yml)
fi

# --- Chromium ---------------------------------------------------------------
if [[ -z "${BENCH:-}" ]] && ! command -v chromium >/dev/null; then
	if [[ $(id -u) != 0 ]]; then
		log "Chromium is missing and installing it needs root: apt-get install -y chromium"
		exit 1
	fi
	log "installing Debian's chromium for the browser test"
	apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
	command -v chromium >/dev/null || { log "chromium did not install"; exit 1; }
fi

# --- PostgreSQL -------------------------------------------------------------
export KEYWARD_TEST_DATABASE_URL="${KEYWARD_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}"
pg_answers() { psql "$KEYWARD_TEST_DATABASE_URL" -tAc 'select 1' >/dev/null 2>&1; }
if ! command -v psql >/dev/null; then
	log "psql is not installed: install PostgreSQL client and server (apt-get install postgresql) or set KEYWARD_TEST_DATABASE_URL"
	exit 1
fi
if ! pg_answers; then
	bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
	if [[ -z "$bindir" || ! -x "$bindir/initdb" ]]; then
		log "no PostgreSQL answers at $KEYWARD_TEST_DATABASE_URL and no PostgreSQL binaries were found to start one."
		log "Start a server, or set KEYWARD_TEST_DATABASE_URL to one (superuser, trust or password in the URL)."
		exit 1
	fi
	pgdir="$REPO/.cache/pg"; port=55432
	log "no PostgreSQL at $KEYWARD_TEST_DATABASE_URL: starting a throwaway cluster in $pgdir on port $port"
	rm -rf "$pgdir"; mkdir -p "$pgdir"
	owner=()
	if [[ $(id -u) == 0 ]]; then chown -R postgres "$pgdir" 2>/dev/null && owner=(runuser -u postgres --); fi
	"${owner[@]}" "$bindir/initdb" -D "$pgdir/data" -U postgres -A trust >/dev/null
	"${owner[@]}" "$bindir/pg_ctl" -D "$pgdir/data" -o "-p $port -k $pgdir -c listen_addresses=127.0.0.1 -c max_connections=400" -l "$pgdir/log" -w start >/dev/null
	cleanup+=("${owner[*]} $bindir/pg_ctl -D $pgdir/data -m immediate stop >/dev/null")
	export KEYWARD_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
	pg_answers || { log "the throwaway cluster does not answer; see $pgdir/log"; exit 1; }
fi
# Several keyward processes run at once (crash and worker tests start two to
# four, each with its own pool and queue subscribers): the suite needs more
# connections than PostgreSQL's default 100.
need_conns=400
have_conns=$(psql "$KEYWARD_TEST_DATABASE_URL" -tAc 'show max_connections')
if (( have_conns < need_conns )); then
	port=$(psql "$KEYWARD_TEST_DATABASE_URL" -tAc 'show port')
	cluster=$(pg_lsclusters -h 2>/dev/null | awk -v p="$port" '$3 == p {print $1" "$2; exit}' || true)
	if [[ -z "$cluster" ]]; then
		log "PostgreSQL at $KEYWARD_TEST_DATABASE_URL allows $have_conns connections; the suite needs $need_conns. Raise max_connections there and restart it."
		exit 1
	fi
	log "PostgreSQL allows $have_conns connections, the suite needs $need_conns: raising max_connections and restarting cluster $cluster"
	psql "$KEYWARD_TEST_DATABASE_URL" -qc "ALTER SYSTEM SET max_connections = $need_conns"
	# shellcheck disable=SC2086 # "version name"
	pg_ctlcluster --skip-systemctl-redirect $cluster restart
	for _ in $(seq 60); do pg_answers && break; sleep 0.5; done
	pg_answers || { log "PostgreSQL did not come back after the restart"; exit 1; }
fi
log "PostgreSQL: $(shown "${KEYWARD_TEST_DATABASE_URL%%\?*}")"

# --- Vault ------------------------------------------------------------------
if [[ -z "${KEYWARD_TEST_VAULT_ADDR:-}" ]]; then
	line=$(scripts/vault-dev.sh start | tail -1)
	[[ "$line" == VAULT_ADDR=* ]] || { log "the Vault dev server did not start"; exit 1; }
	export KEYWARD_TEST_VAULT_ADDR="${line#VAULT_ADDR=}"
	cleanup+=("scripts/vault-dev.sh stop >/dev/null 2>&1")
fi
export KEYWARD_TEST_VAULT_TOKEN="${KEYWARD_TEST_VAULT_TOKEN:-root}"
export KEYWARD_VAULT_DEV_BIN="${KEYWARD_VAULT_DEV_BIN:-$REPO/.cache/bin/vault-dev}"
log "Vault: $KEYWARD_TEST_VAULT_ADDR"

# --- NATS (JetStream) and RabbitMQ ----------------------------------------
# The messaging contract suite and the multi-worker tests use both. When one
# does not answer on its port, it is started the way this machine starts it;
# when that fails too, the run fails here, saying so.
answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { for _ in $(seq 1 60); do answers "$1" && return 0; sleep 1; done; return 1; }
export KEYWARD_TEST_NATS_URL="${KEYWARD_TEST_NATS_URL:-nats://127.0.0.1:4222}"
export KEYWARD_TEST_AMQP_URL="${KEYWARD_TEST_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/}"
if [[ "$KEYWARD_TEST_NATS_URL" == nats://127.0.0.1:4222 ]] && ! answers 4222; then
	log "NATS does not answer on 127.0.0.1:4222: starting nats-server with JetStream"
	if ! command -v nats-server >/dev/null && [[ ! -x /usr/sbin/nats-server ]]; then
		log "nats-server is not installed (apt-get install nats-server) and KEYWARD_TEST_NATS_URL points nowhere else"; exit 1
	fi
	mkdir -p /var/lib/nats-server
	start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
	wait_port 4222 || { log "nats-server did not start; see /var/log/nats-server.log"; exit 1; }
fi
if [[ "$KEYWARD_TEST_AMQP_URL" == amqp://guest:guest@127.0.0.1:5672/ ]] && ! answers 5672; then
	log "RabbitMQ does not answer on 127.0.0.1:5672: starting it"
	if ! command -v rabbitmq-server >/dev/null; then
		log "rabbitmq-server is not installed (apt-get install rabbitmq-server) and KEYWARD_TEST_AMQP_URL points nowhere else"; exit 1
	fi
	rabbitmq-server -detached >&2
	wait_port 5672 || { log "RabbitMQ did not start; see /var/log/rabbitmq"; exit 1; }
fi
log "NATS: $(shown "$KEYWARD_TEST_NATS_URL")  RabbitMQ: $(shown "$KEYWARD_TEST_AMQP_URL")"

# --- Redis --------------------------------------------------------------------
# The Redis rate limiter's contract and the two-instance test need one; a
# missing Redis fails them, so it is provided here.
export KEYWARD_TEST_REDIS_URL="${KEYWARD_TEST_REDIS_URL:-redis://127.0.0.1:6379/0}"
if [[ "$KEYWARD_TEST_REDIS_URL" == redis://127.0.0.1:6379/0 ]] && ! answers 6379; then
	if ! command -v redis-server >/dev/null; then
		if [[ $(id -u) != 0 ]]; then
			log "redis-server is missing and installing it needs root: apt-get install -y redis-server"; exit 1
		fi
		log "installing Debian's redis-server"
		apt-get update -qq >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >&2
		command -v redis-server >/dev/null || { log "redis-server did not install"; exit 1; }
	fi
	log "Redis does not answer on 127.0.0.1:6379: starting redis-server"
	redis-server --bind 127.0.0.1 --port 6379 --save "" --appendonly no --daemonize yes --logfile /tmp/keyward-redis.log >&2
	wait_port 6379 || { log "redis-server did not start; see /tmp/keyward-redis.log"; exit 1; }
fi
log "Redis: $(shown "$KEYWARD_TEST_REDIS_URL")"

if [[ -n "${BENCH:-}" ]]; then
	go test -count=1 "$@" # benchmarks: no race detector, the caller names the packages
else
	# Most end-to-end tests wait on servers and the network, not the CPU: four
	# at a time in a package keep both cores busy.
	go test -race -count=1 -parallel 4 -timeout 14m ./... "$@"
	# A client generated from the OpenAPI document walks a purchase against
	# the real binary (its own module: the generator stays out of go.mod).
	(cd tools/apiclient && go test -count=1 -timeout 5m ./...)
fi
