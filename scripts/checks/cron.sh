#!/usr/bin/env bash
# Check: pg_cron can rebuild the models on a schedule, and sees when a model failed.  In the
# running test cluster (PGHOST/PGPORT/PGUSER from scripts/lib.sh, pg_cron preloaded,
# cron.database_name = 'postgres'): create pg_cron in the cron database, (re)install itemcf
# in three databases (created if missing; they survive the run) and schedule, every minute
# with cron.schedule_in_database, so that all three run in the same minute:
#   itemcf_cron       SELECT itemcf_rebuild()                 (the one-transaction form)
#                     -> job succeeded, the default model built and served;
#   itemcf_cron_ok    CALL itemcf_rebuild_scheduled()          as a login role granted only
#                     EXECUTE on the procedure, two good models -> job succeeded, both built;
#   itemcf_cron_fail  CALL itemcf_rebuild_scheduled(time_limit => '1s')   a model whose view
#                     divides by zero, one that sleeps past the limit, and a good one
#                     -> job failed, return_message names the two failed models (not the
#                     good one), and the good model was committed and serves.
# Waits up to ITEMCF_CRON_TIMEOUT seconds (default 150) for one finished run of each job.
# The jobs are unscheduled in every case.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export PATH="${ITEMCF_PGBIN:-/usr/lib/postgresql/15/bin}:$PATH"

DB=itemcf_cron
DB_OK=itemcf_cron_ok
DB_FAIL=itemcf_cron_fail
RUNNER=itemcf_cron_runner
JOB="itemcf_cron_check_$$"
TIMEOUT="${ITEMCF_CRON_TIMEOUT:-150}"
JOBIDS=()

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
    local id
    for id in "${JOBIDS[@]}"; do
        q -d "$CRON_DB" -c "SELECT cron.unschedule($id)" >/dev/null 2>&1 ||
            say "warning: could not unschedule job $id"
    done
    JOBIDS=()
}
trap unschedule EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# jobs left by an interrupted earlier run
q -d "$CRON_DB" -c "SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname LIKE 'itemcf\\_cron\\_check\\_%'" >/dev/null

# the role of the scheduled procedure: it may log in (a pg_cron worker connects as it) and
# gets nothing but EXECUTE on itemcf_rebuild_scheduled
if [[ -z "$(q -d postgres -c "SELECT 1 FROM pg_roles WHERE rolname = '$RUNNER'")" ]]; then
    q -d postgres -c "CREATE ROLE $RUNNER LOGIN"
fi

