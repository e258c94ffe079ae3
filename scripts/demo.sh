#!/usr/bin/env bash
# Demo: install what is needed, build and install itemcf, start a throwaway PostgreSQL 15
# cluster (under .pg/, never the system one), load a small made-up shop into database
# itemcf_demo and show item-to-item similarities (scripts/demo.sql), then stop the server.
# Re-runnable; needs root or sudo for apt-get and `make install`.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

itemcf_install_deps
itemcf_build
itemcf_cluster_start

PGOPTIONS='-c client_min_messages=warning' psql -X -q -v ON_ERROR_STOP=1 -d postgres -c 'DROP DATABASE IF EXISTS itemcf_demo' \
    -c 'CREATE DATABASE itemcf_demo'
psql -X -v ON_ERROR_STOP=1 -d itemcf_demo -f scripts/demo.sql

itemcf_cluster_stop
itemcf_log "demo done; database itemcf_demo is kept in $ITEMCF_PGDATA (the server is stopped)"
itemcf_log "to reach it again: source scripts/lib.sh && itemcf_cluster_start && psql -d itemcf_demo"
itemcf_log "  (that is: psql -h $ITEMCF_PGSOCK -p $ITEMCF_PGPORT -U postgres -d itemcf_demo while it runs;"
itemcf_log "   stop it with: source scripts/lib.sh && itemcf_cluster_stop)"
