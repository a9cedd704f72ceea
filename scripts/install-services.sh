#!/usr/bin/env bash
# Installs the server binaries the integration tests start themselves, from Debian packages: PostgreSQL (the
# loader's tests, and the metadata database of the Celery test), Redis (the Celery test's broker) and Chromium (the
# UI tests drive it through Playwright; Playwright's own browser download is never used).
# The tests start and stop their own throwaway servers on 127.0.0.1; nothing is left running.
set -euo pipefail
missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
[ -x /usr/bin/chromium ] || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # the packages' own services are not used (the tests start their own servers); stop any the install started
    if command -v service >/dev/null 2>&1; then
      for name in "${missing[@]}"; do [ "$name" = chromium ] || service "$name" stop >/dev/null 2>&1 || true; done
    fi
  else
    echo "Missing server binaries: run 'sudo apt-get install ${missing[*]}' (tests needing them are skipped)" >&2
  fi
fi
