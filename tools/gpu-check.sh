#!/usr/bin/env bash
# GPU checks for the CUDA backend, in two halves because the GPU machine has no Java and no Maven:
#
#   tools/gpu-check.sh bundle      HERE (JDK 25 + Maven): builds target/gpu-bundle/ = a stripped JRE without
#                                  java.desktop, the compiled main/test classes (without the kernels and fixtures,
#                                  which travel as tracked files), the runtime jars, JCuda's driver binding only,
#                                  and the SD2 configs for the full-size bench. About 16 MB, so that with the
#                                  tracked tree it stays under the device tool's 64 MiB transfer limit (checked at the end).
#   tools/gpu-check.sh run [STEP...]
#                                  ON THE GPU MACHINE (device tool: carry ["target/gpu-bundle"]). The device time of a
#                                  session is short (15 minutes in all, machine start included), so one call runs
#                                  everything, most important first, inside a budget: GPU_CHECK_BUDGET seconds (default
#                                  420; give the device tool a timeout_s about 60 s longer). Each step has a cap and gets
#                                  at most the time left; a step that would get under 25 s is skipped and says so. Steps
#                                  (default: all of them, in this order):
#                                    smoke      CudaSmoke: driver → memory → kernel → cuBLAS → cuDNN → backend; stops the
#                                               run when a step before cuDNN fails; when cuDNN fails, every later step
#                                               runs with -Donestep.cuda.conv=im2col (cuDNN unloaded) so the rest is checked
#                                    tests      every test in dev.onestep.backend.cuda but CudaBindingAbiTest (parity per op and dtype, fixture
#                                               networks and pipelines, pool), one line per test, measured errors logged
#                                    bench      `onestep bench --device cuda --res 768x768 --dtype bf16` (the issue's figure)
#                                    peer       diffusers on this machine's PyTorch, the same pass and shapes (../shared/peers/
#                                               gpu_peer.py: eager, torch.compile; GPU_CHECK_PEER_MODES adds graphs), right after
#                                               the bench so the two are side by side in one run (peer.txt; figures in bench.jsonl)
#                                    batch      the bf16 bench with --batch 4 (throughput of list predictions)
#                                    profile    the same with --profile: device time per op and shape (CUDA events)
#                                    memcheck   compute-sanitizer memcheck + leak check over CudaSanitizerTarget
#                                    racecheck  compute-sanitizer racecheck over the shared-memory kernels
#                                    dtypes     the bench in fp16 and fp32
#                                    ab         the bf16 bench with 64-row, then 96-row attention_fa blocks, with attention_tc*
#                                               instead of attention_fa*, with CUDA-core attention, with cuDNN's fused conv off
#                                    ops        CudaBench: op throughput at the SD2 768² shapes, per dtype
#                                  Files in $OUT (or target/gpu-out), at most the tool's 8, each written as the run goes:
#                                    summary.txt   the device, libraries, each step's status and seconds (read this first)
#                                    smoke.txt  tests.txt  errors.tsv (every comparison's max|diff|, NMSE, bound)
#                                    sanitizer.txt (memcheck, then racecheck)  bench.txt  bench.jsonl (one line per bench run,
#                                    the peer's as {"run": "peer", ...})
#                                  Exit status: non-zero when a step failed or ran out of time.
# GPU_CHECK_DEVICE and GPU_CHECK_RES (default cuda, 768x768) exist to try the runbook itself on the CPU emulator:
#   LD_LIBRARY_PATH=target/cudaemu ONESTEP_CUDA_LIB_PATH=target/cudaemu GPU_CHECK_RES=16x16 tools/gpu-check.sh run
set -euo pipefail
cd "$(dirname "$0")/.."
bundle=target/gpu-bundle
mode=${1:-}

