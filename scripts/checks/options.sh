#!/usr/bin/env bash
# Check: the engine's option table (src/cf_options.c, read through item_neighbors_options()) is
# the one definition of the options.  What still repeats it for people must agree with it: the
# README's table of item_neighbors_agg options (names and defaults) and the parameter defaults
# of itemcf_register_model().  A scratch database of the running test cluster (PGHOST/PGPORT/
# PGUSER from scripts/lib.sh).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export PATH="${ITEMCF_PGBIN:-/usr/lib/postgresql/15/bin}:$PATH"

db=itemcf_options_check
trap 'psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true' EXIT
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" 2>/dev/null
psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c "CREATE EXTENSION itemcf"

# name <tab> default (jsonb text, empty for none), in table order
table="$(psql -X -At -F $'\t' -v ON_ERROR_STOP=1 -d "$db" \
    -c "SELECT name, coalesce(default_value #>> '{}', '') FROM item_neighbors_options()")"
# itemcf_register_model's arguments, as PostgreSQL prints them
args="$(psql -X -At -v ON_ERROR_STOP=1 -d "$db" \
    -c "SELECT pg_get_function_arguments('itemcf_register_model'::regproc)")"

TABLE="$table" ARGS="$args" /usr/bin/python3 - <<'PY'
import os, re, sys

options = [line.split("\t") for line in os.environ["TABLE"].splitlines()]
defaults = {name: value for name, value in options}
errors = []
if len(options) < 5:
    errors.append(f"item_neighbors_options() returned {len(options)} rows")

# README: the rows of the options table, "| `a`, `b` | d1, d2 | meaning |"
readme = {}
for line in open("README.md", encoding="utf-8"):
    m = re.match(r"^\| ((?:`[a-z_]+`(?:, )?)+) \| ([^|]+) \|", line)
    if not m:
        continue
    names = re.findall(r"`([a-z_]+)`", m.group(1))
    if not all(n in defaults for n in names):
        continue          # another table of the README
    values = [v.strip().strip("`") for v in m.group(2).split(",")]
    if len(values) != len(names):
        errors.append(f"README: {m.group(1)} has {len(values)} defaults")
        continue
    readme.update(zip(names, values))
for name, value in options:
    if name not in readme:
        errors.append(f"README's option table lacks {name}")
    elif (readme[name] if readme[name] != "none" else "") != value:
        errors.append(f"README says {name} defaults to {readme[name]}, the engine {value or 'none'}")

# itemcf_register_model(... k integer DEFAULT 50, measure text DEFAULT 'cosine'::text ...)
checked = 0
for arg in os.environ["ARGS"].split(", "):
    m = re.match(r"^(\w+) \w[\w ]* DEFAULT (.+)$", arg)
    if not m or m.group(1) not in defaults:
        continue
    value = re.sub(r"^'(.*)'::\w+$", r"\1", m.group(2))
    if value != defaults[m.group(1)] and not (value.startswith("NULL") and m.group(1) == "alpha"):
        errors.append(f"itemcf_register_model: {m.group(1)} DEFAULT {value}, the engine {defaults[m.group(1)]}")
    checked += 1
if checked < 7:
    errors.append(f"only {checked} option defaults found in itemcf_register_model's arguments")

if errors:
    print("\n".join(errors), file=sys.stderr)
    sys.exit(1)
print(f"options: {len(options)} options; README and itemcf_register_model ({checked} defaults) agree with the engine's table")
PY
