# shellcheck shell=bash
# Helpers shared by scripts/demo.sh and scripts/test.sh.  Source it, don't run it.
#
#   itemcf_install_deps    apt-get the Debian packages the build and the tests need (skips if present)
#   itemcf_build           make WERROR=1 && make install, against PostgreSQL $ITEMCF_PG_MAJOR
#   itemcf_cluster_start   start a throwaway PostgreSQL cluster under <checkout>/.pg
#                          (socket only, never the system cluster) and export PGHOST/PGPORT/PGUSER;
#                          the server is stopped again when the calling script exits
#   itemcf_cluster_stop    stop that cluster if it is running
#
# Knobs: ITEMCF_PGPORT (default 54315); ITEMCF_PG_MAJOR (default 15: the PostgreSQL major version
# to build and test against, from Debian's packages); ITEMCF_PGBIN (default
# /usr/lib/postgresql/$ITEMCF_PG_MAJOR/bin: the server and pg_config to build, install and test
# against, e.g. a relocated copy).

ITEMCF_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
ITEMCF_PG_MAJOR="${ITEMCF_PG_MAJOR:-15}"
ITEMCF_PGBIN="${ITEMCF_PGBIN:-/usr/lib/postgresql/$ITEMCF_PG_MAJOR/bin}"
export ITEMCF_PG_MAJOR ITEMCF_PGBIN
ITEMCF_PGPORT="${ITEMCF_PGPORT:-54315}"
export PATH="$ITEMCF_PGBIN:$PATH"

# itemcf_deb_packages MAJOR: everything the build, the demo and every test suite need for
# PostgreSQL MAJOR, from the Debian release that ships it (12 bookworm: 15; trixie: 17; forky: 18)
itemcf_deb_packages() {
    local m="$1"
    echo postgresql-"$m" postgresql-server-dev-"$m" \
        postgresql-"$m"-pgtap postgresql-"$m"-cron libtap-parser-sourcehandler-pgtap-perl \
        make gcc binutils clang libclang-rt-dev valgrind \
        util-linux \
        python3-sklearn python3-scipy python3-numpy \
        ca-certificates
}
# shellcheck disable=SC2207
ITEMCF_DEB_PACKAGES=($(itemcf_deb_packages "$ITEMCF_PG_MAJOR"))

itemcf_log() { printf '[itemcf] %s\n' "$*"; }
itemcf_die() { printf '[itemcf] error: %s\n' "$*" >&2; exit 1; }

