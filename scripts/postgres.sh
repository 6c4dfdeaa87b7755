#!/usr/bin/env bash
# Starts a throwaway PostgreSQL for the tests and prints the lines that point them at it:
#
#   eval "$(scripts/postgres.sh start)"   # sets GATEHOUSE_TEST_POSTGRES and GATEHOUSE_PG_DIR
#   scripts/postgres.sh stop "$GATEHOUSE_PG_DIR"
#   scripts/postgres.sh restart "$GATEHOUSE_PG_DIR"   # (fault tests)
#
# Installs Debian's `postgresql` package when no server is installed (as root, once).
# The cluster lives in a fresh directory under /tmp, listens on loopback only, trusts
# local connections, and runs with fsync off: it holds test data and nothing else. As
# root, the server runs as the `postgres` user (PostgreSQL refuses to run as root).
# When GATEHOUSE_TEST_POSTGRES is already set, nothing is started: tests use that one.
set -euo pipefail

# Below the kernel's ephemeral range (32768-60999), where a client socket could hold it.
port="${GATEHOUSE_PG_PORT:-25432}"

server_bin() {
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)"
  if [ -z "$dir" ] || [ ! -x "$dir/initdb" ]; then
    if [ "$(id -u)" != 0 ]; then
      echo "postgres.sh: no PostgreSQL server installed; install Debian's postgresql package" >&2
      exit 1
    fi
    echo "postgres.sh: installing PostgreSQL (Debian package)" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >&2
    dir="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)"
  fi
  echo "$dir"
}

# Runs a server command as the user that may run it.
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

start() {
  if [ -n "${GATEHOUSE_TEST_POSTGRES:-}" ]; then
    echo "export GATEHOUSE_TEST_POSTGRES='$GATEHOUSE_TEST_POSTGRES'"
    return
  fi
  local bin dir
  # The first free port from the preferred one on (a stale test server may hold it).
  while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    port=$((port + 1))
  done
  bin="$(server_bin)"
  dir="$(mktemp -d /tmp/gatehouse-pg.XXXXXX)"
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  as_owner "$bin/initdb" -D "$dir/data" -A trust -U postgres --no-sync >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log" >&2
    rm -rf "$dir"
    exit 1
  }
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" \
    start >&2 || {
    cat "$dir/server.log" >&2
    rm -rf "$dir"
    exit 1
  }
  echo "export GATEHOUSE_PG_DIR='$dir'"
  echo "export GATEHOUSE_PG_BIN='$bin'"
  echo "export GATEHOUSE_TEST_POSTGRES='postgres://postgres@127.0.0.1:$port/postgres'"
}

stop() {
  local dir="${1:-}" bin
  [ -n "$dir" ] && [ -d "$dir/data" ] || return 0
  bin="$(server_bin)"
  as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}

restart() {
  local dir="${1:-}" bin
  [ -n "$dir" ] && [ -d "$dir/data" ] || { echo "postgres.sh: no cluster in '$dir'" >&2; exit 1; }
  bin="$(server_bin)"
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -m fast -w -t 30 restart >&2
}

case "${1:-}" in
  start) start ;;
  stop) stop "${2:-}" ;;
  restart) restart "${2:-}" ;;
  *)
    echo "usage: scripts/postgres.sh start | stop DIR | restart DIR" >&2
    exit 64
    ;;
esac
