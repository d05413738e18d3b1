#!/usr/bin/env bash
# Runs every test tier (unit, property, functional, integration, browser) against real services started
# here on their own ports and data directories — an Apache Kafka broker and a PostgreSQL server — so
# a developer's own broker (9092) and databases are untouched. Missing Debian packages (PostgreSQL,
# Chromium, a CJK font) are installed first. Services are stopped on exit, pass or fail.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

bash deploy/system-deps.sh

export DIXIAN_KAFKA_BOOTSTRAP="${DIXIAN_TEST_KAFKA_BOOTSTRAP:-127.0.0.1:19092}"
export DIXIAN_KAFKA_CONTROLLER_PORT="${DIXIAN_TEST_KAFKA_CONTROLLER_PORT:-19093}"
export DIXIAN_KAFKA_DIR="$PWD/var/test/kafka"
export DIXIAN_DATA_DIR="$PWD/var/test/data"
export DIXIAN_PG_PORT="${DIXIAN_TEST_PG_PORT:-15433}"
export DIXIAN_PG_DIR="/tmp/dixian-pg-test-$DIXIAN_PG_PORT"

stop_services() {
  dixian kafka stop || true
  bash deploy/postgres/pg.sh stop || true
}
trap stop_services EXIT

bash deploy/postgres/pg.sh stop >/dev/null 2>&1 || true
rm -rf "$DIXIAN_PG_DIR"
DIXIAN_TEST_POSTGRES_URL="$(bash deploy/postgres/pg.sh start)"
export DIXIAN_TEST_POSTGRES_URL
dixian kafka start --fresh
rm -rf "$DIXIAN_DATA_DIR"
python -m pytest tests "$@"
