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

pg_as_postgres_in() {
  # Run the SQL on stdin as the postgres superuser, connected to database $1.
  if [ "$(id -u)" = 0 ]; then
    su postgres -s /bin/sh -c "psql -X -q -v ON_ERROR_STOP=1 -h $(pg_socket_dir) -d \"\$0\"" "$1"
  else
    sudo -u postgres psql -X -q -v ON_ERROR_STOP=1 -h "$(pg_socket_dir)" -d "$1"
  fi
}

pg_role_url() {
  # A DATABASE_URL for role $1 on database $2, checked by connecting: the Unix socket when the
  # server lets the role in there (trust), else a fresh random password over TCP 127.0.0.1
  # (peer authentication admits only OS users on the socket).
  local role="$1" db="$2" password
  if psql -X -q -w -h "$(pg_socket_dir)" -U "$role" -d "$db" -c 'SELECT 1' >/dev/null 2>&1; then
    echo "postgres://${role}@/${db}?host=$(pg_socket_dir)"
    return 0
  fi
  password="$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  pg_as_postgres "ALTER ROLE \"${role}\" PASSWORD '${password}';" >/dev/null
  if ! PGPASSWORD="$password" psql -X -q -w -h 127.0.0.1 -U "$role" -d "$db" -c 'SELECT 1' >/dev/null; then
    echo "role ${role} cannot connect to ${db} (socket or TCP)" >&2
    return 1
  fi
  echo "postgres://${role}:${password}@127.0.0.1:5432/${db}"
}
