# shellcheck shell=bash
# Shared helpers for kiln's scripts (scripts/demo, scripts/test, scripts/bench,
# scripts/fuzz).
# Source it; it defines functions and exports a few variables, nothing more.
#
#   source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
#   kiln_install_deps
#   kiln_configure build/release -DCMAKE_BUILD_TYPE=Release
#   kiln_build build/release

# The repository root, whatever directory the caller runs from.
KILN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export KILN_ROOT

# CI-friendly environment: apt must never stop to ask a question, and tools
# should not page or colour their output into logs.
export DEBIAN_FRONTEND=noninteractive
export CLICOLOR=0
export CMAKE_COLOR_DIAGNOSTICS=OFF
# ctest prints a failing test's output without being asked.
export CTEST_OUTPUT_ON_FAILURE=1

# ccache hashes the working directory into -g compilations by default, so
# the same sources built in another tree (build/asan, and the consumer build
# of tests/install, which compiles kiln again) would always miss. Objects
# from another directory are fine for tests and CI.
export CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-1}"

# Parallel jobs for builds and tests; override with KILN_JOBS=N.
KILN_JOBS="${KILN_JOBS:-$(nproc 2>/dev/null || echo 2)}"
export KILN_JOBS

# Debian packages the build needs. libbenchmark-dev is only for bench/, but it
# is small and installing it keeps every script's build tree identical. clang
# is the second compiler the exported-source test builds with; llvm-19-dev
# (with libzstd-dev, which its CMake config needs) is Backend::llvm; Eigen is a
# baseline in bench/.
# graphviz: its `dot` renders KILN_DUMP=dot's pictures of the IR as SVG (docs/pictures.md; tests/ir/dot.cpp).
KILN_DEPS=(cmake ninja-build g++ clang catch2 ccache libbenchmark-dev llvm-19-dev libzstd-dev libeigen3-dev graphviz)

# The libFuzzer target on the IR parser (tests/libfuzzer/, scripts/fuzz and
# the third entry of scripts/test) needs clang >= 15 (libstdc++ 12's
# <source_location> needs __builtin_source_location; Debian 12's default clang
# is 14) and libFuzzer's runtime. Installed only by those two scripts, so a
# machine where they cannot be installed still builds and tests kiln itself.
# shellcheck disable=SC2034  # used by scripts/fuzz and scripts/test
KILN_FUZZ_DEPS=(clang-19 libclang-rt-19-dev)

kiln_log() { printf '==> %s\n' "$*"; }
kiln_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Installs whichever of KILN_DEPS (or the packages given) are missing.
# Idempotent and cheap when everything is present: it only asks dpkg, and runs
# apt-get (update once, then install) only for what is actually missing.
# shellcheck disable=SC2120  # the package list is optional
kiln_install_deps() {
  local pkgs=("$@")
  [[ ${#pkgs[@]} -gt 0 ]] || pkgs=("${KILN_DEPS[@]}")
  local missing=() p
  for p in "${pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$p")
    fi
  done
  if [[ ${#missing[@]} -eq 0 ]]; then
    kiln_log "dependencies present: ${pkgs[*]}"
    return 0
  fi

  # Root runs apt-get directly; anyone else needs sudo (non-interactive use of
  # sudo still needs the environment, hence the explicit DEBIAN_FRONTEND).
  local -a as_root
  if [[ $(id -u) -eq 0 ]]; then
    as_root=(env DEBIAN_FRONTEND=noninteractive)
  elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo env DEBIAN_FRONTEND=noninteractive)
  else
    kiln_die "missing Debian packages: ${missing[*]}
  Not root and sudo is not available. Install them with:
    apt-get install -y --no-install-recommends ${missing[*]}"
  fi

  kiln_log "installing missing packages: ${missing[*]}"
  "${as_root[@]}" apt-get update
  "${as_root[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
}

# Echoes BUILD_DIR as an absolute path (relative paths are taken from the
# repository root, so scripts behave the same from any working directory).
kiln_abs_build_dir() {
  case "$1" in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s\n' "$KILN_ROOT/$1" ;;
  esac
}

# kiln_configure BUILD_DIR [extra cmake args...]
# Configures kiln with Ninja; with ccache as the compiler launcher when it is
# installed (rebuilding the same sources in several trees is then cheap).
kiln_configure() {
  [[ $# -ge 1 ]] || kiln_die "usage: kiln_configure BUILD_DIR [cmake args...]"
  local dir
  dir="$(kiln_abs_build_dir "$1")"
  shift
  local -a args=(-S "$KILN_ROOT" -B "$dir" -G Ninja)
  if command -v ccache >/dev/null 2>&1; then
    args+=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  fi
  kiln_log "configuring $dir"
  cmake "${args[@]}" "$@"
}

# kiln_build BUILD_DIR [extra cmake --build args...]
kiln_build() {
  [[ $# -ge 1 ]] || kiln_die "usage: kiln_build BUILD_DIR [cmake --build args...]"
  local dir
  dir="$(kiln_abs_build_dir "$1")"
  shift
  kiln_log "building $dir (-j$KILN_JOBS)"
  cmake --build "$dir" -j "$KILN_JOBS" "$@"
}
