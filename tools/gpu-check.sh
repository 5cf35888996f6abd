#!/usr/bin/env bash
# GPU checks for the CUDA backend, in two halves because the GPU machine has no Java and no Maven:
#
#   tools/gpu-check.sh bundle      HERE (JDK 25 + Maven): builds target/gpu-bundle/ = a stripped JRE without
#                                  java.desktop, the compiled main/test classes (without the kernels and fixtures,
#                                  which travel as tracked files), the runtime jars, JCuda's driver binding only,
#                                  and the SD2 configs for the full-size bench. About 16 MB, so that with the
#                                  tracked tree it stays under the device tool's 64 MiB transfer limit (checked at the end).
#   tools/gpu-check.sh run [what]  ON THE GPU MACHINE (device tool: carry ["target/gpu-bundle"]); what =
#                                  smoke | tests | sanitize | bench | all (default all). Logs go to $OUT (or target/gpu-out):
#                                    env.txt          nvidia-smi, where libcuda/libcublas/libcudnn are, LD_LIBRARY_PATH
#                                    smoke.txt        CudaSmoke: driver → memory → kernel → cuBLAS → cuDNN → backend, one
#                                                     line per step, stops at the first failure (exit 10 + step)
#                                    cuda-tests.txt   every test in dev.onestep.backend.cuda (parity, fixtures, pool)
#                                    sanitizer.txt    compute-sanitizer memcheck over the fixture networks (fp32)
#                                    bench.txt        `onestep bench --device cuda --res 768x768`: bf16, A/B runs (CUDA-core
#                                                     attention, unfused conv), fp16, fp32; then CudaBench op throughput
#                                    bench.jsonl      one line per bench run: its --json output plus "run"
# 'all' runs smoke first and stops there when it fails (every later step would fail the same way, slower).
# Exit status: non-zero when the smoke check, a test or the sanitizer failed.
set -euo pipefail
cd "$(dirname "$0")/.."
bundle=target/gpu-bundle
mode=${1:-}

