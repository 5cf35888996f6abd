// Self-test of the emulator's execution engine (built and run by build.sh; a failure fails the build): barriers,
// every warp collective against its definition, atomics across parallel blocks, dynamic shared memory, the fiber
// stacks' ABI alignment, and that the engine REPORTS what would be undefined or hang on a GPU (threads waiting at
// __syncthreads for threads that wait in a shuffle for them, a shuffle whose mask names an exited lane).
#include "emu.h"
#include "registry.h"
#include "runtime.h"

#include <cstdlib>
#include <string>
#include <vector>

static const unsigned FULL_MASK = 0xffffffffu;
static int failures = 0;
#define EXPECT(cond, ...)                                   \
    do {                                                    \
        if (!(cond)) {                                      \
            std::fprintf(stderr, "selftest FAILED: " __VA_ARGS__); \
            std::fprintf(stderr, "\n");                     \
            failures++;                                     \
        }                                                   \
    } while (0)

// out[b·blockDim + t] = Σ_{i < blockDim} (i + b) through shared memory, __syncthreads between phases
__global__ void k_block_sum(int* out) {
    __shared__ int vals[1024];
    vals[threadIdx.x] = threadIdx.x + blockIdx.x;
    __syncthreads();
    int s = 0;
    for (unsigned i = 0; i < blockDim.x; i++) s += vals[i];
    __syncthreads();
    out[blockIdx.x * blockDim.x + threadIdx.x] = s;
}

// per lane: [xor 5, down 3, up 7, idx (lane·3)%32, ballot(lane odd)]
__global__ void k_warp(int* out) {
    int lane = threadIdx.x & 31, v = 100 + threadIdx.x;
    int* o = out + threadIdx.x * 5;
    o[0] = __shfl_xor_sync(FULL_MASK, v, 5);
    o[1] = __shfl_down_sync(FULL_MASK, v, 3);
    o[2] = __shfl_up_sync(FULL_MASK, v, 7);
    o[3] = __shfl_sync(FULL_MASK, v, (lane * 3) % 32);
    o[4] = (int)__ballot_sync(FULL_MASK, lane & 1);
}

__global__ void k_atomic(float* sum, int* count) {
    atomicAdd(sum, 0.5f);
    atomicAdd(count, 1);
}

__global__ void k_dynamic(float* out, int n) {
    DYNAMIC_SHARED(float, smem);
    if (threadIdx.x == 0) out[0] = smem[n - 1];  // unwritten: NaN by construction
    __syncthreads();
    smem[threadIdx.x] = (float)threadIdx.x;
    __syncthreads();
    if (threadIdx.x == 0) out[1] = smem[blockDim.x - 1];
}

// snprintf of a double needs the ABI's 16-byte stack alignment (movaps); a misaligned fiber stack crashes here
__global__ void k_alignment(char* out) {
    alignas(32) double d[4] = {1.25, 2.5, 3.75, 5.0};
    if (threadIdx.x == 0) std::snprintf(out, 32, "%.2f", d[0] + d[1] + d[2] + d[3]);
}

// lanes 0-15 wait at __syncthreads for lanes 16-31, which wait in a shuffle for lanes 0-15: hangs on a GPU
__global__ void k_divergent_sync(int* out) {
    int v = 1;
    if (threadIdx.x < 16) __syncthreads();
    else v = __shfl_xor_sync(FULL_MASK, v, 1);
    out[threadIdx.x] = v;
}

__global__ void k_shuffle_after_exit(int* out) {
    if (threadIdx.x == 3) return;
    out[threadIdx.x] = __shfl_xor_sync(FULL_MASK, (int)threadIdx.x, 1);
}

// thread 0 publishes a value that the others read WITHOUT a barrier: a race that the alternating schedule
// (odd blocks run their threads in reverse) must expose
__global__ void k_racy(int* out) {
    __shared__ int v;
    if (threadIdx.x == 0) v = 1000 + blockIdx.x;
    out[blockIdx.x * blockDim.x + threadIdx.x] = v;
    __syncthreads();
    if (threadIdx.x == 0) v = -1;  // the next block on this OS thread starts from a stale value
}

EMU_REGISTER(k_racy)
EMU_REGISTER(k_block_sum)
EMU_REGISTER(k_warp)
EMU_REGISTER(k_atomic)
EMU_REGISTER(k_dynamic)
EMU_REGISTER(k_alignment)
EMU_REGISTER(k_divergent_sync)
EMU_REGISTER(k_shuffle_after_exit)