# a fresh itemcf (the databases outlive builds of the extension) with 300 users' purchases
for db in "$DB" "$DB_OK" "$DB_FAIL"; do
    if [[ -z "$(q -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]]; then
        q -d postgres -c "CREATE DATABASE $db"
    fi
    q -d "$db" -c 'SET client_min_messages = warning' -c 'DROP EXTENSION IF EXISTS itemcf CASCADE' \
        -c 'DROP TABLE IF EXISTS shop CASCADE' \
        -c 'CREATE EXTENSION itemcf' \
        -c "INSERT INTO itemcf_purchases (user_id, item_id)
            SELECT u, (u * 7 + j * j) % 60 FROM generate_series(1, 300) u, generate_series(1, 6) j"
done
q -d "$DB_OK" -c 'SET client_min_messages = warning' \
    -c 'CREATE TABLE shop (user_id bigint, item_id bigint)' -c 'CREATE INDEX ON shop (user_id)' \
    -c 'INSERT INTO shop SELECT user_id, item_id + 1000 FROM itemcf_purchases' \
    -c "SELECT itemcf_register_model('shop', 'shop', k => 10)" \
    -c "GRANT EXECUTE ON PROCEDURE itemcf_rebuild_scheduled(text, interval) TO $RUNNER" >/dev/null
q -d "$DB_FAIL" -c 'SET client_min_messages = warning' \
    -c 'CREATE TABLE shop (user_id bigint, item_id bigint)' -c 'CREATE INDEX ON shop (user_id)' \
    -c 'INSERT INTO shop SELECT user_id, item_id FROM itemcf_purchases' \
    -c 'CREATE VIEW shop_bad AS SELECT user_id, item_id / (user_id - user_id) AS item_id FROM shop' \
    -c 'CREATE VIEW shop_slow AS SELECT user_id, item_id FROM shop WHERE (SELECT pg_sleep(60)) IS NOT NULL' \
    -c "SELECT itemcf_register_model('good', 'shop'), itemcf_register_model('bad', 'shop_bad'),
               itemcf_register_model('slow', 'shop_slow')" >/dev/null

START="$(q -d "$CRON_DB" -c 'SELECT now()')"
schedule() {   # schedule NAME COMMAND DATABASE [USER] -> job id
    local user="${4:+, '$4'}"
    q -d "$CRON_DB" -c "SELECT cron.schedule_in_database('$JOB$1', '* * * * *', \$cmd\$$2\$cmd\$, '$3'$user)"
}
JOB_ONE="$(schedule _one 'SELECT itemcf_rebuild()' "$DB")";                                JOBIDS+=("$JOB_ONE")
JOB_OK="$(schedule _ok 'CALL itemcf_rebuild_scheduled()' "$DB_OK" "$RUNNER")";              JOBIDS+=("$JOB_OK")
JOB_FAIL="$(schedule _fail "CALL itemcf_rebuild_scheduled(time_limit => '1s')" "$DB_FAIL")"; JOBIDS+=("$JOB_FAIL")
say "scheduled jobs $JOB_ONE (itemcf_rebuild() in $DB), $JOB_OK (the procedure in $DB_OK as $RUNNER)" \
    "and $JOB_FAIL (the procedure in $DB_FAIL, two failing models); waiting up to ${TIMEOUT}s"

# status of the first run of a job since START ('' while none has finished)
status() {
    q -d "$CRON_DB" -c "SELECT status FROM cron.job_run_details
                        WHERE jobid = $1 AND start_time >= '$START' AND status IN ('succeeded', 'failed')
                        ORDER BY start_time LIMIT 1"
}
message() {
    q -d "$CRON_DB" -c "SELECT return_message FROM cron.job_run_details
                        WHERE jobid = $1 AND start_time >= '$START' AND status IN ('succeeded', 'failed')
                        ORDER BY start_time LIMIT 1"
}
deadline=$((SECONDS + TIMEOUT))
while :; do
    s_one="$(status "$JOB_ONE")" s_ok="$(status "$JOB_OK")" s_fail="$(status "$JOB_FAIL")"
    if [[ -n "$s_one" && -n "$s_ok" && -n "$s_fail" ]]; then
        break
    fi
    if ((SECONDS >= deadline)); then
        say "FAILED: not every job finished a run within ${TIMEOUT}s"
        say "cron.job_run_details:"
        q -d "$CRON_DB" -c "SELECT jobid, status, return_message, start_time FROM cron.job_run_details
                            WHERE jobid IN ($JOB_ONE, $JOB_OK, $JOB_FAIL)" || true
        exit 1
    fi
    sleep 2
done
unschedule

fail=0
bad() { say "FAILED: $*"; fail=1; }
# served MODEL DB: the number of similarities the model serves
served() { q -d "$2" -c "SELECT count(*) FROM itemcf_similarities WHERE model = '$1'"; }
# run DB MODEL: status and error of the model's last run
run() { q -d "$1" -c "SELECT status || coalesce(': ' || error, '') FROM itemcf_runs WHERE model = '$2' ORDER BY run_id DESC LIMIT 1"; }

# 1. itemcf_rebuild(): the job succeeded and the default model serves
[[ "$s_one" == succeeded ]] || bad "SELECT itemcf_rebuild() job $s_one: $(message "$JOB_ONE")"
[[ "$(run "$DB" default)" == succeeded ]] || bad "itemcf_rebuild() in $DB: default $(run "$DB" default)"
[[ "$(served default "$DB")" -gt 0 ]] || bad "itemcf_rebuild() in $DB: the default model serves nothing"

# 2. the procedure, every model good, as the granted role: the job succeeded, both built
[[ "$s_ok" == succeeded ]] || bad "CALL itemcf_rebuild_scheduled() job in $DB_OK $s_ok: $(message "$JOB_OK")"
for m in default shop; do
    [[ "$(run "$DB_OK" "$m")" == succeeded ]] || bad "procedure in $DB_OK: model $m $(run "$DB_OK" "$m")"
    [[ "$(served "$m" "$DB_OK")" -gt 0 ]] || bad "procedure in $DB_OK: model $m serves nothing"
done

# 3. the procedure with two failing models: the job failed, naming them; the good ones committed
msg="$(message "$JOB_FAIL")"
[[ "$s_fail" == failed ]] || bad "CALL itemcf_rebuild_scheduled() job in $DB_FAIL $s_fail, not failed: $msg"
first_line="${msg%%$'\n'*}"
[[ "$first_line" == *'2 of 4 models failed to rebuild: "bad", "slow"'* ]] ||
    bad "the failed job's message does not name the failed models: $msg"
[[ "$first_line" != *good* && "$first_line" != *default* ]] || bad "the failed job's message names a good model: $msg"
[[ "$msg" == *'Model "bad": reading the source failed: division by zero.'* && "$msg" == *'Model "slow": canceled after the time limit of 1s.'* ]] ||
    bad "the failed job's message does not say why each model failed: $msg"
[[ "$(run "$DB_FAIL" bad)" == 'failed: reading the source failed: division by zero' ]] || bad "model bad: $(run "$DB_FAIL" bad)"
[[ "$(run "$DB_FAIL" slow)" == 'failed: canceled after the time limit of 1s' ]] || bad "model slow: $(run "$DB_FAIL" slow)"
for m in default good; do
    [[ "$(run "$DB_FAIL" "$m")" == succeeded ]] || bad "procedure in $DB_FAIL: model $m $(run "$DB_FAIL" "$m")"
    [[ "$(served "$m" "$DB_FAIL")" -gt 0 ]] || bad "procedure in $DB_FAIL: model $m (committed before the error) serves nothing"
done

if [[ $fail -ne 0 ]]; then
    exit 1
fi
say "ok: pg_cron ran itemcf_rebuild() in $DB ($(served default "$DB") similarities served);" \
    "CALL itemcf_rebuild_scheduled() succeeded in $DB_OK as $RUNNER;" \
    "in $DB_FAIL it failed with \"$first_line\" while the good models were committed; jobs unscheduled"
