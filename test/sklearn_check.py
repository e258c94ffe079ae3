#!/usr/bin/python3
"""Compare item_neighbors_agg with scikit-learn / numpy on random data.

Run by scripts/checks/sklearn.sh with Debian's /usr/bin/python3 (python3-sklearn,
python3-scipy, python3-numpy) against the running test cluster (PGHOST, PGPORT and
PGUSER as exported by scripts/lib.sh).  It

  * generates a few thousand (user, item, weight) rows from a fixed seed, with
    popular and rare items and repeat purchases;
  * loads them into a scratch database that it creates and drops;
  * runs item_neighbors_agg for cosine (binary and summed weights), jaccard and
    conditional probability, with k above the number of items and with a small k;
  * checks every score against sklearn.metrics.pairwise.cosine_similarity(X.T)
    (binary and summed) or a numpy computation from the co-occurrence counts
    (jaccard, conditional probability), to float4 precision (relative 1e-6), and
    each list against the expected top k (ties by smaller id; a candidate whose
    score equals the k-th best's to 1e-6 may stand in for it).

Prints a summary; exits 1 on any mismatch, 2 if it could not run.
"""
import os
import subprocess
import sys

import numpy as np
import scipy.sparse as sp
from sklearn.metrics.pairwise import cosine_similarity

SEED = 20261122
N_USERS = 700
N_ITEMS = 180
REL = 1e-6
DB = "itemcf_sklearn_check"


def psql(db, *args, stdin=None):
    """Run psql on db with -c commands; return stdout (unaligned, no headers)."""
    cmd = ["psql", "-X", "-q", "-A", "-t", "-F", ",", "-v", "ON_ERROR_STOP=1", "-d", db]
    for a in args:
        cmd += ["-c", a]
    r = subprocess.run(cmd, input=stdin, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"psql failed ({' '.join(args)[:200]}):\n{r.stderr}")
    return r.stdout


def make_rows():
    """(user, item, weight) rows: Zipf-like item popularity, 1..20 rows per user, repeats."""
    rng = np.random.default_rng(SEED)
    pop = 1.0 / (np.arange(N_ITEMS) + 8.0)
    pop /= pop.sum()
    item_ids = rng.permutation(np.arange(1, N_ITEMS + 1) * 7 - 300)   # negative ids too, not in id order
    weights = np.array([0.5, 1.0, 1.5, 2.0, 3.0], dtype=np.float32)
    rows = []
    for u in range(N_USERS):
        user = int(u * 13 + 1000)
        n = int(rng.integers(1, 21))
        for it in rng.choice(N_ITEMS, size=n, replace=True, p=pop):
            rows.append((user, int(item_ids[it]), float(rng.choice(weights))))
    return rows


def fetch(db, opts):
    """{item: {neighbour: score}} of item_neighbors_agg(u, i, w, opts) over table r."""
    out = psql(db, f"""SELECT n.item_id, e.index, e.value
                       FROM item_neighbors((SELECT item_neighbors_agg(u, i, w, '{opts}'::jsonb) FROM r)) n
                       LEFT JOIN LATERAL svec_each(n.neighbors) e ON true""")
    res = {}
    for line in out.splitlines():
        i, j, s = line.split(",")
        d = res.setdefault(int(i), {})
        if j != "":
            d[int(j)] = float(np.float32(s))
    return res


def compare(name, got, expected, ids, k):
    """Compare one result with the expected score matrix (0 = no candidate). Returns mismatches."""
    bad = []
    entries = 0
    boundary_ties = 0
    max_rel = 0.0
    if set(got) != set(ids.tolist()):
        bad.append(f"items listed: {len(got)}, expected {len(ids)}")
    index = {int(v): n for n, v in enumerate(ids)}
    for a, i in enumerate(ids):
        i = int(i)
        row = expected[a]
        cand = [(float(row[b]), int(ids[b])) for b in np.nonzero(row > 0)[0] if b != a]
        cand.sort(key=lambda t: (-t[0], t[1]))
        want = cand[:k]
        have = got.get(i, {})
        entries += len(have)
        if len(have) != len(want):
            bad.append(f"item {i}: {len(have)} neighbours, expected {len(want)}")
            continue
        for j, s in have.items():
            b = index.get(j)
            e = float(row[b]) if b is not None and b != a else 0.0
            if e <= 0:
                bad.append(f"item {i}: neighbour {j} is no candidate (score {s})")
                continue
            rel = abs(s - e) / e
            max_rel = max(max_rel, rel)
            if rel > REL:
                bad.append(f"item {i} -> {j}: {s!r}, expected {e!r} (relative error {rel:.2e})")
        want_ids = {j for _, j in want}
        if set(have) != want_ids and want:
            kth = want[-1][0]
            extra = set(have) - want_ids
            missing = want_ids - set(have)
            # a swap at the k-th place between scores equal to float4 precision is a tie
            if all(abs(float(row[index[j]]) - kth) <= REL * kth for j in extra | missing):
                boundary_ties += 1
            else:
                bad.append(f"item {i}: top {k} differs: extra {sorted(extra)}, missing {sorted(missing)}")
    status = "ok" if not bad else f"{len(bad)} MISMATCHES"
    print(f"  {name:<34} items {len(ids):4d}  entries {entries:6d}  max rel error {max_rel:.2e}"
          f"  boundary ties {boundary_ties:3d}  {status}")
    for line in bad[:10]:
        print(f"    {line}")
    return len(bad)


