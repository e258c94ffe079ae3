#!/usr/bin/env bash
# Regenerate the seed corpus in corpus/ (committed; rerun after editing this file).
# Text seeds are the valid and invalid forms of test/c/test_svec.c; binary seeds are wire
# encodings (int32 count, int64 indices, float4 values, big-endian), some of them two values
# back to back, which the harness also feeds to the kernels as a pair.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
rm -rf corpus
mkdir corpus

n=0
text() { n=$((n + 1)); printf '%s' "$1" > "corpus/$(printf 'text-%03d' "$n")"; }

# valid
text '{}'
text ' { } '
text '{1:1.5,3:2}'
text $'\t{\n1\r:\v1.5\f,\t3\n:\r2\v}\f'
text '{3:1,1:2,2:3}'
text '{1:0,2:-0,3:0.0,4:1,5:-0.0e5,6:+0,7:.0,8:0e-99}'
text '{1:1.5,3:2}/5'
text '{1:1.5,3:2} / 5 '
text '{}/9223372036854775807'
text '{9223372036854775807:2,-9223372036854775808:1,0:-3}'
text '{1:1.,2:.5,3:+1,4:-2.5e+1,5:1E-1,6:-.25,7:1e-40,8:125e-1}'
text '{1:3.40282347e+38,2:-3.4028235e38,3:1.4e-45,4:1.17549435e-38}'
text '{1:1.00000000000000000000000000000000000001}'
text '{-0:1}'
text "{$(seq -s, 1 40 | sed 's/\([0-9]*\)/\1:1/g')}"
text "{$(seq -s, 2 2 80 | sed 's/\([0-9]*\)/\1:0.5/g'),79:3}"
# invalid
text ''
text '1:1}'
text '{1:1'
text '{'
text '{1:}'
text '{:1}'
text '{1:1,}'
text '{1:1 2:2}'
text '{1 1:1}'
text '{1:-}'
text '{1:.}'
text '{1:1e}'
text '{1:1e+}'
text '{1:1.2.3}'
text '{9223372036854775808:1}'
text '{-9223372036854775809:1}'
text '{99999999999999999999999:1}'
text '{1:1e40}'
text '{1:1e-50}'
text '{1:nan}'
text '{1:-NaN}'
text '{1:nan(123)}'
text '{1:Inf}'
text '{1:-infinity}'
text '{1:infin}'
text '{1:1,2:2,1:3}'
text '{7:0,7:1}'
text '{1:1}x'
text '{1:1} /5 x'
text '{1:0x10}'
text '{1:0x1p3}'
text '{0x10:1}'
text '{1:1}/0'
text '{}/-1'
text '{}/'
text '{}/9223372036854775808'
text '{1:1,6:2}/5'
text '{0:1}/5'

# binary
m=0
bin() { m=$((m + 1)); printf "$1" > "corpus/$(printf 'bin-%03d' "$m")"; }
be32() { printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(( ($1 >> 24) & 255 )) $(( ($1 >> 16) & 255 )) $(( ($1 >> 8) & 255 )) $(( $1 & 255 )); }
be64() { be32 $(( ($1 >> 32) & 0xffffffff )); be32 $(( $1 & 0xffffffff )); }
# wire COUNT "IDX..." "FLOATBITS...": one value
wire() {
    local out; out=$(be32 "$1")
    for i in $2; do out+=$(be64 "$i"); done
    for v in $3; do out+=$(be32 "$v"); done
    printf '%s' "$out"
}
ones() { local s=""; for ((k = 0; k < $1; k++)); do s+="0x3f800000 "; done; printf '%s' "$s"; }

bin "$(wire 0 "" "")"                                                     # empty
bin "$(wire 1 "1" "0x3f800000")"                                          # {1:1}
bin "$(wire 2 "1 -9223372036854775808" "0x3f800000 0xc0200000")"         # INT64_MIN
bin "$(wire 3 "30 -1 20" "0x3f800000 0x40000000 0x00000000")"            # unsorted, a zero
bin "$(wire 2 "3 7" "0x3f800000 0x7fc00000")"                             # NaN
bin "$(wire 2 "3 7" "0x7f800000 0x3f800000")"                             # Inf
bin "$(wire 2 "5 5" "0x3f800000 0x3f800000")"                             # duplicate
bin '\xff\xff\xff\xff'                                                    # negative count
bin '\x00\x00\x00\x01\x00'                                                # wrong length
bin '\x00\x98\x96\x81'                                                    # count > SVEC_MAX_NNZ
# pairs for the kernels: 32 entries 1..32 then {32,33} (galloping past the long one's end)
bin "$(wire 32 "$(seq -s' ' 1 32)" "$(ones 32)")$(wire 2 "32 33" "0x40000000 0x40400000")"
bin "$(wire 2 "1 2" "0x3f800000 0x40000000")$(wire 3 "2 3 4" "0x40000000 0x40400000 0x40800000")"
bin "$(wire 1 "5" "0x3f800000")$(wire 0 "" "")"
bin "$(wire 3 "-9223372036854775808 0 9223372036854775807" "0x3f800000 0x00000001 0xff7fffff")$(wire 34 "$(seq -s' ' -17 16)" "$(ones 34)")"

echo "corpus/: $n text seeds, $m binary seeds"

# corpus_cf/: valid results and serialized states for fuzz_cf (gen_cf_corpus.c, built by make corpus)
rm -rf corpus_cf
mkdir corpus_cf
[[ -x build/gen_cf_corpus ]] || make build/gen_cf_corpus >/dev/null
build/gen_cf_corpus
echo "corpus_cf/: $(ls corpus_cf | wc -l) seeds"