# Run a command as root: directly if we are root, through sudo otherwise.
itemcf_as_root() {
    if [[ $EUID -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        itemcf_die "'$*' needs root, and sudo is not installed; run this script as root"
    fi
}

itemcf_install_deps() {
    local pkg missing=()
    for pkg in "${ITEMCF_DEB_PACKAGES[@]}"; do
        if [[ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null)" != installed ]]; then
            missing+=("$pkg")
        fi
    done
    if [[ ${#missing[@]} -eq 0 ]]; then
        return 0
    fi
    itemcf_log "installing missing Debian packages: ${missing[*]}"
    itemcf_as_root apt-get update
    itemcf_as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends "${missing[@]}"
}

itemcf_build() {
    local pg_config="$ITEMCF_PGBIN/pg_config"
    itemcf_log "building itemcf (warnings are errors)"
    # Explicit returns: callers may run this in an `if`, where set -e does not apply.
    make -C "$ITEMCF_ROOT" -j"$(nproc)" WERROR=1 PG_CONFIG="$pg_config" || return 1
    itemcf_log "installing itemcf into $("$pg_config" --pkglibdir) and $("$pg_config" --sharedir)/extension"
    itemcf_as_root make -C "$ITEMCF_ROOT" install PG_CONFIG="$pg_config" || return 1
}

# --- throwaway cluster -------------------------------------------------------------------------

# Run a command as the OS user that owns the cluster.  PostgreSQL refuses to run as root, so as
# root that is the `postgres` user (created by the postgresql package).  `cd /` because the
# caller's working directory may not be readable by that user.
itemcf__as_cluster_user() {
    if [[ $EUID -eq 0 ]]; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

# Choose where the cluster lives and export the connection variables.
itemcf__cluster_paths() {
    [[ -n "${ITEMCF__PATHS_SET:-}" ]] && return 0
    ITEMCF__PATHS_SET=1
    ITEMCF_PGBASE="$ITEMCF_ROOT/.pg"
    local why=""
    if [[ $EUID -eq 0 ]]; then
        id -u postgres >/dev/null 2>&1 ||
            itemcf_die "no 'postgres' OS user to run the cluster as (is postgresql-$ITEMCF_PG_MAJOR installed?)"
        # A checkout under e.g. /root (mode 700) is not reachable by postgres.
        if ! runuser -u postgres -- test -x "$ITEMCF_ROOT"; then
            why="$ITEMCF_ROOT is not reachable by the postgres user"
        fi
    fi
    # A Unix socket path must fit in 107 bytes.
    local sock_file="$ITEMCF_PGBASE/sock/.s.PGSQL.$ITEMCF_PGPORT"
    if [[ -z "$why" && ${#sock_file} -gt 100 ]]; then
        why="the checkout path is too long for a Unix socket"
    fi
    if [[ -n "$why" ]]; then
        local hash
        hash="$(printf '%s' "$ITEMCF_ROOT" | sha256sum | cut -c1-10)"
        ITEMCF_PGBASE="${TMPDIR:-/tmp}/itemcf-pg-$hash"
        itemcf_log "$why; the cluster lives in $ITEMCF_PGBASE"
    fi
    ITEMCF_PGDATA="$ITEMCF_PGBASE/data"
    ITEMCF_PGSOCK="$ITEMCF_PGBASE/sock"
    ITEMCF_PGLOG="$ITEMCF_PGBASE/log"
    export ITEMCF_PGBASE ITEMCF_PGDATA ITEMCF_PGSOCK ITEMCF_PGLOG
    export PGHOST="$ITEMCF_PGSOCK" PGPORT="$ITEMCF_PGPORT" PGUSER=postgres
    unset PGDATABASE PGPASSWORD PGSERVICE PGHOSTADDR
}

# Print the postmaster's PID if a server is really running on our data dir.  A postmaster.pid
# left by a killed server (or whose PID now belongs to another process) is removed, with any
# stale socket lock, so that it can't stop the next start.
itemcf__running_pid() {
    local pidfile="$ITEMCF_PGDATA/postmaster.pid" pid stat
    [[ -f "$pidfile" ]] || return 1
    pid="$(head -n1 "$pidfile" 2>/dev/null || true)"
    # /proc/PID/stat is "PID (COMM) STATE ...": a live (not zombie) postgres process.
    if [[ "$pid" =~ ^[0-9]+$ ]] && stat="$(cat "/proc/$pid/stat" 2>/dev/null)" \
            && [[ "$stat" =~ ^[0-9]+\ \((postgres|postmaster)\)\ [^Z] ]]; then
        echo "$pid"
        return 0
    fi
    rm -f "$pidfile" "$ITEMCF_PGSOCK"/.s.PGSQL.*
    return 1
}

itemcf__write_conf() {
    cat >"$ITEMCF_PGDATA/itemcf.conf" <<EOF
# Written by scripts/lib.sh on every start of the throwaway test cluster.
shared_preload_libraries = 'pg_cron'
cron.database_name = 'postgres'
cron.use_background_workers = on
max_worker_processes = 32
max_parallel_workers_per_gather = 2
max_parallel_workers = 8
fsync = off
synchronous_commit = off
full_page_writes = off
listen_addresses = ''
unix_socket_directories = '$ITEMCF_PGSOCK'
port = $ITEMCF_PGPORT
log_min_messages = warning
# the suites run builds on up to 3 threads, whatever the number of cores
itemcf.max_threads = $(( $(nproc) > 4 ? $(nproc) : 4 ))
EOF
    if [[ $EUID -eq 0 ]]; then chown postgres: "$ITEMCF_PGDATA/itemcf.conf"; fi
}

itemcf_cluster_start() {
    itemcf__cluster_paths
    mkdir -p "$ITEMCF_PGBASE"
    if [[ $EUID -eq 0 ]]; then chown postgres: "$ITEMCF_PGBASE"; fi
    itemcf__as_cluster_user mkdir -p "$ITEMCF_PGSOCK"

    if [[ ! -f "$ITEMCF_PGDATA/PG_VERSION" ]]; then
        itemcf_log "creating throwaway cluster in $ITEMCF_PGDATA"
        rm -rf "$ITEMCF_PGDATA"      # a half-made data dir from an interrupted initdb
        itemcf__as_cluster_user "$ITEMCF_PGBIN/initdb" -D "$ITEMCF_PGDATA" \
            --auth=trust --username=postgres -E UTF8 --locale=C >/dev/null
        echo "include_if_exists = 'itemcf.conf'" >>"$ITEMCF_PGDATA/postgresql.conf"
    fi
    itemcf__write_conf

    # A server left running by an interrupted run: restart it so that it reads the current config.
    local pid
    if pid="$(itemcf__running_pid)"; then
        itemcf_log "stopping a server left running by an earlier run (pid $pid)"
        itemcf_cluster_stop
    fi

    trap itemcf__on_exit EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    itemcf_log "starting PostgreSQL $ITEMCF_PG_MAJOR on socket $ITEMCF_PGSOCK, port $ITEMCF_PGPORT"
    if ! itemcf__as_cluster_user "$ITEMCF_PGBIN/pg_ctl" -D "$ITEMCF_PGDATA" -l "$ITEMCF_PGLOG" \
            -w -t 120 start >/dev/null; then
        echo "---- last lines of $ITEMCF_PGLOG ----" >&2
        tail -n 30 "$ITEMCF_PGLOG" >&2 || true
        itemcf_die "the PostgreSQL server did not start"
    fi
}

itemcf_cluster_stop() {
    itemcf__cluster_paths
    itemcf__running_pid >/dev/null || return 0
    itemcf_log "stopping PostgreSQL"
    if ! itemcf__as_cluster_user "$ITEMCF_PGBIN/pg_ctl" -D "$ITEMCF_PGDATA" -m fast -w -t 60 \
            stop >/dev/null; then
        itemcf__as_cluster_user "$ITEMCF_PGBIN/pg_ctl" -D "$ITEMCF_PGDATA" -m immediate -w \
            stop >/dev/null || true
    fi
}

itemcf__on_exit() {
    local rc=$?
    itemcf_cluster_stop || true
    return $rc
}
