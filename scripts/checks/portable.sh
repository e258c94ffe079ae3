#!/usr/bin/env bash
# Check: the installed itemcf.so runs on any x86-64 CPU (and under valgrind).  Outside the
# functions of the AVX2 variant (names containing "avx2", chosen at run time; see
# src/cpu_dispatch.h), its code may hold no instruction beyond the x86-64 baseline (SSE2):
# no VEX/EVEX instruction (AVX, AVX2, AVX-512), no BMI1/2, POPCNT, LZCNT, MOVBE, SSE3/SSSE3/SSE4.
# A build with -march=native on a recent CPU fails this.  Needs objdump (binutils).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
PG_CONFIG="${ITEMCF_PGBIN:-/usr/lib/postgresql/15/bin}/pg_config"
so="$("$PG_CONFIG" --pkglibdir)/itemcf.so"

if [[ "$(uname -m)" != x86_64 ]]; then
    echo "portable check: $(uname -m) is not x86-64, nothing to check"
    exit 0
fi
[[ -f "$so" ]] || { echo "portable check: $so is missing (make install)" >&2; exit 1; }
command -v objdump >/dev/null || { echo "portable check: objdump is missing (Debian: binutils)" >&2; exit 1; }

# Print "function: instruction" for every instruction beyond the baseline outside the AVX2 variant.
bad="$(objdump -d --no-show-raw-insn "$so" | awk '
    /^[0-9a-f]+ <.*>:$/ { fn = $2; gsub(/[<>:]/, "", fn); next }
    /^ *[0-9a-f]+:\t/ {
        split($0, f, "\t"); insn = f[2]; sub(/^ +/, "", insn); split(insn, w, " "); op = w[1]
        if (fn ~ /[Aa]vx2/) next
        if ((op ~ /^v/ && op !~ /^verr|^verw/) || insn ~ /%[yz]mm|%k[0-7]/ ||
            op ~ /^(andn|bextr|blsi|blsmsk|blsr|bzhi|mulx|pdep|pext|rorx|sarx|shlx|shrx|popcnt|lzcnt|movbe)$/ ||
            op ~ /^(pshufb|palignr|phadd|phsub|pmaddubsw|pmulhrsw|psign|pabs|lddqu|movddup|movshdup|movsldup|haddp|hsubp|addsubp)/ ||
            op ~ /^(ptest|pblend|blendp|blendvp|pminsb|pminsd|pminud|pminuw|pmaxsb|pmaxsd|pmaxud|pmaxuw|pmulld|pmuldq|pextr[bdq]|pinsr[bdq]|extractps|insertps|round[sp][sd]|dpp[sd]|mpsadbw|phminposuw|pcmpeqq|pcmpgtq|packusdw|pmovsx|pmovzx|movntdqa|crc32|pcmp[ei]str)/)
            print fn ": " insn
    }')"
if [[ -n "$bad" ]]; then
    echo "portable check: $so holds instructions beyond x86-64 outside the AVX2 variant:" >&2
    sort <<<"$bad" | uniq -c | sort -rn | head -n 20 >&2
    echo "($(wc -l <<<"$bad") instructions; was it built with -march=native?)" >&2
    exit 1
fi
n="$(objdump -d --no-show-raw-insn "$so" | grep -c '^[0-9a-f]* <[^>]*[Aa]vx2[^>]*>:' || true)"
echo "portable check: $so is x86-64 baseline code outside its $n AVX2-variant functions"