if [[ $mode == bundle ]]; then
  source tools/java-env.sh
  mvn -q -B -ntp test-compile
  rm -rf "$bundle" && mkdir -p "$bundle/lib"
  mvn -q -B -ntp dependency:copy-dependencies -DincludeScope=test -DoutputDirectory="$bundle/lib.all"
  for j in "$bundle"/lib.all/*.jar; do
    case $(basename "$j") in
      jcuda-natives-*) # only libJCudaDriver: the runtime/NVRTC/PTX-compiler bindings are 25 MB we never load
        t=$(mktemp -d); (cd "$t" && unzip -q "$OLDPWD/$j" 'lib/libJCudaDriver-*' && jar --create --file "$OLDPWD/$bundle/lib/jcuda-driver-natives.jar" lib); rm -rf "$t" ;;
      cuda-[0-9]*) ;; # org.bytedeco:cuda: header declarations for CudaBindingAbiTest, a CPU-only test (1 MB)
      jazzer-*) ;; # the fuzzer (9 MB): the fuzz targets are CPU tests
      *) cp "$j" "$bundle/lib/" ;;
    esac
  done
  rm -rf "$bundle/lib.all"
  jar --create --file "$bundle/classes.jar" -C target/classes dev
  jar --create --file "$bundle/test-classes.jar" -C target/test-classes dev
  [[ -d ../shared/configs/sd2 ]] && cp -r ../shared/configs/sd2 "$bundle/sd2-config"
  [[ -d /work/shared/configs/sd2 && ! -d $bundle/sd2-config ]] && cp -r /work/shared/configs/sd2 "$bundle/sd2-config"
  [[ -d $bundle/sd2-config ]] && chmod -R u+w "$bundle/sd2-config"
  # the PyTorch peer: gpu_peer.py and the diffusers source it imports (the GPU machine has torch, not diffusers)
  for d in ../shared/peers /work/shared/peers; do
    if [[ -f $d/gpu_peer.py && ! -d $bundle/peer ]]; then
      # the diffusers source re-packed as xz: 1.7 MB instead of 4.9 (the transfer limit is tight)
      mkdir -p "$bundle/peer" && cp "$d/gpu_peer.py" "$bundle/peer/" && gzip -dc "$d"/diffusers-*-src.tar.gz | xz -9 -T0 > "$bundle/peer/diffusers-src.tar.xz"
    fi
  done
  work=$(mktemp -d)
  "$JAVA_HOME/bin/jlink" --add-modules java.base,java.logging,jdk.zipfs,jdk.incubator.vector --strip-debug --no-header-files \
    --exclude-files="**/security/cacerts,**/security/public_suffix_list.dat" \
    --no-man-pages --output "$work/jre" 2>/dev/null
  strip --strip-unneeded "$work"/jre/lib/server/libjvm.so "$work"/jre/lib/*.so 2>/dev/null || true
  tar -C "$work" -cf - jre | xz -9e -T0 > "$bundle/jre.tar.xz"
  rm -rf "$work"
  du -sh "$bundle"; ls -l "$bundle" "$bundle/lib"
  # the device tool carries tracked + untracked-not-ignored files plus the carried bundle, 64 MiB in all
  # (files deleted but not yet committed are listed by git and missing on disk: du skips them without failing the script)
  tree=$( { git ls-files -z; git ls-files -z --others --exclude-standard; } | { xargs -0 du -cb 2>/dev/null || true; } \
    | awk '$2 == "total" {s += $1} END {print s}')
  carried=$(du -sb "$bundle" | cut -f1)
  total=$((tree + carried)); limit=$((64 << 20))
  echo "travels: tree $tree + bundle $carried = $total bytes of the device tool's $limit"
  if ((total > limit)); then
    echo "gpu-check: OVER the device tool's 64 MiB limit by $((total - limit)) bytes: the run would be refused" >&2
    exit 1
  fi
  exit 0
fi

[[ $mode == run ]] || { echo "usage: tools/gpu-check.sh bundle | run [smoke tests bench peer batch profile memcheck racecheck dtypes ab ops]" >&2; exit 2; }
shift
steps=("$@")
((${#steps[@]})) || steps=(smoke tests bench peer batch profile memcheck racecheck dtypes ab ops)
t_start=$SECONDS
budget=${GPU_CHECK_BUDGET:-420}
out=${OUT:-target/gpu-out}
mkdir -p "$out"
summary=$out/summary.txt
: > "$summary"
note() { echo "$*" | tee -a "$summary"; }
[[ -f $bundle/jre.tar.xz ]] || { note "no $bundle: run 'tools/gpu-check.sh bundle' first and carry target/gpu-bundle"; exit 2; }
jre=$(mktemp -d)
tar -xJf "$bundle/jre.tar.xz" -C "$jre"
java="$jre/jre/bin/java"
# kernels and fixtures from the tracked tree, classes from the bundle
cp="src/main/resources:src/test/resources:$bundle/classes.jar:$bundle/test-classes.jar:$bundle/lib/*"
flags=(--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xss4m -Xmx16g)
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer /opt/nvidia/*/compute-sanitizer 2>/dev/null | head -1 || true)
{
  echo "== device"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader 2>/dev/null || echo "nvidia-smi: not available"
  echo "== libraries"
  echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"; echo "ONESTEP_CUDA_LIB_PATH=${ONESTEP_CUDA_LIB_PATH:-}"
  ldconfig -p 2>/dev/null | grep -E 'libcuda\.so|libcublas|libcudnn' || true
  find / -xdev \( -name 'libcublas.so.1[23]' -o -name 'libcublasLt.so.1[23]' -o -name 'libcudnn.so.9' -o -name 'libcudnn_cnn.so.9' \
    -o -name 'libcuda.so.1' -o -name 'libnvrtc.so*' \) -not -path '/proc/*' 2>/dev/null | head -20 || true
  echo "compute-sanitizer: ${san:-not found}"
  echo "== steps (budget ${budget} s): ${steps[*]}"
} >> "$summary" 2>&1
cat "$summary"
status=0

