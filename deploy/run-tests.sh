#!/usr/bin/env bash
# Runs every test tier (unit, property, functional, integration) against a real Apache Kafka broker
# started here on its own ports and data directory, so a developer's broker on 9092 is untouched.
# The broker is stopped on exit, pass or fail. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

export DIXIAN_KAFKA_BOOTSTRAP="${DIXIAN_TEST_KAFKA_BOOTSTRAP:-127.0.0.1:19092}"
export DIXIAN_KAFKA_CONTROLLER_PORT="${DIXIAN_TEST_KAFKA_CONTROLLER_PORT:-19093}"
export DIXIAN_KAFKA_DIR="$PWD/var/test/kafka"
export DIXIAN_DATA_DIR="$PWD/var/test/data"

stop_broker() { dixian kafka stop || true; }
trap stop_broker EXIT

dixian kafka start --fresh
rm -rf "$DIXIAN_DATA_DIR"
python -m pytest tests "$@"
