#!/usr/bin/env bash
# Check: item_neighbors_agg equals an independent numpy/scipy computation on seeded random
# purchase sets with varied id layouts (dense, from 1000001, large ids first then a dense
# range growing over them, across 2^31 and 2^32, negative, int64 extremes), under serial
# and forced-parallel plans and several itemcf.threads values: every score, top-k list,
# buyer count and stat.  See test/cf_diff.py.  ITEMCF_DIFF_CASES (default 60) and
# ITEMCF_DIFF_OPTS (default 16 option sets per group) make it bigger; ITEMCF_DIFF_SEED
# changes the data.  Uses Debian's /usr/bin/python3 (python3-numpy, python3-scipy).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export PATH="${ITEMCF_PGBIN:-/usr/lib/postgresql/15/bin}:$PATH"

if ! /usr/bin/python3 -c 'import numpy, scipy' 2>/dev/null; then
    echo "cf diff: /usr/bin/python3 lacks numpy or scipy (Debian: python3-numpy, python3-scipy)" >&2
    exit 1
fi
exec /usr/bin/python3 test/cf_diff.py
