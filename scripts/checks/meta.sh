#!/usr/bin/env bash
# Check: META.json is valid PGXN metadata (meta-spec 1.0.0), itemcf.control's default_version
# (the one place the version is written) equals META.json's version, the install script of that
# version is what make builds, and the released 0.1.0 install script is unchanged.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export PATH="${ITEMCF_PGBIN:-/usr/lib/postgresql/15/bin}:$PATH"

# The released install script must never change (users have it installed).
if ! echo "7d7ecf5aa54b979ce56413c718189c049f3c8df6855e39ec476291598c176332  itemcf--0.1.0.sql" | sha256sum -c --quiet; then
    echo "itemcf--0.1.0.sql changed: released install scripts are frozen; change SQL objects in an update script" >&2
    exit 1
fi
version="$(sed -n "s/^default_version = '\([^']*\)'$/\1/p" itemcf.control)"
make -s "itemcf--$version.sql" >/dev/null
for f in itemcf--*--*.sql; do
    to="${f##*--}"; to="${to%.sql}"
    [[ -f "itemcf--$to.sql" || "$to" == "$version" ]] || { echo "$f updates to $to, which has no install script and is not the current version" >&2; exit 1; }
done
[[ -f "itemcf--0.1.0--$version.sql" || "$version" == 0.1.0 ]] || ls itemcf--*--"$version".sql >/dev/null 2>&1 ||
    { echo "no update script leads to $version" >&2; exit 1; }

/usr/bin/python3 - <<'EOF'
import json, re, sys

errors = []
try:
    with open("META.json", encoding="utf-8") as f:
        meta = json.load(f)
except (OSError, ValueError) as e:
    sys.exit(f"META.json: does not parse: {e}")

for key in ("name", "version", "abstract", "maintainer", "license", "provides"):
    if not meta.get(key):
        errors.append(f"missing or empty '{key}'")

version = meta.get("version", "")
if version and not re.fullmatch(r"\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?", version):
    errors.append(f"version '{version}' is not a semantic version")

spec = meta.get("meta-spec")
if not isinstance(spec, dict) or spec.get("version") != "1.0.0":
    errors.append("meta-spec.version must be '1.0.0'")

provides = meta.get("provides")
if isinstance(provides, dict):
    if meta.get("name") not in provides:
        errors.append(f"provides has no entry for '{meta.get('name')}'")
    for ext, info in provides.items():
        if not isinstance(info, dict) or not info.get("file"):
            errors.append(f"provides.{ext}: missing 'file'")
        if not isinstance(info, dict) or info.get("version") != version:
            errors.append(f"provides.{ext}.version must equal the top-level version '{version}'")
elif provides is not None:
    errors.append("provides must be an object")

control = {}
with open("itemcf.control", encoding="utf-8") as f:
    for line in f:
        m = re.match(r"\s*(\w+)\s*=\s*'([^']*)'", line)
        if m:
            control[m.group(1)] = m.group(2)
if control.get("default_version") != version:
    errors.append(f"itemcf.control default_version '{control.get('default_version')}'"
                  f" != META.json version '{version}'")

for e in errors:
    print(f"META.json: {e}", file=sys.stderr)
if errors:
    sys.exit(1)
print(f"META.json ok: {meta['name']} {version}")
EOF
