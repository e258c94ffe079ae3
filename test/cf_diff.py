#!/usr/bin/python3
"""Seeded differential test of item_neighbors_agg against an independent computation.

Run by scripts/checks/cf_diff.sh with Debian's /usr/bin/python3 (numpy, scipy) against
the running test cluster (PGHOST, PGPORT, PGUSER as exported by scripts/lib.sh).

It generates purchase sets from a seed (ITEMCF_DIFF_SEED, default fixed) with varied id
layouts for users and items:

  dense1      1, 2, 3, ...
  dense1e6    1000001, 1000002, ...
  grow        a few large ids (above the id map's direct array) first, then a dense
              range from 0 whose growth makes the array cover them, then the large
              ids again (the order that gave one id two local ids)
  big31/big32 consecutive ids crossing 2^31 / 2^32
  neg         negative ids
  mixed       small, negative, near 2^31 and 2^32, around 10^6, near +-2^62, int64 extremes
  sparse64    random int64

with repeat purchases, weights (some NULL, zero, negative, NaN or infinite: skipped; in
some cases near 3e38 and 1e-38, so that sums saturate and asymmetric scores overflow real),
NULL users or items (skipped), purchase times (with ties and NULLs).  All cases go into
one table, interleaved but each in its own row order, and each group of builds runs
`SELECT c, item_neighbors_agg(...) FROM d GROUP BY c` once per option set.

Expected results come from the rows alone, with numpy/scipy: filtering, merging repeat
purchases (binary: once; sum: added in ascending weight order, saturating at FLT_MAX),
the history cap (most recent first, ties by item id; without times the smallest
splitmix64 sample key), buyers n_i, co-buyers c_ij = (B^T B)_ij, dot products (W^T W)_ij,
squared norms, and the README's formulas:
  cosine        dot / sqrt(|i|^2 |j|^2)            (binary: c / sqrt(n_i n_j))
  jaccard       c / (n_i + n_j - c)                 (counts, also with weights sum)
  asymmetric    dot |i|^(-2 alpha) |j|^(2 (alpha - 1))   (conditional_probability: alpha 1)
  shrinkage     score * c / (c + shrinkage);  min_support: c >= min_support
scores narrowed to float4 (clamped to +-FLT_MAX), non-positive ones dropped, the top k by
score then smaller id, output items those with id mod shard_count = shard_index.

Every build is compared in full: each emitted item and its neighbours (a score may differ
from the expected float4 by at most one unit in the last place; the kept set must be the
exact top k, except that a swap at the k-th place between candidates whose expected scores
are within one ulp of each other is allowed and counted), every item's buyers, and the
stats rows, rows_null_id, rows_bad_weight, rows_outside_window, users, items, items_out,
pairs, capped_users, entries.  Groups: serial plans with itemcf.threads 1, 2 and 0, and
forced parallel plans (EXPLAIN must show a partial aggregate under a Gather, and the
result's partials stat must show that states were combined) with threads 1 and 2.  A
fixed option set is also built in every group: its results must be bit-identical across
groups.

Prints one summary line per group; exits 1 on any mismatch, 2 if it could not run.
Knobs: ITEMCF_DIFF_CASES (purchase sets, default 60), ITEMCF_DIFF_OPTS (option sets
per group, default 16), ITEMCF_DIFF_SEED.
"""
import datetime
import json
import os
import subprocess
import sys

import numpy as np
import scipy.sparse as sp

SEED = int(os.environ.get("ITEMCF_DIFF_SEED", "20261203"))
N_CASES = int(os.environ.get("ITEMCF_DIFF_CASES", "60"))
N_OPTS = int(os.environ.get("ITEMCF_DIFF_OPTS", "16"))
DB = "itemcf_cf_diff"
FLT_MAX = float(np.finfo(np.float32).max)
M64 = (1 << 64) - 1
INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1
LAYOUTS = ["dense1", "dense1e6", "grow", "big31", "big32", "neg", "mixed", "sparse64"]
BASE_TS = 1_700_000_000
WEIGHTS = np.array([1, 0.5, 2, 3, 0.25, 1.5, 0.1, 0.3, 7, 1000, 0.001, 1.0 / 3], dtype=np.float32)
# some cases: weights near real's limits, so that sums saturate and scores overflow real
EXTREME = np.array([3e38, 1e38, 2e38, 1, 0.5, 1e-30, 1e-38], dtype=np.float32)