// launches with kernelParams pointing at the argument values, as cuLaunchKernel gets them
template <class... A>
static bool run(const char* name, uint3 grid, uint3 block, size_t smem, std::string& err, A... args) {
    void* slots[] = {&args...};
    const emu::KernelInfo* k = emu::find_kernel(name);
    if (!k) {
        err = "not registered";
        return false;
    }
    emu::LaunchSpec spec{k->entry, slots, grid, block, smem};
    return emu::launch(spec, err);
}

int main() {
    std::string err;
    {
        const int B = 7, T = 96;
        std::vector<int> out(B * T, -1);
        int* p = out.data();
        EXPECT(run("k_block_sum", uint3{B, 1, 1}, uint3{T, 1, 1}, 0, err, p), "k_block_sum: %s", err.c_str());
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++) EXPECT(out[b * T + t] == T * (T - 1) / 2 + b * T, "block sum b=%d t=%d: %d", b, t, out[b * T + t]);
    }
    {
        const int T = 64;
        std::vector<int> out(T * 5, -1);
        int* p = out.data();
        EXPECT(run("k_warp", uint3{1, 1, 1}, uint3{T, 1, 1}, 0, err, p), "k_warp: %s", err.c_str());
        for (int t = 0; t < T; t++) {
            int lane = t & 31, base = t - lane, v = 100 + t;
            const int* o = &out[t * 5];
            EXPECT(o[0] == 100 + base + (lane ^ 5), "xor lane %d: %d", t, o[0]);
            EXPECT(o[1] == (lane + 3 < 32 ? v + 3 : v), "down lane %d: %d", t, o[1]);
            EXPECT(o[2] == (lane >= 7 ? v - 7 : v), "up lane %d: %d", t, o[2]);
            EXPECT(o[3] == 100 + base + (lane * 3) % 32, "idx lane %d: %d", t, o[3]);
            EXPECT((unsigned)o[4] == 0xAAAAAAAAu, "ballot lane %d: %x", t, o[4]);
        }
    }
    {
        float sum = 0;
        int count = 0;
        float* ps = &sum;
        int* pc = &count;
        EXPECT(run("k_atomic", uint3{64, 2, 1}, uint3{128, 1, 1}, 0, err, ps, pc), "k_atomic: %s", err.c_str());
        EXPECT(count == 64 * 2 * 128 && sum == 0.5f * count, "atomics: count %d sum %f", count, sum);
    }
    {
        float out[2] = {0, 0};
        float* p = out;
        int n = 200;
        EXPECT(run("k_dynamic", uint3{3, 1, 1}, uint3{160, 1, 1}, 200 * sizeof(float), err, p, n), "k_dynamic: %s", err.c_str());
        EXPECT(std::isnan(out[0]) && out[1] == 159.0f, "dynamic shared: %f %f", out[0], out[1]);
    }
    {
        char buf[32] = {0};
        char* p = buf;
        EXPECT(run("k_alignment", uint3{2, 1, 1}, uint3{64, 1, 1}, 0, err, p), "k_alignment: %s", err.c_str());
        EXPECT(std::string(buf) == "12.50", "alignment: '%s'", buf);
    }
    {
        std::vector<int> out(64);
        int* p = out.data();
        bool ok = run("k_divergent_sync", uint3{1, 1, 1}, uint3{64, 1, 1}, 0, err, p);
        EXPECT(!ok && err.find("deadlock") != std::string::npos, "divergent __syncthreads not reported (ok=%d, '%s')", ok, err.c_str());
    }
    {
        std::vector<int> out(32);
        int* p = out.data();
        bool ok = run("k_shuffle_after_exit", uint3{1, 1, 1}, uint3{32, 1, 1}, 0, err, p);
        EXPECT(!ok && err.find("exited") != std::string::npos, "shuffle naming an exited lane not reported (ok=%d, '%s')", ok, err.c_str());
    }
    {
        const int B = 4, T = 64;
        std::vector<int> out(B * T, 0);
        int* p = out.data();
        EXPECT(run("k_racy", uint3{B, 1, 1}, uint3{T, 1, 1}, 0, err, p), "k_racy: %s", err.c_str());
        int wrong = 0;
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++) wrong += out[b * T + t] != 1000 + b;
        const char* order = std::getenv("ONESTEP_CUDAEMU_ORDER");
        if (!order || std::string(order) == "alternate") EXPECT(wrong > 0, "a read-before-barrier race went unnoticed");
    }
    if (failures) {
        std::fprintf(stderr, "cudaemu selftest: %d failures\n", failures);
        return 1;
    }
    std::printf("cudaemu selftest: ok\n");
    return 0;
}
