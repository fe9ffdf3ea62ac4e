# Helpers to reach the machine's PostgreSQL 15 whatever its authentication (trust or peer).
# Sourced by .ci/run and the benchmarks' setup notes.

pg_socket_dir() { echo /var/run/postgresql; }

pg_as_postgres() {
  # Run one SQL statement as the postgres superuser over the Unix socket (peer or trust).
  if [ "$(id -u)" = 0 ]; then
    su postgres -s /bin/sh -c "psql -X -q -v ON_ERROR_STOP=1 -h $(pg_socket_dir) -d postgres -c \"\$0\"" "$1"
  else
    sudo -u postgres psql -X -q -v ON_ERROR_STOP=1 -h "$(pg_socket_dir)" -d postgres -c "$1"
  fi
}

pg_ensure_running() {
  if pg_isready -q -h "$(pg_socket_dir)"; then return 0; fi
  echo "PostgreSQL is down; starting it"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start
  for _ in $(seq 1 30); do
    pg_isready -q -h "$(pg_socket_dir)" && return 0
    sleep 1
  done
  echo "PostgreSQL did not come up" >&2
  return 1
}
