#!/usr/bin/env bash
# Compiles kernels/*.cu into the committed outputs under src/main/resources/kernels/, each gzip-compressed (-9n: no
# name or time stamp, so the same input gives the same bytes; CudaDriver inflates them when it loads a module):
#   NAME.ptx.gz         compute_80 PTX (architecture-neutral; the driver JIT-compiles it for any GPU >= sm_80)
#   NAME.sm_80.cubin.gz machine code for Ampere (runs on every 8.x device)
#   NAME.sm_90.cubin.gz machine code for Hopper (9.0)
# Compressed because the GPU machine's tool carries the tracked tree within 64 MiB (5.9 MB of kernel images → ~1.3 MB).
#   MANIFEST         sha256 of every kernels/*.cu and *.cuh the outputs were built from, plus the nvcc version;
#                    KernelManifestTest fails when a source's hash no longer matches (outputs are stale).
# The backend prefers the cubin matching the device's compute capability and JIT-compiles the PTX otherwise.
#   usage: tools/compile-kernels.sh            (from the repository root; needs nvcc 12.x or 13.x)
#          NVCC=/path/to/nvcc tools/compile-kernels.sh
set -euo pipefail
cd "$(dirname "$0")/.."
NVCC=${NVCC:-nvcc}
out=src/main/resources/kernels
mkdir -p "$out"
# No --use_fast_math: expf/erf/division stay IEEE-accurate so fp32 results track the CPU reference.
# No -lineinfo: it nearly triples the cubins (attention.sm_90: 0.8 → 2.2 MB), and the device tool carries the
# tracked tree plus the GPU bundle within 64 MiB; compute-sanitizer still names the kernel and PC without it.
flags=(-std=c++17 -O3 -Ikernels)
rm -f "$out"/*.ptx "$out"/*.cubin "$out"/*.gz "$out"/MANIFEST
for cu in kernels/*.cu; do
  name=$(basename "$cu" .cu)
  "$NVCC" "${flags[@]}" -arch=compute_80 -ptx "$cu" -o "$out/$name.ptx"
  for sm in 80 90; do
    "$NVCC" "${flags[@]}" -gencode "arch=compute_$sm,code=sm_$sm" -cubin "$cu" -o "$out/$name.sm_$sm.cubin"
  done
  gzip -9n "$out/$name.ptx" "$out/$name.sm_80.cubin" "$out/$name.sm_90.cubin"
  echo "compiled $cu"
done
{
  echo "# sha256 of the kernel sources these outputs were compiled from (tools/compile-kernels.sh)"
  echo "# nvcc: $("$NVCC" --version | tail -n 2 | head -n 1)"
  for src in kernels/*.cuh kernels/*.cu; do sha256sum "$src"; done
} > "$out/MANIFEST"
ls -l "$out"