def main():
    for var in ("PGHOST", "PGPORT", "PGUSER"):
        if var not in os.environ:
            print(f"sklearn check: {var} is not set (run through scripts/test.sh)", file=sys.stderr)
    rows = make_rows()
    users = np.array([r[0] for r in rows])
    items = np.array([r[1] for r in rows])
    w = np.array([r[2] for r in rows], dtype=np.float64)
    ids, col = np.unique(items, return_inverse=True)            # items by ascending id
    _, row = np.unique(users, return_inverse=True)
    # summed weights: duplicates add up when converting to CSR
    xw = sp.csr_matrix((w, (row, col)), shape=(row.max() + 1, len(ids)))
    xw.sum_duplicates()
    xb = xw.copy()
    xb.data[:] = 1.0                                            # binary: a repeat purchase counts once

    cos_b = cosine_similarity(xb.T, dense_output=True)
    cos_w = cosine_similarity(xw.T, dense_output=True)
    co = (xb.T @ xb).toarray()                                  # co-buyers c_ij, buyers n_i on the diagonal
    n = np.diag(co).copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        jac = np.where(co > 0, co / (n[:, None] + n[None, :] - co), 0.0)
        cond = np.where(co > 0, co / n[:, None], 0.0)
    for m in (cos_b, cos_w, jac, cond):
        np.fill_diagonal(m, 0.0)

    print(f"sklearn check: {len(rows)} rows, {row.max() + 1} users, {len(ids)} items, "
          f"{len(rows) - xb.nnz} repeat purchases; scikit-learn {__import__('sklearn').__version__}")

    psql("postgres", f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)", f"CREATE DATABASE {DB}")
    failures = 0
    try:
        psql(DB, "CREATE EXTENSION itemcf", "CREATE TABLE r (u bigint, i bigint, w real)")
        data = "".join(f"{u},{i},{wt}\n" for u, i, wt in rows)
        psql(DB, "\\copy r FROM pstdin WITH (FORMAT csv)", stdin=data)
        got_rows = int(psql(DB, "SELECT count(*) FROM r").strip())
        if got_rows != len(rows):
            raise RuntimeError(f"loaded {got_rows} rows, expected {len(rows)}")
        checks = [
            ("cosine, binary, k 1000", '{"k": 1000}', cos_b, 1000),
            ("cosine, binary, k 7", '{"k": 7}', cos_b, 7),
            ("cosine, summed weights, k 1000", '{"k": 1000, "weights": "sum"}', cos_w, 1000),
            ("cosine, summed weights, k 4", '{"k": 4, "weights": "sum"}', cos_w, 4),
            ("jaccard, k 1000", '{"k": 1000, "measure": "jaccard"}', jac, 1000),
            ("jaccard, k 3", '{"k": 3, "measure": "jaccard"}', jac, 3),
            ("conditional probability, k 1000", '{"k": 1000, "measure": "conditional_probability"}', cond, 1000),
        ]
        for name, opts, expected, k in checks:
            failures += compare(name, fetch(DB, opts), expected, ids, k)
    finally:
        psql("postgres", f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    if failures:
        print(f"sklearn check: FAILED, {failures} mismatches")
        return 1
    print("sklearn check: every score matches to float4 precision")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # noqa: BLE001 - report and fail
        print(f"sklearn check: could not run: {e}", file=sys.stderr)
        sys.exit(2)
