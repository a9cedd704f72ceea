#!/usr/bin/env bash
# Installs the server binaries the integration tests start themselves (PostgreSQL from Debian packages).
# The tests start and stop their own throwaway servers on 127.0.0.1; nothing is left running.
set -euo pipefail
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  else
    echo "PostgreSQL server binaries are missing: run 'sudo apt-get install postgresql' (tests needing it are skipped)" >&2
  fi
fi
