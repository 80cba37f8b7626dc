#!/usr/bin/env bash
# Build the Lambda packages for provided.al2023: dist/ingress.zip, dist/sweeper.zip and dist/reconciler.zip, each holding the
# crate's release binary renamed `bootstrap`, linked against glibc 2.34 (Amazon Linux 2023's) at most.
#
#   scripts/package.sh [arm64|x86_64]        (default arm64; Terraform's `architecture` must be the same)
#
# Cross-linking uses cargo-zigbuild + zig from PyPI, installed once into .venv-package/. The Rust target
# must be installed: `rustup target add aarch64-unknown-linux-gnu` (arm64) or x86_64-unknown-linux-gnu.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
ARCH=${1:-arm64}
GLIBC=2.34 # Amazon Linux 2023
CRATES=(ingress sweeper reconciler)
VENV=$ROOT/.venv-package
PACKAGES=("cargo-zigbuild==0.24.1" "ziglang==0.17.1")

case $ARCH in
  arm64 | aarch64) ARCH=arm64 TRIPLE=aarch64-unknown-linux-gnu ;;
  x86_64 | amd64) ARCH=x86_64 TRIPLE=x86_64-unknown-linux-gnu ;;
  *) echo "usage: $0 [arm64|x86_64]" >&2; exit 2 ;;
esac

die() { echo "package.sh: $*" >&2; exit 1; }

command -v cargo >/dev/null || die "cargo not found (install Rust with rustup)"
if command -v rustup >/dev/null; then
  if ! rustup target list --installed | grep -qx "$TRIPLE"; then
    die "the Rust target $TRIPLE (for $ARCH) is not installed.
  On a machine with network access:  rustup target add $TRIPLE
  Or build for x86_64 instead:        $0 x86_64   (with architecture = \"x86_64\" in terraform.tfvars, applied)"
  fi
elif [[ ! -d "$(rustc --print sysroot)/lib/rustlib/$TRIPLE" ]]; then
  die "the Rust standard library for $TRIPLE is not installed (no rustup to add it)"
fi

# cargo-zigbuild and zig, from PyPI, once.
if ! "$VENV/bin/python" -c "import ziglang" 2>/dev/null || [[ ! -x $VENV/bin/cargo-zigbuild ]]; then
  echo "installing ${PACKAGES[*]} into .venv-package/"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PACKAGES[@]}"
fi
export PATH=$VENV/bin:$PATH
# zig's and cargo-zigbuild's caches stay inside the repository's ignored directories, not in ~/.cache.
export XDG_CACHE_HOME=$VENV/cache
export ZIG_GLOBAL_CACHE_DIR=$VENV/cache/zig
mkdir -p "$ZIG_GLOBAL_CACHE_DIR"

present=() missing=()
for crate in "${CRATES[@]}"; do
  if [[ -f $crate/Cargo.toml ]]; then present+=("$crate"); else missing+=("$crate"); fi
done
(( ${#present[@]} )) || die "none of the crates ${CRATES[*]} exists"
for crate in "${missing[@]}"; do
  echo "package.sh: WARNING: $crate/Cargo.toml does not exist yet: dist/$crate.zip is NOT built" >&2
done

TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
args=()
for crate in "${present[@]}"; do args+=(-p "$crate"); done
echo "building ${present[*]} for $TRIPLE (glibc <= $GLIBC), release profile"
locked=()
[[ -f Cargo.lock ]] && locked=(--locked) # build exactly the committed dependency versions
cargo zigbuild --release "${locked[@]}" --target "$TRIPLE.$GLIBC" "${args[@]}"

mkdir -p dist
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
for crate in "${present[@]}"; do
  bin=$TARGET_DIR/$TRIPLE/release/$crate
  [[ -x $bin ]] || die "expected binary $bin was not built"
  mkdir -p "$stage/$crate"
  cp "$bin" "$stage/$crate/bootstrap"
  chmod 0755 "$stage/$crate/bootstrap"
  rm -f "dist/$crate.zip"
  (cd "$stage/$crate" && zip -q -X -9 "$ROOT/dist/$crate.zip" bootstrap)

  glibc_max=$(objdump -T "$stage/$crate/bootstrap" | grep -oE 'GLIBC_[0-9]+(\.[0-9]+)+' | sort -uV | tail -1)
  printf '%-22s %8s bytes  %s\n' "dist/$crate.zip" "$(stat -c %s "dist/$crate.zip")" \
    "$(file -b "$stage/$crate/bootstrap" | cut -d, -f1-2), needs ${glibc_max:-no glibc symbols}"
  if [[ -n $glibc_max ]] && [[ $(printf '%s\n%s\n' "${glibc_max#GLIBC_}" "$GLIBC" | sort -V | tail -1) != "$GLIBC" ]]; then
    die "$crate needs $glibc_max, newer than Amazon Linux 2023's glibc $GLIBC"
  fi
done

echo "deploy (Terraform's architecture must be $ARCH): eval \"\$(terraform output -raw lambroll_env)\";" \
  "lambroll deploy --function function.json --src dist/ingress.zip;" \
  "lambroll deploy --function sweeper/function.json --src dist/sweeper.zip (docs/deploy.md section 5);" \
  "with the reconciler enabled: lambroll deploy --function reconciler/function.json --src dist/reconciler.zip"
(( ${#missing[@]} == 0 )) || { echo "package.sh: incomplete: ${missing[*]} missing" >&2; exit 3; }
