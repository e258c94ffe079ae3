#!/usr/bin/env bash
# Load the UCI "Online Retail" data set (shared/data/online_retail.csv.gz, CC BY 4.0:
# Daqing Chen, London South Bank University, UCI Machine Learning Repository id 352,
# DOI 10.24432/C5BW33) into PostgreSQL as purchases itemcf can read.
#
# The file is read in place with zcat and streamed to the server through COPY ... FROM STDIN
# (so it works for any role and any server; it is never copied into the repository).
#
# Tables (in RETAIL_SCHEMA, default public; replaced on every run):
#   retail_raw        the CSV as text, all 541,909 lines (dropped at the end unless RETAIL_KEEP_RAW=1)
#   retail_items      item_id bigint (dense, 1..n in StockCode order) <-> stock_code text, description
#   retail_purchases  user_id bigint (CustomerID), item_id bigint, weight real (Quantity),
#                     purchased_at timestamptz (InvoiceDate, Europe/London), invoice_no text
#                     only lines with a customer, not cancelled (InvoiceNo not starting with C), Quantity > 0
# and, if itemcf is installed and RETAIL_MODEL is not empty, a model of that name
# (default online_retail; cosine, binary weights) over retail_purchases: registered the first
# time, re-pointed at the new table (itemcf_alter_model) on later runs.
#
# Connection: the standard libpq variables (PGHOST, PGPORT, PGUSER, PGDATABASE).
#   RETAIL_CSV        path of the file (default: ../shared/data/online_retail.csv.gz from the checkout)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
CSV="${RETAIL_CSV:-$here/../../shared/data/online_retail.csv.gz}"
SCHEMA="${RETAIL_SCHEMA:-public}"
MODEL="${RETAIL_MODEL-online_retail}"
KEEP_RAW="${RETAIL_KEEP_RAW:-0}"

[[ -r "$CSV" ]] || { echo "load_online_retail: cannot read $CSV (set RETAIL_CSV)" >&2; exit 1; }
[[ "$SCHEMA" =~ ^[a-z_][a-z0-9_]*$ ]] || { echo "load_online_retail: RETAIL_SCHEMA must be a plain lower-case name" >&2; exit 1; }

PSQL=(psql -X -q -v ON_ERROR_STOP=1 -v schema="$SCHEMA")

echo "[retail] loading $CSV into schema $SCHEMA" >&2
"${PSQL[@]}" <<'SQL'
SET client_min_messages = warning;
CREATE SCHEMA IF NOT EXISTS :"schema";
SET search_path = :"schema", public;
DROP TABLE IF EXISTS retail_purchases, retail_items, retail_raw;
CREATE TABLE retail_raw (
	invoice_no   text,
	stock_code   text,
	description  text,
	quantity     text,
	invoice_date text,
	unit_price   text,
	customer_id  text,
	country      text
);
SQL

# The header line is skipped by COPY (HEADER); RFC 4180 quoting is COPY's CSV format.
zcat "$CSV" | "${PSQL[@]}" -c "COPY $SCHEMA.retail_raw FROM STDIN WITH (FORMAT csv, HEADER true)"

"${PSQL[@]}" <<'SQL'
SET client_min_messages = warning;
SET search_path = :"schema", public;

-- Text StockCodes -> dense bigint ids, over every code of the file (also cancelled and guest lines,
-- so that ids do not depend on the filter).  The description is the most frequent non-empty one.
CREATE TABLE retail_items (
	item_id     bigint PRIMARY KEY,
	stock_code  text NOT NULL UNIQUE,
	description text
);
INSERT INTO retail_items (item_id, stock_code, description)
SELECT row_number() OVER (ORDER BY c.stock_code), c.stock_code, d.description
FROM (SELECT DISTINCT stock_code FROM retail_raw) c
LEFT JOIN (SELECT DISTINCT ON (stock_code) stock_code, description
           FROM retail_raw WHERE description <> ''
           GROUP BY stock_code, description
           ORDER BY stock_code, count(*) DESC, description) d USING (stock_code);

CREATE TABLE retail_purchases (
	user_id      bigint NOT NULL,
	item_id      bigint NOT NULL REFERENCES retail_items,
	weight       real NOT NULL,
	purchased_at timestamptz NOT NULL,
	invoice_no   text NOT NULL
);
INSERT INTO retail_purchases (user_id, item_id, weight, purchased_at, invoice_no)
SELECT r.customer_id::numeric::bigint, i.item_id, r.quantity::real,
       r.invoice_date::timestamp AT TIME ZONE 'Europe/London', r.invoice_no
FROM retail_raw r
JOIN retail_items i USING (stock_code)
WHERE r.customer_id <> ''
  AND r.invoice_no NOT LIKE 'C%'
  AND r.quantity::integer > 0
ORDER BY r.customer_id::numeric::bigint, r.invoice_date::timestamp;
CREATE INDEX ON retail_purchases (user_id, purchased_at DESC) INCLUDE (item_id, weight);
VACUUM (ANALYZE) retail_purchases, retail_items;
SQL

if [[ "$KEEP_RAW" != 1 ]]; then
    "${PSQL[@]}" -c 'SET client_min_messages = warning' -c "DROP TABLE $SCHEMA.retail_raw"
fi

if [[ -n "$MODEL" ]] && [[ "$("${PSQL[@]}" -Atc "SELECT count(*) FROM pg_extension WHERE extname = 'itemcf'")" == 1 ]]; then
    ext_schema="$("${PSQL[@]}" -Atc "SELECT extnamespace::regnamespace FROM pg_extension WHERE extname = 'itemcf'")"
    "${PSQL[@]}" -v model="$MODEL" -v ext="$ext_schema" <<'SQL'
SET client_min_messages = warning;
SELECT format('%I.retail_purchases', :'schema') AS source \gset
SELECT NOT EXISTS (SELECT 1 FROM :"ext".itemcf_models WHERE name = :'model') AS register \gset
\if :register
SELECT :"ext".itemcf_register_model(:'model', :'source'::regclass, 'user_id', 'item_id',
                                    'weight', 'purchased_at') AS model_id \gset
\echo '[retail] registered model' :model '- rebuild it with: SELECT * FROM itemcf_rebuild(' :'model' ');'
\else
-- the tables were re-created: point the model at the new one
SELECT :"ext".itemcf_alter_model(:'model', source => :'source'::regclass) AS altered \gset
\echo '[retail] model' :model 'now reads the new' :source
\endif
SQL
fi

# Summary (the data set's README: 397,924 lines, 266,802 pairs, 4,339 customers, 3,665 items)
"${PSQL[@]}" -P footer=off <<'SQL'
SET search_path = :"schema", public;
SELECT count(*) AS lines,
       count(DISTINCT (user_id, item_id)) AS distinct_pairs,
       count(DISTINCT user_id) AS customers,
       count(DISTINCT item_id) AS items,
       (SELECT count(*) FROM retail_items) AS stock_codes,
       min(purchased_at)::date AS first_day, max(purchased_at)::date AS last_day
FROM retail_purchases;
SQL
