#!/usr/bin/env bash
# Real HashiCorp Vault dev server (in-memory, unsealed, root token "root")
# built from tools/vaultdev (Vault v1.19.0 as a Go library; no Vault binary
# or download needed, only the Go module proxy).
#
#   scripts/vault-dev.sh build         build .cache/bin/vault-dev if missing/stale
#   scripts/vault-dev.sh run [args]    build if needed, run in the foreground
#                                      (-addr / VAULT_DEV_ADDR, default 127.0.0.1:8200)
#   scripts/vault-dev.sh start [args]  build if needed, start in the background on a
#                                      free loopback port, wait for /v1/sys/health=200;
#                                      last stdout line: VAULT_ADDR=http://127.0.0.1:PORT
#   scripts/vault-dev.sh stop          stop the instance started by `start`
#   scripts/vault-dev.sh status        print VAULT_ADDR of the running instance, or fail
#
# Like `vault server -dev`, transit is available but NOT mounted.
# The first build compiles all of Vault and takes several minutes; later
# builds are skipped unless tools/vaultdev changes.
#
# Env: VAULT_DEV_ROOT_TOKEN_ID (default root), VAULT_DEV_LOG_LEVEL (default warn),
#      VAULT_DEV_START_TIMEOUT seconds (default 60).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOL="$REPO/tools/vaultdev"
CACHE="$REPO/.cache"
BIN="$CACHE/bin/vault-dev"
PIDFILE="$CACHE/vault-dev.pid"
ADDRFILE="$CACHE/vault-dev.addr"
LOG="$CACHE/vault-dev.log"

log() { echo "vault-dev.sh: $*" >&2; }
die() { log "$*"; exit 1; }

needs_build() {
	[[ -x "$BIN" ]] || return 0
	[[ -n "$(find "$TOOL" -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) -newer "$BIN" -print -quit)" ]]
}

build() {
	command -v go >/dev/null || die "go is not installed"
	mkdir -p "$CACHE/bin"
	# One build at a time (parallel callers wait, then find it fresh).
	exec 9>"$CACHE/vault-dev.build.lock"
	flock 9
	if needs_build; then
		log "building $BIN (first build of Vault takes several minutes)..."
		local start=$SECONDS tmp="$BIN.tmp.$$"
		# go.sum is committed: -mod=readonly fails instead of silently changing it.
		if ! (cd "$TOOL" && GOWORK=off GOFLAGS="-mod=readonly -buildvcs=false" \
			go build -trimpath -o "$tmp" .); then
			rm -f "$tmp"
			die "build failed"
		fi
		mv -f "$tmp" "$BIN"
		log "built in $((SECONDS - start))s"
	fi
	flock -u 9
	exec 9>&-
}

# pid of the running instance started by `start`, or nothing.
running_pid() {
	[[ -f "$PIDFILE" ]] || return 0
	local pid
	pid="$(cat "$PIDFILE" 2>/dev/null || true)"
	[[ "$pid" =~ ^[0-9]+$ ]] || return 0
	kill -0 "$pid" 2>/dev/null || return 0
	# Guard against a recycled pid: it must be our binary.
	[[ "$(readlink "/proc/$pid/exe" 2>/dev/null || true)" == "$BIN"* ]] || return 0
	echo "$pid"
}

health_code() { # prints the HTTP status of GET $1/v1/sys/health
	local url="$1/v1/sys/health"
	if command -v curl >/dev/null; then
		curl -s -o /dev/null -m 2 -w '%{http_code}' "$url" || true
	else
		local hostport="${1#http://}"
		(
			exec 3<>"/dev/tcp/${hostport%:*}/${hostport##*:}" || exit 0
			printf 'GET /v1/sys/health HTTP/1.0\r\nHost: %s\r\n\r\n' "$hostport" >&3
			timeout 2 head -n1 <&3 | awk '{print $2}'
		) 2>/dev/null || true
	fi
}

stop() {
	local pid
	pid="$(running_pid)"
	if [[ -n "$pid" ]]; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
		if kill -0 "$pid" 2>/dev/null; then
			log "pid $pid did not exit on SIGTERM; sending SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
		fi
		log "stopped (pid $pid)"
	fi
	rm -f "$PIDFILE" "$ADDRFILE"
}

start() {
	build
	if [[ -n "$(running_pid)" ]]; then
		log "an instance is already running; restarting it for a fresh, empty Vault"
		stop
	fi
	: >"$LOG"
	# setsid: a Ctrl-C aimed at the caller's terminal must not kill it.
	setsid "$BIN" -addr 127.0.0.1:0 "$@" >"$LOG" 2>&1 </dev/null &
	local pid=$! timeout="${VAULT_DEV_START_TIMEOUT:-60}" addr="" code=""
	local deadline=$((SECONDS + timeout))
	while ((SECONDS < deadline)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			log "vault-dev exited during startup; log tail ($LOG):"
			tail -n 40 "$LOG" >&2 || true
			exit 1
		fi
		if [[ -z "$addr" ]]; then
			addr="$(sed -n 's/^VAULT_ADDR=//p' "$LOG" | tail -n1)"
		fi
		if [[ -n "$addr" ]]; then
			code="$(health_code "$addr")"
			[[ "$code" == 200 ]] && break
		fi
		sleep 0.2
	done
	if [[ "$code" != 200 ]]; then
		kill -KILL "$pid" 2>/dev/null || true
		log "vault-dev not healthy after ${timeout}s (addr=${addr:-none}, last /v1/sys/health status=${code:-none}); log tail ($LOG):"
		tail -n 40 "$LOG" >&2 || true
		exit 1
	fi
	echo "$pid" >"$PIDFILE"
	echo "$addr" >"$ADDRFILE"
	log "running (pid $pid, token ${VAULT_DEV_ROOT_TOKEN_ID:-root}, log $LOG); stop with: scripts/vault-dev.sh stop"
	echo "VAULT_ADDR=$addr"
}

status() {
	local pid
	pid="$(running_pid)"
	[[ -n "$pid" ]] || die "not running"
	echo "VAULT_ADDR=$(cat "$ADDRFILE")"
}

cmd="${1:-}"
shift || true
case "$cmd" in
build) build ;;
run)
	build
	exec "$BIN" "$@"
	;;
start) start "$@" ;;
stop) stop ;;
status) status ;;
*)
	sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
