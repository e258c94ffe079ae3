#!/usr/bin/env bash
# Check: item_neighbors_agg's scores equal scikit-learn's cosine_similarity (binary and summed
# weights) and numpy's jaccard and conditional probability on a few thousand random rows, in a
# scratch database of the running test cluster (PGHOST/PGPORT/PGUSER from scripts/lib.sh).
# Uses Debian's /usr/bin/python3 with python3-sklearn, python3-scipy and python3-numpy, not the
# python3 on PATH.  See test/sklearn_check.py.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export PATH="${ITEMCF_PGBIN:-/usr/lib/postgresql/15/bin}:$PATH"

if ! /usr/bin/python3 -c 'import numpy, scipy, sklearn' 2>/dev/null; then
    echo "sklearn check: /usr/bin/python3 lacks numpy, scipy or sklearn (Debian: python3-sklearn)" >&2
    exit 1
fi
exec /usr/bin/python3 test/sklearn_check.py