if [[ $mode == bundle ]]; then
  source tools/java-env.sh
  mvn -q -B -o test-compile
  rm -rf "$bundle" && mkdir -p "$bundle/lib"
  mvn -q -B -o dependency:copy-dependencies -DincludeScope=test -DoutputDirectory="$bundle/lib.all"
  for j in "$bundle"/lib.all/*.jar; do
    case $(basename "$j") in
      jcuda-natives-*) # only libJCudaDriver: the runtime/NVRTC/PTX-compiler bindings are 25 MB we never load
        t=$(mktemp -d); (cd "$t" && unzip -q "$OLDPWD/$j" 'lib/libJCudaDriver-*' && jar --create --file "$OLDPWD/$bundle/lib/jcuda-driver-natives.jar" lib); rm -rf "$t" ;;
      *) cp "$j" "$bundle/lib/" ;;
    esac
  done
  rm -rf "$bundle/lib.all"
  jar --create --file "$bundle/classes.jar" -C target/classes dev
  jar --create --file "$bundle/test-classes.jar" -C target/test-classes dev
  [[ -d ../shared/configs/sd2 ]] && cp -r ../shared/configs/sd2 "$bundle/sd2-config"
  [[ -d /work/shared/configs/sd2 && ! -d $bundle/sd2-config ]] && cp -r /work/shared/configs/sd2 "$bundle/sd2-config"
  [[ -d $bundle/sd2-config ]] && chmod -R u+w "$bundle/sd2-config"
  work=$(mktemp -d)
  "$JAVA_HOME/bin/jlink" --add-modules java.base,java.logging,jdk.zipfs,jdk.incubator.vector --strip-debug --no-header-files \
    --no-man-pages --output "$work/jre" 2>/dev/null
  strip --strip-unneeded "$work"/jre/lib/server/libjvm.so "$work"/jre/lib/*.so 2>/dev/null || true
  tar -C "$work" -cf - jre | xz -9e -T0 > "$bundle/jre.tar.xz"
  rm -rf "$work"
  du -sh "$bundle"; ls -l "$bundle" "$bundle/lib"
  # the device tool carries tracked + untracked-not-ignored files plus the carried bundle, 64 MiB in all
  tree=$( { git ls-files -z; git ls-files -z --others --exclude-standard; } | xargs -0 du -cb 2>/dev/null | awk '$2 == "total" {s += $1} END {print s}')
  carried=$(du -sb "$bundle" | cut -f1)
  total=$((tree + carried)); limit=$((64 << 20))
  echo "travels: tree $tree + bundle $carried = $total bytes of the device tool's $limit"
  if ((total > limit)); then
    echo "gpu-check: OVER the device tool's 64 MiB limit by $((total - limit)) bytes: the run would be refused" >&2
    exit 1
  fi
  exit 0
fi

[[ $mode == run ]] || { echo "usage: tools/gpu-check.sh bundle | run [smoke|tests|sanitize|bench|all]" >&2; exit 2; }
what=${2:-all}
out=${OUT:-target/gpu-out}
mkdir -p "$out"
[[ -f $bundle/jre.tar.xz ]] || { echo "no $bundle: run 'tools/gpu-check.sh bundle' first and carry target/gpu-bundle" >&2; exit 2; }
jre=$(mktemp -d)
tar -xJf "$bundle/jre.tar.xz" -C "$jre"
java="$jre/jre/bin/java"
# kernels and fixtures from the tracked tree, classes from the bundle
cp="src/main/resources:src/test/resources:$bundle/classes.jar:$bundle/test-classes.jar:$bundle/lib/*"
flags=(--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xss4m -Xmx16g)
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true; } | tee "$out/device.txt"
{
  echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"; echo "ONESTEP_CUDA_LIB_PATH=${ONESTEP_CUDA_LIB_PATH:-}"
  echo "--- ldconfig"; ldconfig -p 2>/dev/null | grep -E 'libcuda\.so|libcublas|libcudnn' || true
  echo "--- files"; find / -xdev \( -name 'libcublas.so.1[23]' -o -name 'libcudnn.so.9' -o -name 'libcudnn_cnn.so.9' -o -name 'libcuda.so.1' \) \
    -not -path '/proc/*' 2>/dev/null | head -20 || true
  echo "--- compute-sanitizer: $(command -v compute-sanitizer || echo 'not on PATH')"
} > "$out/env.txt" 2>&1
cat "$out/env.txt"
status=0

if [[ $what == smoke || $what == all ]]; then
  # synchronise after every launch so an asynchronous fault is reported at its kernel
  if ! "$java" "${flags[@]}" -Donestep.cuda.syncEachLaunch=true -cp "$cp" dev.onestep.backend.cuda.CudaSmoke 2>&1 | tee "$out/smoke.txt"; then
    echo "smoke check FAILED (see $out/smoke.txt); not running the rest" >&2
    exit 1
  fi
fi

if [[ $what == tests || $what == all ]]; then
  # -Donestep.cuda.syncEachLaunch=true would name the kernel of an asynchronous fault (slower)
  "$java" "${flags[@]}" -cp "$cp" dev.onestep.backend.cuda.GpuTestMain 2>&1 | tee "$out/cuda-tests.txt" || status=1
fi

if [[ $what == sanitize || $what == all ]]; then
  # memcheck over the fixture networks in fp32 (text encoder, VAE, UNet, both cases); --leak-check needs the
  # backends closed, which the test's @AfterAll does
  san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1 || true)
  [[ -n $san ]] || { echo "compute-sanitizer not found; skipping the sanitizer" | tee "$out/sanitizer.txt"; san=""; }
  [[ -z $san ]] || "$san" --tool memcheck --leak-check full --error-exitcode 3 \
    "$java" "${flags[@]}" -cp "$cp" dev.onestep.backend.cuda.GpuTestMain CudaSanitizerTarget 2>&1 | tee "$out/sanitizer.txt" || status=1
fi

if [[ $what == bench || $what == all ]]; then
  # the issue's benchmark (full-size SD2, synthetic weights): bf16, then A/B switches side by side on the same
  # warm machine (tensor-core attention off; cuDNN's fused conv-bias-add off), fp16 and fp32; JSON per run
  # $OUT returns at most 8 files: every run appends to bench.txt, and its JSON becomes one line of bench.jsonl
  : > "$out/bench.txt"; : > "$out/bench.jsonl"
  bench() { # NAME [java -D flags...] -- [bench options...]
    local name=$1; shift; local jflags=(); while [[ $1 != -- ]]; do jflags+=("$1"); shift; done; shift
    local json; json=$(mktemp)
    echo "=== $name: ${jflags[*]} $*" | tee -a "$out/bench.txt"
    "$java" "${flags[@]}" "${jflags[@]}" -cp "$cp" dev.onestep.cli.Main bench --device "${GPU_CHECK_DEVICE:-cuda}" --res "${GPU_CHECK_RES:-768x768}" --warmup 2 --iters 5 \
      --json "$json" "$@" 2>&1 | tee -a "$out/bench.txt" || status=1
    [[ -s $json ]] && { printf '{"run": "%s", ' "$name"; tr -d '\n' < "$json" | sed 's/^{//'; echo; } >> "$out/bench.jsonl"
    rm -f "$json"
  }
  bench bf16 -- --dtype bf16
  bench bf16-cudacore-attention -Donestep.cuda.tcAttention=false -- --dtype bf16
  bench bf16-unfused-conv -Donestep.cuda.fusedConv=false -- --dtype bf16
  bench fp16 -- --dtype fp16
  bench fp32 -- --dtype fp32
  # op throughput at the SD2 768² shapes
  echo "=== CudaBench (ops)" | tee -a "$out/bench.txt"
  "$java" "${flags[@]}" -cp "$cp" dev.onestep.backend.cuda.CudaBench full "$bundle/sd2-config" 2>&1 | tee -a "$out/bench.txt" || status=1
fi
exit $status