class Skip(Exception):
    pass


def psql_script(script):
    """Run a psql script on DB; return stdout lines (unaligned, tuples only, '|' separated)."""
    cmd = ["psql", "-X", "-q", "-A", "-t", "-F", "|", "-v", "ON_ERROR_STOP=1", "-d", DB, "-f", "-"]
    r = subprocess.run(cmd, input=script, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"psql failed:\n{r.stderr[-3000:]}")
    return r.stdout.splitlines()


def psql(db, *cmds, stdin=None):
    cmd = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", db]
    for c in cmds:
        cmd += ["-c", c]
    r = subprocess.run(cmd, input=stdin, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"psql failed ({' '.join(cmds)[:200]}):\n{r.stderr}")
    return r.stdout


# ---- case generation --------------------------------------------------------------------

def layout_ids(rng, layout, n):
    """n distinct external ids for logical indices 0..n-1, and the set of 'large first' ones."""
    early = set()
    if layout == "dense1":
        ids = [x + 1 for x in range(n)]
    elif layout == "dense1e6":
        ids = [1_000_001 + x for x in range(n)]
    elif layout == "grow":
        # the id map's array takes an id x only while x < 8 * (ids seen + 65536); these
        # large ids are out of reach until about half of the small ones have been seen
        nl = max(1, n // 4)
        ns = n - nl
        base = 8 * (65536 + nl + ns // 2)
        ids = [base + 3 * x for x in range(nl)] + list(range(ns))
        early = set(ids[:nl])
    elif layout == "big31":
        ids = [(1 << 31) - n // 2 + x for x in range(n)]
    elif layout == "big32":
        ids = [(1 << 32) - n // 2 + x for x in range(n)]
    elif layout == "neg":
        step = int(rng.choice([1, 7]))
        ids = [-(x + 1) * step for x in range(n)]
    elif layout == "mixed":
        pool = set()
        centers = [0, 5, -1, -1000, (1 << 31), (1 << 32), 1_000_000, (1 << 62), -(1 << 62), 524_288]
        pool.update([INT64_MIN, INT64_MAX, INT64_MIN + 1, INT64_MAX - 1])
        while len(pool) < n:
            c = int(rng.choice(centers))
            pool.add(max(INT64_MIN, min(INT64_MAX, c + int(rng.integers(-40, 40)))))
        ids = list(pool)[:n]
        ids = [ids[x] for x in rng.permutation(len(ids))]
    else:  # sparse64
        pool = set()
        while len(pool) < n:
            pool.add(int(rng.integers(INT64_MIN, INT64_MAX, dtype=np.int64, endpoint=True)))
        ids = list(pool)
    return ids, early


def gen_case(rng, cid):
    """One purchase set: rows (u, i, w, ts) in their arrival order; None for NULL."""
    ulay = LAYOUTS[int(rng.integers(len(LAYOUTS)))]
    ilay = LAYOUTS[int(rng.integers(len(LAYOUTS)))]
    if ulay == "grow" and ilay == "grow":
        ilay = "dense1"
    n_users = int(rng.integers(3, 220))
    n_items = int(rng.integers(2, 90))
    uids, uearly = layout_ids(rng, ulay, n_users)
    iids, iearly = layout_ids(rng, ilay, n_items)
    pop = 1.0 / (np.arange(n_items) + rng.uniform(1, 10))
    pop /= pop.sum()
    ipos = rng.permutation(n_items)            # popularity not in id order
    rows = []
    ts_span = int(rng.choice([5, 40, 1000]))   # few distinct times: ties
    wpool = EXTREME if rng.random() < 0.15 else WEIGHTS
    for u in range(n_users):
        r = rng.random()
        h = int(rng.integers(1, 4)) if r < 0.4 else int(rng.integers(1, 15)) if r < 0.9 else int(rng.integers(15, 45))
        for it in rng.choice(n_items, size=h, replace=True, p=pop):
            user = uids[u]
            item = iids[ipos[it]]
            x = rng.random()
            if x < 0.015:
                w = None
            elif x < 0.03:
                w = str(rng.choice(["0", "-1", "NaN", "Infinity", "-Infinity", "-0"]))
            else:
                w = wpool[int(rng.integers(len(wpool)))]
            ts = None if rng.random() < 0.03 else BASE_TS + int(rng.integers(ts_span))
            if rng.random() < 0.01:
                user = None
            if rng.random() < 0.01:
                item = None
            rows.append([user, item, w, ts])
    # arrival order: random, except that the 'grow' dimension's large ids come first
    # (half of their rows) and last (the others)
    order = rng.permutation(len(rows))
    rows = [rows[x] for x in order]
    early = uearly if ulay == "grow" else iearly if ilay == "grow" else None
    if early:
        col = 0 if ulay == "grow" else 1
        first, mid, last = [], [], []
        for rw in rows:
            if rw[col] in early:
                (first if rng.random() < 0.5 else last).append(rw)
            else:
                mid.append(rw)
        rows = first + mid + last
    return {"id": cid, "ulay": ulay, "ilay": ilay, "rows": rows, "extreme": wpool is EXTREME}


def gen_options(rng):
    """A random option set, as (dict for the engine, use_time, since or None)."""
    o = {}
    m = rng.random()
    if m < 0.35:
        pass
    elif m < 0.55:
        o["measure"] = "jaccard"
    elif m < 0.8:
        o["measure"] = "asymmetric_cosine"
        o["alpha"] = float(rng.choice([0.0, 0.2, 0.5, 0.75, 1.0]))
    else:
        o["measure"] = "conditional_probability"
    if rng.random() < 0.5:
        o["weights"] = "sum"
    o["k"] = int(rng.choice([1, 2, 3, 5, 10, 50, 1000]))
    if rng.random() < 0.3:
        o["min_support"] = int(rng.choice([1, 2, 3]))
    if rng.random() < 0.3:
        o["shrinkage"] = float(rng.choice([0.5, 2, 10]))
    if rng.random() < 0.5:
        o["history_cap"] = int(rng.choice([0, 1, 3, 8, 20]))
    if rng.random() < 0.3:
        sc = int(rng.choice([2, 3, 7]))
        o["shard_count"] = sc
        o["shard_index"] = int(rng.integers(sc))
    use_time = rng.random() < 0.5
    since = None
    if use_time and rng.random() < 0.3:
        since = BASE_TS + int(rng.integers(0, 20))
        o["since"] = datetime.datetime.fromtimestamp(since, datetime.timezone.utc).isoformat()
    return o, use_time, since


# ---- the independent computation ---------------------------------------------------------

def mix64(x):
    x &= M64
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & M64
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & M64
    x ^= x >> 31
    return x


def sample_key(user, item):
    return mix64((user & M64) ^ mix64(item & M64))


def good_weight(w):
    if w is None or isinstance(w, str):
        return False          # NULL, or one of the non-positive / non-finite texts
    return bool(w > 0 and np.isfinite(w))


def prepare(case, binary, cap, use_time, since):
    """Filtered, merged and capped histories: dict user -> dict item -> weight, and stats."""
    st = {"rows": 0, "rows_null_id": 0, "rows_bad_weight": 0, "rows_outside_window": 0}
    hist = {}
    for u, i, w, ts in case["rows"]:
        if u is None or i is None:
            st["rows_null_id"] += 1
            continue
        if not good_weight(w):
            st["rows_bad_weight"] += 1
            continue
        t = ts if (use_time and ts is not None) else None
        if use_time and since is not None and (t is None or t < since):
            st["rows_outside_window"] += 1
            continue
        st["rows"] += 1
        hist.setdefault(u, {}).setdefault(i, []).append((np.float32(w), t))
    items_seen = sorted({i for h in hist.values() for i in h})
    st["users"] = len(hist)
    st["items"] = len(items_seen)
    capped = 0
    merged = {}
    for u, h in hist.items():
        m = {}
        for i, lst in h.items():
            lst.sort(key=lambda x: x[0])
            acc = lst[0][0]
            for w, _ in lst[1:]:
                s = float(acc) + float(w)
                acc = np.float32(s if s < FLT_MAX else FLT_MAX)
            tmax = None
            if use_time:
                tl = [t for _, t in lst if t is not None]
                tmax = max(tl) if tl else INT64_MIN
            m[i] = (1.0 if binary else float(acc), tmax)
        if cap > 0 and len(m) > cap:
            capped += 1
            if use_time:
                keep = sorted(m, key=lambda i: (-m[i][1], i))[:cap]
            else:
                keep = sorted(m, key=lambda i: (sample_key(u, i), i))[:cap]
            m = {i: m[i] for i in keep}
        merged[u] = {i: v[0] for i, v in m.items()}
    st["capped_users"] = capped
    st["pairs"] = sum(len(h) for h in merged.values())
    return merged, items_seen, st


def expected(case, opts, use_time, since, cache):
    binary = opts.get("weights", "binary") == "binary"
    cap = opts.get("history_cap", 500)
    key = (binary, cap, use_time, since)
    if key not in cache:
        merged, items, st = prepare(case, binary, cap, use_time, since)
        users = sorted(merged)
        col = {i: n for n, i in enumerate(items)}
        r, c, v = [], [], []
        for a, u in enumerate(users):
            for i, w in merged[u].items():
                r.append(a)
                c.append(col[i])
                v.append(w)
        shape = (max(len(users), 1), max(len(items), 1))
        W = sp.csr_matrix((np.array(v, dtype=np.float64), (r, c)), shape=shape)
        B = W.copy()
        B.data[:] = 1.0
        C = (B.T @ B).toarray()
        D = (W.T @ W).toarray()
        cache[key] = (items, st, C, D)
    items, st, C, D = cache[key]
    n_items = len(items)
    measure = opts.get("measure", "cosine")
    alpha = opts.get("alpha", 1.0 if measure == "conditional_probability" else 0.5)
    k = opts.get("k", 50)
    minsup = opts.get("min_support", 1)
    shrink = opts.get("shrinkage", 0.0)
    sc, si = opts.get("shard_count", 1), opts.get("shard_index", 0)
    n = np.diag(C).copy()
    n2 = np.diag(D).copy()
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if measure == "jaccard":
            S = C / (n[:, None] + n[None, :] - C)
        elif measure in ("asymmetric_cosine", "conditional_probability"):
            left = np.where(n2 > 0, n2 ** -alpha, 0.0)
            right = np.where(n2 > 0, n2 ** (alpha - 1.0), 0.0)
            S = D * (left[:, None] * right[None, :])
        else:
            S = D / np.sqrt(n2[:, None] * n2[None, :])
        if shrink > 0:
            S = S * (C / (C + shrink))
    S = np.where((C >= minsup) & (C > 0), S, 0.0)
    np.fill_diagonal(S, 0.0)
    S32 = np.clip(S, -FLT_MAX, FLT_MAX).astype(np.float32)
    out = {}
    for a, i in enumerate(items):
        if i % sc != si:
            continue
        cand = [(S32[a, b], items[b], S[a, b]) for b in np.nonzero(S32[a] > 0)[0]]
        cand.sort(key=lambda t: (-t[0], t[1]))
        out[i] = cand
    est = dict(st)
    est["items_out"] = len(out)
    est["entries"] = sum(min(k, len(cv)) for cv in out.values())
    buyers = {i: int(n[a]) for a, i in enumerate(items)}
    return out, buyers, est


# ---- comparison ----------------------------------------------------------------------------

def parse_svec(text):
    text = text.strip()
    if text == "{}":
        return {}
    res = {}
    for part in text[1:-1].split(","):
        j, s = part.split(":")
        res[int(j)] = np.float32(s)
    return res


def compare_case(exp, buyers, est, got, k, tally):
    """Compare one build of one case; returns a list of problems."""
    bad = []
    gnbr, gbuy, gst = got["N"], got["B"], got["S"]
    if gst is None:
        return ["no result (the aggregate returned NULL)"] if est["rows"] > 0 else []
    for key in ("rows", "rows_null_id", "rows_bad_weight", "rows_outside_window", "users", "items",
                "items_out", "pairs", "capped_users", "entries"):
        if gst.get(key) != est[key]:
            bad.append(f"stat {key} = {gst.get(key)}, expected {est[key]}")
    if gbuy != buyers:
        diff = sorted(set(gbuy.items()) ^ set(buyers.items()))[:6]
        bad.append(f"buyers differ ({len(gbuy)} vs {len(buyers)} items), e.g. {diff}")
    if set(gnbr) != set(exp):
        bad.append(f"items emitted: {len(gnbr)}, expected {len(exp)}; "
                   f"e.g. {sorted(set(gnbr) ^ set(exp))[:5]}")
    for i, cand in exp.items():
        have = gnbr.get(i)
        if have is None:
            continue
        want = cand[:k]
        tally["entries"] += len(have)
        if len(have) != len(want):
            bad.append(f"item {i}: {len(have)} neighbours, expected {len(want)}")
            continue
        score = {j: (s32, s) for s32, j, s in cand}
        for j, s in have.items():
            if j not in score:
                bad.append(f"item {i}: neighbour {j} ({s}) is no candidate")
                continue
            e = score[j][0]
            if s == np.float32(FLT_MAX):
                tally["clamped"] += 1
            if s != e:
                if abs(float(s) - float(e)) > float(np.spacing(e)):
                    bad.append(f"item {i} -> {j}: {s!r}, expected {e!r}")
                else:
                    tally["ulp"] += 1
        want_ids = {j for _, j, _ in want}
        if set(have) != want_ids:
            kth = want[-1][0]
            extra = set(have) - want_ids
            missing = want_ids - set(have)
            near = all(j in score and abs(float(score[j][0]) - float(kth)) <= float(np.spacing(kth))
                       for j in extra | missing)
            # an exact tie must go to the smaller id: no kept one may tie a better left-out one
            exact_swap = any(j in score and score[j][0] == score[x][0] for j in extra for x in missing)
            if near and not exact_swap:
                tally["near_ties"] += 1
            else:
                bad.append(f"item {i}: top {k} differs: extra {sorted(extra)[:5]}, missing {sorted(missing)[:5]}"
                           f" (k-th score {kth!r})")
        # exact ties across the k-th place (smaller id must win) actually exercised?
        if len(cand) > k and cand[k][0] == cand[k - 1][0]:
            tally["exact_ties_at_k"] += 1
    return bad


# ---- the builds --------------------------------------------------------------------------

GROUPS = [
    ("serial, itemcf.threads 1", False, 1),
    ("serial, itemcf.threads 2", False, 2),
    ("serial, itemcf.threads 0", False, 0),
    ("parallel 2 workers, itemcf.threads 1", True, 1),
    ("parallel 2 workers, itemcf.threads 2", True, 2),
]
PARALLEL_SETTINGS = ("SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; "
                     "SET min_parallel_table_scan_size = 0; SET max_parallel_workers_per_gather = 2; "
                     "SET parallel_leader_participation = off;")
SERIAL_SETTINGS = "SET max_parallel_workers_per_gather = 0;"
FIXED = ({"k": 4, "weights": "sum", "history_cap": 8}, True, None)


def agg_call(opts, use_time):
    if not opts and not use_time:
        return "item_neighbors_agg(u, i, w)"
    js = json.dumps(opts).replace("'", "''")
    if use_time:
        return f"item_neighbors_agg(u, i, w, to_timestamp(ts), '{js}')"
    return f"item_neighbors_agg(u, i, w, '{js}')"


def run_group(parallel, threads, optsets):
    """Build every option set over all cases; returns [{case: {'S','B','N'}}] per option set, plans."""
    parts = ["SET work_mem = '256MB'; SET client_min_messages = warning;",
             f"SET itemcf.threads = {threads};",
             PARALLEL_SETTINGS if parallel else SERIAL_SETTINGS]
    for q, (opts, use_time, _) in enumerate(optsets):
        call = agg_call(opts, use_time)
        parts.append(f"\\echo @@PLAN {q}")
        parts.append(f"EXPLAIN (COSTS OFF) SELECT c, {call} FROM d GROUP BY c;")
        parts.append(f"\\echo @@Q {q}")
        parts.append(f"CREATE UNLOGGED TABLE res AS SELECT c, {call} AS r FROM d GROUP BY c;")
        parts.append("SELECT 'S', c, item_neighbors_stats(r) FROM res WHERE r IS NOT NULL;")
        parts.append("SELECT 'B', c, b.item_id, b.buyers FROM res, item_buyers(r) b;")
        parts.append("SELECT 'N', c, n.item_id, n.neighbors FROM res, item_neighbors(r) n;")
        parts.append("DROP TABLE res;")
    lines = psql_script("\n".join(parts) + "\n")
    results = [dict() for _ in optsets]
    plans = ["" for _ in optsets]
    q = None
    mode = None
    for line in lines:
        if line.startswith("@@PLAN "):
            q, mode = int(line.split()[1]), "plan"
            continue
        if line.startswith("@@Q "):
            q, mode = int(line.split()[1]), "res"
            continue
        if mode == "plan":
            plans[q] += line + "\n"
            continue
        f = line.split("|")
        c = int(f[1])
        ent = results[q].setdefault(c, {"S": None, "B": {}, "N": {}})
        if f[0] == "S":
            ent["S"] = json.loads(f[2])
        elif f[0] == "B":
            ent["B"][int(f[2])] = int(f[3])
        elif f[0] == "N":
            ent["N"][int(f[2])] = parse_svec(f[3])
    return results, plans


def load(cases):
    rng = np.random.default_rng(SEED + 1)
    # interleave the cases, each keeping its own row order
    queues = [list(cs["rows"]) for cs in cases]
    pos = [0] * len(cases)
    order = []
    for cid, qu in enumerate(queues):
        order += [cid] * len(qu)
    order = [order[x] for x in rng.permutation(len(order))]
    out = []

    def fmt(v):
        if v is None:
            return ""
        if isinstance(v, (np.floating,)):
            return repr(float(v)) if float(v) == float(np.float32(v)) else str(v)
        return str(v)
    for cid in order:
        u, i, w, ts = queues[cid][pos[cid]]
        pos[cid] += 1
        wtxt = "" if w is None else (w if isinstance(w, str) else str(np.float32(w)))
        out.append(f"{cid},{fmt(u)},{fmt(i)},{wtxt},{fmt(ts)}\n")
    psql(DB, "CREATE TABLE d (c int, u bigint, i bigint, w real, ts bigint) WITH (fillfactor = 10)",
         "ALTER TABLE d SET (parallel_workers = 2)")
    psql(DB, "\\copy d FROM pstdin WITH (FORMAT csv)", stdin="".join(out))
    n = int(psql(DB, "SELECT count(*) FROM d").strip())
    if n != len(out):
        raise RuntimeError(f"loaded {n} rows, expected {len(out)}")
    # the weights as stored must be the generator's float4 values
    psql(DB, "ANALYZE d")
    return len(out)


def main():
    for var in ("PGHOST", "PGPORT"):
        if var not in os.environ:
            print(f"cf diff: {var} is not set (run through scripts/test.sh)", file=sys.stderr)
            return 2
    rng = np.random.default_rng(SEED)
    cases = [gen_case(rng, c) for c in range(N_CASES)]
    psql("postgres", f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)", f"CREATE DATABASE {DB}")
    failures = 0
    try:
        psql(DB, "SET client_min_messages = warning", "CREATE EXTENSION itemcf")
        nrows = load(cases)
        lay = {}
        for cs in cases:
            for key in (cs["ulay"] + " users", cs["ilay"] + " items"):
                lay[key] = lay.get(key, 0) + 1
        print(f"cf diff: seed {SEED}, {N_CASES} purchase sets, {nrows} rows, {N_OPTS} option sets "
              f"per group, {sum(cs['extreme'] for cs in cases)} with extreme weights; layouts: "
              + ", ".join(f"{k} {v}" for k, v in sorted(lay.items())))
        fixed_results = []
        for gname, parallel, threads in GROUPS:
            optsets = [FIXED] + [gen_options(rng) for _ in range(N_OPTS)]
            results, plans = run_group(parallel, threads, optsets)
            fixed_results.append((gname, results[0]))
            tally = {"entries": 0, "ulp": 0, "near_ties": 0, "exact_ties_at_k": 0, "clamped": 0}
            nbad = 0
            combined = 0
            builds = 0
            for q, (opts, use_time, since) in enumerate(optsets):
                if parallel and not ("Partial" in plans[q] and "Gather" in plans[q]):
                    print(f"    option set {q}: the plan is not a partial aggregate under a Gather:\n{plans[q]}")
                    nbad += 1
                for cs in cases:
                    cache = cs.setdefault("cache", {})
                    exp, buyers, est = expected(cs, opts, use_time, since, cache)
                    got = results[q].get(cs["id"], {"S": None, "B": {}, "N": {}})
                    builds += 1
                    if got["S"] is not None and got["S"].get("partials", 0) >= 2:
                        combined += 1
                    probs = compare_case(exp, buyers, est, got, opts.get("k", 50), tally)
                    if probs:
                        nbad += 1
                        if nbad <= 8:
                            print(f"    case {cs['id']} (users {cs['ulay']}, items {cs['ilay']}), "
                                  f"options {json.dumps(opts)}{' with times' if use_time else ''}:")
                            for p in probs[:6]:
                                print(f"      {p}")
            if parallel and combined < builds // 2:
                print(f"    only {combined} of {builds} builds combined two or more partial states")
                nbad += 1
            status = "ok" if nbad == 0 else f"{nbad} FAILED"
            print(f"  {gname:<38} builds {builds:4d}  entries {tally['entries']:7d}  "
                  f"combined {combined:4d}  exact ties at k {tally['exact_ties_at_k']:4d}  "
                  f"near ties {tally['near_ties']:3d}  1-ulp {tally['ulp']:3d}  "
                  f"clamped {tally['clamped']:3d}  {status}")
            failures += nbad
        # the fixed option set: bit-identical in every group
        ref_name, ref = fixed_results[0]
        same = 0
        for gname, res in fixed_results[1:]:
            for cs in cases:
                a = ref.get(cs["id"], {}).get("N")
                b = res.get(cs["id"], {}).get("N")
                if a != b:
                    print(f"    case {cs['id']}: fixed option set differs between '{ref_name}' and '{gname}'")
                    failures += 1
                else:
                    same += 1
        print(f"  {'fixed options, across groups':<38} builds {same:4d} bit-identical to the first group"
              f"  {'ok' if same == len(cases) * (len(fixed_results) - 1) else 'FAILED'}")
    finally:
        try:
            psql("postgres", f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        except RuntimeError as e:
            print(f"cf diff: could not drop {DB}: {e}", file=sys.stderr)
            failures += 1
    if failures:
        print(f"cf diff: FAILED, {failures} mismatching builds")
        return 1
    print("cf diff: every build matches the independent computation")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # noqa: BLE001 - report and fail
        import traceback
        traceback.print_exc()
        print(f"cf diff: could not run: {e}", file=sys.stderr)
        sys.exit(2)
