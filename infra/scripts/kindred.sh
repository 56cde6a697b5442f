#!/usr/bin/env bash
# The two commands of the quick start, and their shared bootstrap:
#   npm start  -> kindred.sh start    (install, infrastructure, migrate, build, run all seven)
#   npm test   -> kindred.sh test     (install, infrastructure, lint, typecheck, proto, tests)
# Works as root on a fresh Debian 12 machine that has only Node.js 20 and npm.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

export DATABASE_URL="${DATABASE_URL:-postgres://postgres:postgres@127.0.0.1:5432/postgres}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
export NATS_URL="${NATS_URL:-nats://127.0.0.1:4222}"
export GATEWAY_PORT="${GATEWAY_PORT:-8080}"
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1 TURBO_NO_UPDATE_NOTIFIER=1

say() { printf '\033[1mkindred\033[0m | %s\n' "$*"; }
die() { say "error: $*" >&2; exit 1; }

# --- toolchain: Node 24 and pnpm, project-local, from the npm registry -------------------------
TOOLCHAIN="$ROOT/infra/toolchain"
ensure_toolchain() {
  local want_node want_pnpm
  want_node="v$(sed -n 's/.*"node": "\(.*\)".*/\1/p' "$TOOLCHAIN/package.json")"
  want_pnpm="$(sed -n 's/.*"pnpm": "\(.*\)".*/\1/p' "$TOOLCHAIN/package.json")"
  if [[ ! -x "$TOOLCHAIN/node_modules/.bin/node" ]] ||
    [[ "$("$TOOLCHAIN/node_modules/.bin/node" -v 2>/dev/null)" != "$want_node" ]] ||
    [[ "$("$TOOLCHAIN/node_modules/.bin/pnpm" -v 2>/dev/null)" != "$want_pnpm" ]]; then
    command -v npm >/dev/null || die "npm is required (install Node.js and npm first)"
    say "installing Node $want_node and pnpm $want_pnpm into infra/toolchain"
    npm ci --prefix "$TOOLCHAIN" --no-audit --no-fund --loglevel=error
  fi
  export PATH="$TOOLCHAIN/node_modules/.bin:$PATH"
  [[ "$(node -v)" == "$want_node" ]] || die "expected Node $want_node on PATH, got $(node -v)"
}

ensure_workspace() {
  say "installing the workspace (pnpm install)"
  pnpm install --frozen-lockfile --reporter=append-only --loglevel=warn
}

# --- infrastructure: PostgreSQL 15, Redis 7, NATS with JetStream ---------------------------------
APT_UPDATED=0
apt_install() {
  command -v apt-get >/dev/null || die "cannot install $* (no apt-get): install it yourself"
  [[ "$(id -u)" == 0 ]] || die "installing $* needs root (or install it yourself)"
  if [[ "$APT_UPDATED" == 0 ]]; then
    apt-get update -qq
    APT_UPDATED=1
  fi
  say "installing $* from Debian's packages"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# host:port of a URL (defaults given), or empty when the URL is not on this machine.
local_endpoint() {
  local url="$1" default_port="$2" hostport host port
  hostport="${url#*://}"
  hostport="${hostport##*@}"
  hostport="${hostport%%/*}"
  hostport="${hostport%%,*}"
  host="${hostport%%:*}"
  port="${hostport##*:}"
  [[ "$port" == "$hostport" ]] && port="$default_port"
  case "$host" in 127.0.0.1 | localhost) echo "$port" ;; *) echo "" ;; esac
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  local name="$1" port="$2"
  for _ in $(seq 1 150); do
    port_open "$port" && return 0
    sleep 0.2
  done
  die "$name did not start listening on 127.0.0.1:$port"
}

