#!/usr/bin/env bash
# A throw-away PostgreSQL server for development and tests, from Debian's packages (no Docker):
#   deploy/postgres/pg.sh start    initdb on first use, start on 127.0.0.1:$PORT, create the database
#   deploy/postgres/pg.sh stop | status | url
# Environment: DIXIAN_PG_PORT (15432), DIXIAN_PG_DIR (/tmp/dixian-pg-$PORT), DIXIAN_PG_DB (dixian).
# Loopback only, trust authentication: a test server, never a production one (production passes its
# own server's URL in DIXIAN_SCREENING_DB). PostgreSQL refuses to run as root, so under root the
# server runs as the `postgres` account the Debian package creates.
set -euo pipefail

PORT="${DIXIAN_PG_PORT:-15432}"
DIR="${DIXIAN_PG_DIR:-/tmp/dixian-pg-$PORT}"
DB="${DIXIAN_PG_DB:-dixian}"
USER_NAME=dixian

find_bin() {
  if [[ -n "${PG_BIN:-}" ]]; then echo "$PG_BIN"; return; fi
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
  if [[ -z "$d" ]]; then
    echo "PostgreSQL server binaries not found: install them with 'apt-get install -y postgresql' (.ci/run does)" >&2
    exit 3
  fi
  echo "$d"
}

as_owner() {
  if [[ "$(id -u)" == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

url() { echo "postgresql://$USER_NAME@127.0.0.1:$PORT/$DB"; }

running() { [[ -f "$DIR/data/postmaster.pid" ]] && as_owner "$BIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; }

start() {
  if running; then echo "PostgreSQL already running on $PORT"; url; return; fi
  mkdir -p "$DIR"
  if [[ "$(id -u)" == 0 ]]; then chown postgres: "$DIR"; fi
  if [[ ! -f "$DIR/data/PG_VERSION" ]]; then
    as_owner "$BIN/initdb" -D "$DIR/data" -U "$USER_NAME" -A trust -E UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 \
      || { cat "$DIR/initdb.log" >&2; exit 1; }
  fi
  as_owner "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 start \
    -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    >/dev/null || { tail -20 "$DIR/server.log" >&2; exit 1; }
  if ! "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U "$USER_NAME" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$DB'" | grep -q 1; then
    "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U "$USER_NAME" "$DB"
  fi
  echo "PostgreSQL $("$BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT (data $DIR)" >&2
  url
}

stop() {
  if running; then as_owner "$BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null; echo "PostgreSQL stopped" >&2; fi
}

BIN="$(find_bin)"
case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) if running; then echo "running on $PORT"; else echo "stopped"; exit 1; fi ;;
  url) url ;;
  *) echo "usage: $0 start|stop|status|url" >&2; exit 2 ;;
esac
