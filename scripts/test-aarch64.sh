#!/usr/bin/env bash
# The native SIMD kernel tests for aarch64, cross-compiled and run under qemu-user:
#   1. NEON forced (NUMPACK_SIMD=neon) on `-cpu max`;
#   2. SVE at vector length 16 bytes (kernels, every length 0..=600) and 3. 64 bytes (kernels,
#      search, threads), with REQUIRE_SVE=1 (the test fails unless SVE is detected and is the
#      tier chosen automatically);
#   4. a CPU without SVE (cortex-a72) asked for SVE: falls back to NEON, with a note.
# Needs gcc-aarch64-linux-gnu, libc6-dev-arm64-cross, qemu-user and the rustup target
# (scripts/setup.sh). The test profile is opt-level 1, so no release build is needed.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET=aarch64-unknown-linux-gnu
for tool in qemu-aarch64 aarch64-linux-gnu-gcc; do
  command -v "$tool" >/dev/null || { echo "test-aarch64: $tool missing; run scripts/setup.sh" >&2; exit 1; }
done

run() { # run <qemu cpu> <env...> -- <test filters...>
  local cpu=$1; shift
  local envs=()
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done
  shift
  echo "== qemu -cpu $cpu ${envs[*]} :: $*"
  env "${envs[@]}" CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu -cpu $cpu" \
    cargo test -q -p numpack-native --no-default-features --target "$TARGET" --test simd_tiers -- "$@"
}

cargo build -q -p numpack-native --no-default-features --target "$TARGET" --tests
run max NUMPACK_SIMD=neon -- neon_kernels neon_search expected_tiers tier_names
run max,sve-default-vector-length=16 REQUIRE_SVE=1 -- sve_kernels expected_tiers
run max,sve-default-vector-length=64 REQUIRE_SVE=1 -- sve_kernels sve_search expected_tiers threaded
run cortex-a72 NUMPACK_SIMD=sve -- expected_tiers tier_names
# The fused multi-query kernel at awkward shapes (its NEON tile, quad remainders included).
echo "== qemu -cpu max :: fused_shapes"
CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu -cpu max" \
  cargo test -q -p numpack-native --no-default-features --target "$TARGET" --test fused_shapes
echo "test-aarch64: all passed"