ensure_postgres() {
  local port
  port="$(local_endpoint "$DATABASE_URL" 5432)"
  [[ -z "$port" ]] && return 0
  if ! port_open "$port"; then
    ls /etc/postgresql/*/main >/dev/null 2>&1 || apt_install postgresql postgresql-client
    say "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start || true
    wait_port PostgreSQL "$port"
  fi
  # A fresh Debian cluster asks for a password on TCP: give the default user the default one.
  if command -v psql >/dev/null && ! psql "$DATABASE_URL" -qAtc 'select 1' >/dev/null 2>&1; then
    if [[ "$(id -u)" == 0 ]] && id postgres >/dev/null 2>&1; then
      say "setting the local postgres user's password for $DATABASE_URL"
      local password
      password="$(node -e 'process.stdout.write(decodeURIComponent(new URL(process.argv[1]).password))' "$DATABASE_URL")"
      su postgres -c "psql -qc \"ALTER USER postgres PASSWORD '${password//\'/\'\'}'\"" >/dev/null
    fi
    psql "$DATABASE_URL" -qAtc 'select 1' >/dev/null || die "cannot connect to PostgreSQL at DATABASE_URL"
  fi
}

ensure_redis() {
  local port
  port="$(local_endpoint "$REDIS_URL" 6379)"
  [[ -z "$port" ]] && return 0
  port_open "$port" && return 0
  command -v redis-server >/dev/null || apt_install redis-server
  say "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save "" --appendonly no >/dev/null
  wait_port Redis "$port"
}

ensure_nats() {
  local port
  port="$(local_endpoint "$NATS_URL" 4222)"
  [[ -z "$port" ]] && return 0
  port_open "$port" && return 0
  [[ -x /usr/sbin/nats-server ]] || apt_install nats-server
  say "starting NATS with JetStream"
  mkdir -p /var/lib/nats-server
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
    -a 127.0.0.1 -p "$port" -js -sd /var/lib/nats-server
  wait_port NATS "$port"
}

ensure_infra() {
  ensure_postgres
  ensure_redis
  ensure_nats
}

build() {
  say "building"
  pnpm exec turbo run build --output-logs=errors-only
}

case "${1:-}" in
  start)
    ensure_toolchain
    ensure_workspace
    ensure_infra
    build
    exec node packages/supervisor/dist/cli.js
    ;;
  test)
    ensure_toolchain
    ensure_workspace
    ensure_infra
    say "lint and format (biome)"
    pnpm exec biome ci --reporter=summary .
    say "typecheck"
    pnpm exec turbo run typecheck --output-logs=errors-only
    say "proto: generated code, buf lint, buf breaking"
    bash infra/scripts/proto.sh check
    build
    say "unit and integration tests"
    results="$(mktemp)"
    pnpm exec turbo run test --concurrency=2 --output-logs=full | tee "$results"
    # One closing line for the whole suite, summed over every package's Vitest run.
    sed 's/\x1b\[[0-9;]*m//g' "$results" | awk '
      /Tests +[0-9]/ { for (i = 1; i <= NF; i++) {
        if ($(i + 1) ~ /^passed/) passed += $i
        if ($(i + 1) ~ /^failed/) failed += $i
        if ($(i + 1) ~ /^skipped/) skipped += $i } }
      END { printf "tests: %d passed, %d failed%s\n", passed, failed, skipped ? ", " skipped " skipped" : "" }'
    rm -f "$results"
    say "all checks passed"
    ;;
  migrate)
    ensure_toolchain
    ensure_workspace
    ensure_infra
    build
    for service in identity circles content moderation notifier; do
      (cd "services/$service" && node dist/main.js migrate)
    done
    ;;
  admin)
    # npm run admin -- grant-role <email> <role> | revoke-role <email> <role>
    shift
    ensure_toolchain
    ensure_workspace
    ensure_infra
    build
    cd services/identity
    node dist/main.js migrate >/dev/null
    exec node dist/main.js "$@"
    ;;
  *)
    echo "usage: $0 start|test|migrate|admin" >&2
    exit 64
    ;;
esac
