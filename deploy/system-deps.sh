#!/usr/bin/env bash
# Debian packages the test suite uses, installed only when missing: PostgreSQL (the alert store's
# production database), Chromium (the officers' page is tested in a real headless browser) and
# Prometheus (its promtool checks the alerting rules in deploy/prometheus/), systemd's unit checker
# and OpenSSL (the test CA of the secured cluster).
# Needs root or sudo; prints what to run otherwise.
set -euo pipefail

missing=()
ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1 || missing+=(postgresql)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || missing+=(fonts-noto-cjk)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)  # promtool checks deploy/prometheus/
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)  # verifies deploy/systemd/
command -v openssl >/dev/null 2>&1 || missing+=(openssl)  # the secured cluster's test CA
[[ ${#missing[@]} -eq 0 ]] && exit 0

SUDO=""
if [[ "$(id -u)" != 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "missing Debian packages: ${missing[*]} — install them as root: apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi
echo "installing Debian packages: ${missing[*]} ..." >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/dixian-apt.log 2>&1 \
  || { $SUDO apt-get update -q >/tmp/dixian-apt.log 2>&1 && \
       $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >>/tmp/dixian-apt.log 2>&1; } \
  || { tail -20 /tmp/dixian-apt.log >&2; exit 1; }
