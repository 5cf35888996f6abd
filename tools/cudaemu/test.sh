#!/usr/bin/env bash
# Runs CUDA test classes against the CPU emulator of the CUDA stack (builds it first when stale).
#   usage: tools/cudaemu/test.sh                       every CUDA test class (the cuda-emulated execution of mvn test)
#          tools/cudaemu/test.sh CudaBackendOpsTest    some classes (surefire -Dtest syntax: Class, Class#method)
#          tools/cudaemu/test.sh --memcheck [CLASS...] every device buffer exact-size and followed by a guard page
#                                                      (ONESTEP_CUDAEMU_GUARD=1, -Donestep.cuda.poolExact=true): a
#                                                      kernel that reads or writes past a tensor's end crashes the
#                                                      test JVM, and its hs_err file names the kernel
# Reports: target/surefire-reports-cudaemu/. The kernels' fprintf diagnostics ("cudaemu: ...") go to the test's stderr.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tools/java-env.sh
args=(-B -ntp test -Donestep.emulatedOnly=true)
if [[ ${1:-} == --memcheck ]]; then
  shift
  export ONESTEP_CUDAEMU_GUARD=1
  args+=(-Donestep.cuda.poolExact=true)
fi
if (($#)); then
  args+=("-Dtest=$(IFS=,; echo "$*")" -Dsurefire.failIfNoSpecifiedTests=false)
fi
exec mvn "${args[@]}"
