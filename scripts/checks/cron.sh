#!/usr/bin/env bash
# Check: pg_cron can rebuild the models on a schedule.  In the running test cluster
# (PGHOST/PGPORT/PGUSER from scripts/lib.sh, pg_cron preloaded, cron.database_name =
# 'postgres'): create pg_cron in the cron database, (re)install itemcf in the database
# itemcf_cron (created if missing; it survives the run), put purchases in itemcf_purchases,
# schedule `SELECT itemcf_rebuild()` there every minute with cron.schedule_in_database, and
# wait (up to ITEMCF_CRON_TIMEOUT seconds, default 150) for a succeeded run both in
# itemcf_runs and in cron.job_run_details.  The job is unscheduled in every case.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export PATH="${ITEMCF_PGBIN:-/usr/lib/postgresql/15/bin}:$PATH"

DB=itemcf_cron
JOB="itemcf_cron_check_$$"
TIMEOUT="${ITEMCF_CRON_TIMEOUT:-150}"
JOBID=""

q() { psql -X -q -A -t -v ON_ERROR_STOP=1 "$@"; }
say() { printf 'cron check: %s\n' "$*"; }

if ! q -d postgres -c 'SELECT 1' >/dev/null; then
    say "cannot connect to the server (PGHOST=${PGHOST:-} PGPORT=${PGPORT:-})"
    exit 1
fi
if [[ "$(q -d postgres -c 'SHOW shared_preload_libraries')" != *pg_cron* ]]; then
    say "pg_cron is not in shared_preload_libraries"
    exit 1
fi
CRON_DB="$(q -d postgres -c 'SHOW cron.database_name')"
q -d "$CRON_DB" -c 'SET client_min_messages = warning' -c 'CREATE EXTENSION IF NOT EXISTS pg_cron'

unschedule() {
    if [[ -n "$JOBID" ]]; then
        q -d "$CRON_DB" -c "SELECT cron.unschedule($JOBID)" >/dev/null 2>&1 ||
            say "warning: could not unschedule job $JOBID"
        JOBID=""
    fi
}
trap unschedule EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# jobs left by an interrupted earlier run
q -d "$CRON_DB" -c "SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname LIKE 'itemcf\\_cron\\_check\\_%'" >/dev/null

if [[ -z "$(q -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")" ]]; then
    q -d postgres -c "CREATE DATABASE $DB"
fi
# a fresh itemcf (the database outlives builds of the extension) with 300 users' purchases
q -d "$DB" -c 'SET client_min_messages = warning' -c 'DROP EXTENSION IF EXISTS itemcf CASCADE' \
    -c 'CREATE EXTENSION itemcf' \
    -c "INSERT INTO itemcf_purchases (user_id, item_id)
        SELECT u, (u * 7 + j * j) % 60 FROM generate_series(1, 300) u, generate_series(1, 6) j"

START="$(q -d "$CRON_DB" -c 'SELECT now()')"
JOBID="$(q -d "$CRON_DB" -c "SELECT cron.schedule_in_database('$JOB', '* * * * *', 'SELECT itemcf_rebuild()', '$DB')")"
say "scheduled job $JOBID ('$JOB': SELECT itemcf_rebuild() in $DB every minute); waiting up to ${TIMEOUT}s"

deadline=$((SECONDS + TIMEOUT))
while :; do
    cron_ok="$(q -d "$CRON_DB" -c "SELECT count(*) FROM cron.job_run_details
                                    WHERE jobid = $JOBID AND status = 'succeeded' AND start_time >= '$START'")"
    cron_failed="$(q -d "$CRON_DB" -c "SELECT return_message FROM cron.job_run_details
                                        WHERE jobid = $JOBID AND status = 'failed' LIMIT 1")"
    runs_ok="$(q -d "$DB" -c "SELECT count(*) FROM itemcf_runs WHERE model = 'default' AND status = 'succeeded'")"
    if [[ -n "$cron_failed" ]]; then
        say "FAILED: the job failed: $cron_failed"
        exit 1
    fi
    if [[ "$cron_ok" -gt 0 && "$runs_ok" -gt 0 ]]; then
        break
    fi
    if ((SECONDS >= deadline)); then
        say "FAILED: no succeeded run within ${TIMEOUT}s"
        say "cron.job_run_details:"
        q -d "$CRON_DB" -c "SELECT status, return_message, start_time FROM cron.job_run_details WHERE jobid = $JOBID" || true
        say "itemcf_runs:"
        q -d "$DB" -c "SELECT model, status, error FROM itemcf_runs" || true
        exit 1
    fi
    sleep 3
done

summary="$(q -d "$DB" -F ' ' -c "SELECT 'users', users, 'items', items, 'entries', entries_written
                                  FROM itemcf_runs WHERE model = 'default' AND status = 'succeeded'
                                  ORDER BY run_id DESC LIMIT 1")"
served="$(q -d "$DB" -c "SELECT count(*) FROM itemcf_similarities WHERE model = 'default'")"
unschedule
if [[ "$served" -eq 0 ]]; then
    say "FAILED: the run succeeded but itemcf_similarities is empty"
    exit 1
fi
say "ok: pg_cron ran itemcf_rebuild() in $DB (${summary}); $served similarities served; job unscheduled"