# step NAME CAP LOG CMD...: runs CMD with the smaller of CAP and the budget left, appending its output to LOG and a
# status line to summary.txt; returns CMD's status (124 when it ran out of time), 125 when skipped for lack of time
step() {
  local name=$1 cap=$2 log=$3; shift 3
  local left=$((budget - (SECONDS - t_start) - 5))
  if ((left < 25)); then note "SKIP  $name: ${left} s of the budget left"; return 125; fi
  local limit=$((cap < left ? cap : left)) t0=$SECONDS rc=0
  echo "=== $name (limit ${limit} s): $*" >> "$log"
  timeout -k 10 "$limit" "$@" >> "$log" 2>&1 || rc=$?
  local took=$((SECONDS - t0)) word=ok
  ((rc == 0)) || word="FAIL (exit $rc)"
  ((rc == 124 || rc == 137)) && word="OUT OF TIME after ${took} s"
  note "$(printf '%-5s %-28s %4d s  %s' "$([[ $rc == 0 ]] && echo OK || echo FAIL)" "$name" "$took" "$word")"
  return $rc
}
want() { local s; for s in "${steps[@]}"; do [[ $s == "$1" ]] && return 0; done; return 1; }

if want smoke; then
  # synchronise after every launch so an asynchronous fault is reported at its kernel
  rc=0; step smoke 120 "$out/smoke.txt" "$java" "${flags[@]}" -Donestep.cuda.syncEachLaunch=true -cp "$cp" dev.onestep.backend.cuda.CudaSmoke || rc=$?
  last=$(grep -o '^== smoke [0-9]' "$out/smoke.txt" | tail -1 | grep -o '[0-9]$' || echo 0)
  if ((rc != 0)); then
    status=1
    if ((last == 5)); then
      flags+=(-Donestep.cuda.conv=im2col)
      note "smoke failed in cuDNN (step 5): every later step runs with -Donestep.cuda.conv=im2col"
    elif ((last < 5)); then
      note "smoke failed at step $last, before cuDNN: nothing later can work; see smoke.txt"
      exit 1
    fi
  fi
fi

if want tests; then
  # -Donestep.cuda.syncEachLaunch=true would name the kernel of an asynchronous fault (slower)
  step tests 240 "$out/tests.txt" "$java" "${flags[@]}" -Donestep.test.errors="$out/errors.tsv" -cp "$cp" dev.onestep.backend.cuda.GpuTestMain || status=1
fi

