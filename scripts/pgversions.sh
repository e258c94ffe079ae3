#!/usr/bin/env bash
# Run the whole test suite (scripts/test.sh) against another PostgreSQL major version, in a
# clean Debian root made with mmdebstrap: 17 from trixie, 18 from forky.  Usage:
#   scripts/pgversions.sh MAJOR          e.g. scripts/pgversions.sh 17
# The root holds the packages scripts/lib.sh lists for that version; it is kept in
# $ITEMCF_ROOTS/<release> (default /var/cache/itemcf-roots) and reused by later runs (test.sh
# inside installs whatever a newer checkout needs).  The checkout (committed or not, without
# build products and clusters) is copied into the root as /src; /proc, /dev and /dev/shm (parallel
# query's shared memory) are mounted while the suite runs and unmounted after.  Prints the
# inner run's output; its last line is "N passed, N failed"; exits with its status.
# Needs root (mmdebstrap, chroot, mount).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

major="${1:?usage: scripts/pgversions.sh MAJOR (17 or 18)}"
case "$major" in
    17) release=trixie aptopt=() ;;
    18) release=forky aptopt=(--aptopt='Acquire::Check-Valid-Until "false"') ;;   # the snapshot's Release file is expired
    *) itemcf_die "no Debian release known for PostgreSQL $major (17: trixie, 18: forky)" ;;
esac
[[ $EUID -eq 0 ]] || itemcf_die "scripts/pgversions.sh needs root (mmdebstrap, chroot, mount)"

roots="${ITEMCF_ROOTS:-/var/cache/itemcf-roots}"
root="$roots/$release"
mkdir -p "$roots"

if ! command -v mmdebstrap >/dev/null 2>&1; then
    itemcf_log "installing mmdebstrap"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null
fi

if [[ ! -f "$root/.itemcf-complete" ]]; then
    itemcf_log "making a Debian $release root for PostgreSQL $major in $root"
    rm -rf "$root"
    packages="$(itemcf_deb_packages "$major" | tr ' ' ',')"
    mmdebstrap --variant=apt "${aptopt[@]}" --include="$packages,git,procps,locales" \
        "$release" "$root" >"$roots/$release.log" 2>&1 ||
        { tail -20 "$roots/$release.log"; itemcf_die "mmdebstrap of $release failed"; }
    touch "$root/.itemcf-complete"
fi

# The checkout, without build products, clusters and logs
rm -rf "$root/src"
mkdir -p "$root/src"
tar -C "$ITEMCF_ROOT" --exclude=./.pg --exclude=./.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
    --exclude=./results --exclude=./bench/out --exclude=./test/c/build --exclude=./test/fuzz/build \
    -cf - . | tar -C "$root/src" -xf -

cleanup() {
    # a server left by an interrupted run holds the mounts
    chroot "$root" bash -c 'pkill -u postgres postgres 2>/dev/null; sleep 1' || true
    umount -R "$root/dev" 2>/dev/null || umount -l "$root/dev" 2>/dev/null || true
    umount "$root/proc" 2>/dev/null || umount -l "$root/proc" 2>/dev/null || true
}
trap cleanup EXIT
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount --make-rslave "$root/dev"

itemcf_log "running the suite against PostgreSQL $major in the $release root"
rc=0
chroot "$root" env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
    LANG=C.UTF-8 CI="${CI:-}" ITEMCF_PG_MAJOR="$major" ITEMCF_VERSIONS= ITEMCF_PGPORT="$ITEMCF_PGPORT" \
    ITEMCF_FUZZ_SECONDS="${ITEMCF_FUZZ_SECONDS:-30}" \
    bash -c 'cd /src && ./scripts/test.sh' || rc=$?
exit "$rc"
