#!/bin/bash
# build.sh SRC_TARBALL OUTDIR — the kvm stage1's guest kernel (stage1-kvm/README.md "The guest kernel"):
# Debian's linux-source tarball, `make tinyconfig`, then guest.config merged on top, then olddefconfig; every
# option guest.config sets must survive (Kconfig silently drops options whose dependencies are missing), or
# the build fails naming them. Output: OUTDIR/vmlinux (stripped; QEMU boots it through its PVH entry) and
# OUTDIR/config. Needs gcc make bc flex bison libelf-dev (scripts/setup installs them).
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 SRC_TARBALL OUTDIR" >&2; exit 2; }
tarball=$(realpath "$1")
out=$(realpath -m "$2")
fragment=$(dirname "$(realpath "$0")")/guest.config
work=$out/src
rm -rf "$work"
mkdir -p "$work"
tar -xaf "$tarball" -C "$work" --strip-components=1
cd "$work"
export ARCH=x86_64 KBUILD_BUILD_USER=rkt KBUILD_BUILD_HOST=rkt KBUILD_BUILD_TIMESTAMP="$(date -u -d @0)"
# Each step warns about every default it overrides: expected, and what matters is checked just below.
make -s tinyconfig >"$out/config.log" 2>&1 || { cat "$out/config.log" >&2; exit 1; }
./scripts/kconfig/merge_config.sh -m -O . .config "$fragment" >>"$out/config.log" 2>&1 || { cat "$out/config.log" >&2; exit 1; }
make -s olddefconfig >>"$out/config.log" 2>&1 || { cat "$out/config.log" >&2; exit 1; }

missing=()
while IFS= read -r line; do
  case "$line" in
    CONFIG_*=*)
      opt=${line%%=*} want=${line#*=}
      got=$(grep -E "^${opt}=" .config | head -1 | cut -d= -f2- || true)
      [ "$got" = "$want" ] || missing+=("$opt (want $want, got ${got:-unset})")
      ;;
    "# CONFIG_"*" is not set")
      opt=${line#\# } opt=${opt%% *}
      if grep -qE "^${opt}=" .config; then missing+=("$opt (want it unset)"); fi
      ;;
  esac
done <"$fragment"
if [ ${#missing[@]} -gt 0 ]; then
  echo "guest kernel: options of guest.config that did not survive olddefconfig:" >&2
  printf '  %s\n' "${missing[@]}" >&2
  exit 1
fi

make -j"$(nproc)" vmlinux >"$out/build.log" 2>&1 || { tail -50 "$out/build.log" >&2; exit 1; }
cp .config "$out/config"
strip -o "$out/vmlinux" vmlinux
cd "$out"
rm -rf "$work"