# the issue's benchmark (full-size SD2, synthetic weights); every run appends to bench.txt and adds a line to bench.jsonl
: > "$out/bench.jsonl"
bench() { # NAME [java -D flags...] -- [bench options...]
  local name=$1; shift; local jflags=(); while [[ $1 != -- ]]; do jflags+=("$1"); shift; done; shift
  local json; json=$(mktemp)
  local rc=0
  step "bench $name" 150 "$out/bench.txt" "$java" "${flags[@]}" "${jflags[@]}" -cp "$cp" dev.onestep.cli.Main bench \
    --device "${GPU_CHECK_DEVICE:-cuda}" --res "${GPU_CHECK_RES:-768x768}" ${GPU_CHECK_BENCH_ARGS:---warmup 2 --iters 5} --json "$json" "$@" || rc=$?
  [[ -s $json ]] && { printf '{"run": "%s", ' "$name"; tr -d '\n' < "$json" | sed 's/^{//'; echo; } >> "$out/bench.jsonl"
  rm -f "$json"
  ((rc == 0 || rc == 125)) || status=1
}
want bench && bench bf16 -- --dtype bf16
if want peer; then
  if [[ -f $bundle/peer/gpu_peer.py ]] && command -v python3 >/dev/null; then
    py=$(mktemp -d)
    tar -xJf "$bundle/peer/diffusers-src.tar.xz" -C "$py"
    res=${GPU_CHECK_RES:-768x768}
    IFS=, read -r -a modes <<< "${GPU_CHECK_PEER_MODES:-eager,compile}"
    for m in "${modes[@]}"; do # one step per mode: a compile that runs out of time leaves eager's figures
      step "peer $m" "$([[ $m == eager ]] && echo 90 || echo 240)" "$out/peer.txt" env PYTHONPATH="$py" python3 "$bundle/peer/gpu_peer.py" \
        --res "$res" --dtype bf16 --modes "$m" --warmup 2 --iters 5 --configs "$bundle/sd2-config" --json "$out/peer-$m.json" \
        || { rc=$?; ((rc == 125)) || status=1; }
      [[ -s $out/peer-$m.json ]] && { printf '{"run": "peer-%s", ' "$m"; tr -d '\n' < "$out/peer-$m.json" | sed 's/^{//'; echo; } >> "$out/bench.jsonl"
      rm -f "$out/peer-$m.json"
    done
    rm -rf "$py"
  else
    note "SKIP  peer: no $bundle/peer/gpu_peer.py (bundle without ../shared/peers) or no python3"
  fi
fi
want batch && bench bf16-batch4 -- --dtype bf16 --batch 4
want profile && bench bf16-profile -- --dtype bf16 --profile

sanitize() { # NAME TOOL TARGET [tool options...]
  local name=$1 tool=$2 target=$3; shift 3
  if [[ -z $san ]]; then note "SKIP  $name: compute-sanitizer not found"; return; fi
  step "$name" "$([[ $tool == memcheck ]] && echo 180 || echo 150)" "$out/sanitizer.txt" "$san" --tool "$tool" --error-exitcode 3 "$@" \
    "$java" "${flags[@]}" -cp "$cp" dev.onestep.backend.cuda.GpuTestMain "$target" || { local rc=$?; ((rc == 125)) || status=1; }
}
# memcheck over the fixture networks in every dtype and the shared-memory kernels; --leak-check needs every backend
# closed, which the target does
want memcheck && sanitize memcheck memcheck CudaSanitizerTarget --leak-check full
want racecheck && sanitize racecheck racecheck 'CudaSanitizerTarget#sharedMemoryKernelsRunCleanly' --racecheck-report analysis
if want dtypes; then bench fp16 -- --dtype fp16; bench fp32 -- --dtype fp32; fi
if want ab; then
  # A/B switches side by side on the same warm machine: attention_fa block heights 64 and 96, attention_fa off
  # (attention_tc*), tensor-core attention off (CUDA cores), cuDNN's fused conv-bias-add off
  bench bf16-fa-64-rows -Donestep.cuda.faRows=64 -Donestep.cuda.fa512Rows=64 -- --dtype bf16
  bench bf16-fa-96-rows -Donestep.cuda.faRows=96 -- --dtype bf16
  bench bf16-tc-attention -Donestep.cuda.faAttention=false -- --dtype bf16
  bench bf16-cudacore-attention -Donestep.cuda.tcAttention=false -- --dtype bf16
  bench bf16-unfused-conv -Donestep.cuda.fusedConv=false -- --dtype bf16
fi
if want ops; then
  step "ops (CudaBench)" 120 "$out/bench.txt" "$java" "${flags[@]}" -cp "$cp" dev.onestep.backend.cuda.CudaBench quick || { rc=$?; ((rc == 125)) || status=1; }
fi
note "done in $((SECONDS - t_start)) s of the ${budget} s budget; exit $status"
exit $status
