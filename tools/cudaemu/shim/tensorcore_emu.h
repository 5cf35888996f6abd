// CPU emulation of kernels/tensorcore.cuh (mma.sync m16n8k16, ldmatrix x4 [.trans], cp.async) for the CUDA
// emulator, included by tensorcore.cuh after its 16-bit conversions (from16). Unlike shim/mma.h (opaque WMMA
// fragments), these follow the PTX fragment layouts exactly, lane by lane: a warp-collective call gathers every lane's
// registers (or row addresses) through the warp's exchange slots, then each lane computes the elements the GPU would
// give it. Products are exact in fp32 (16-bit operands) and summed in fp32 in k order, as tensor cores do up to
// summation order.
#pragma once
#include <cstdint>
#include <cstring>
#include <unordered_map>
#include <vector>

namespace emu {
// every lane publishes `mine`; all[i] = lane i's value (lanes outside the full warp are an error, as mma.sync needs all 32)
inline void warp_gather(uint64_t mine, uint64_t (&all)[32]) {
    uint64_t* s = warp_slots();
    s[lane_id()] = mine;
    sync_warp(0xffffffffu);
    for (int i = 0; i < 32; i++) all[i] = s[i];
    sync_warp(0xffffffffu);
}
}  // namespace emu

template <typename T>
inline void mma_16816(float (&c)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
    uint64_t a01[32], a23[32], bb[32];
    emu::warp_gather((uint64_t)a[0] | (uint64_t)a[1] << 32, a01);
    emu::warp_gather((uint64_t)a[2] | (uint64_t)a[3] << 32, a23);
    emu::warp_gather((uint64_t)b0 | (uint64_t)b1 << 32, bb);
    float A[16][16], B[16][8];
    for (int l = 0; l < 32; l++) {
        const int g = l >> 2, t = l & 3;
        const unsigned r[4] = {(unsigned)a01[l], (unsigned)(a01[l] >> 32), (unsigned)a23[l], (unsigned)(a23[l] >> 32)};
        const int rows[4] = {g, g + 8, g, g + 8}, cols[4] = {2 * t, 2 * t, 2 * t + 8, 2 * t + 8};
        for (int i = 0; i < 4; i++) {
            A[rows[i]][cols[i]] = from16((unsigned short)(r[i] & 0xffffu), T());
            A[rows[i]][cols[i] + 1] = from16((unsigned short)(r[i] >> 16), T());
        }
        const unsigned rb[2] = {(unsigned)bb[l], (unsigned)(bb[l] >> 32)};
        for (int i = 0; i < 2; i++) {
            B[2 * t + 8 * i][g] = from16((unsigned short)(rb[i] & 0xffffu), T());
            B[2 * t + 8 * i + 1][g] = from16((unsigned short)(rb[i] >> 16), T());
        }
    }
    const int lane = emu::lane_id(), g = lane >> 2, t = lane & 3;
    for (int i = 0; i < 4; i++) {
        const int row = g + (i >= 2 ? 8 : 0), col = 2 * t + (i & 1);
        float s = c[i];
        for (int k = 0; k < 16; k++) s += A[row][k] * B[k][col];
        c[i] = s;
    }
}

inline void ldmatrix_x4(unsigned (&r)[4], const void* smem) {
    uint64_t p[32];
    emu::warp_gather((uint64_t)(uintptr_t)smem, p);
    const int lane = emu::lane_id();
    for (int i = 0; i < 4; i++) {
        const unsigned char* row = reinterpret_cast<const unsigned char*>((uintptr_t)p[8 * i + (lane >> 2)]);
        std::memcpy(&r[i], row + 4 * (lane & 3), 4);
    }
}

inline void ldmatrix_x4_trans(unsigned (&r)[4], const void* smem) {
    uint64_t p[32];
    emu::warp_gather((uint64_t)(uintptr_t)smem, p);
    const int lane = emu::lane_id();
    for (int i = 0; i < 4; i++) {
        unsigned short lo, hi;
        std::memcpy(&lo, reinterpret_cast<const unsigned char*>((uintptr_t)p[8 * i + 2 * (lane & 3)]) + 2 * (lane >> 2), 2);
        std::memcpy(&hi, reinterpret_cast<const unsigned char*>((uintptr_t)p[8 * i + 2 * (lane & 3) + 1]) + 2 * (lane >> 2), 2);
        r[i] = (unsigned)lo | (unsigned)hi << 16;
    }
}

// Asynchronous as on the GPU, as far as a kernel can tell: each thread's copies are queued (source bytes taken at
// the call, as the hardware may read them any time after it) and land in shared memory only when that thread's
// cp_async_wait<N> retires their group, so a kernel that reads a tile before waiting for it, or before the barrier
// after the wait, reads stale data here too. Per thread = per fiber; a fiber's queue lives on its OS thread (the
// block's), so no locking. A thread that exits with copies in flight (a bug on a GPU too: the block's shared memory
// is released under them) leaves them queued for the next block to run on that fiber, whose results they corrupt.
namespace emu {
struct CpAsyncCopy { void* dst; unsigned char bytes[16]; };
struct CpAsyncQueue {
    std::vector<std::vector<CpAsyncCopy>> groups; // committed groups, oldest first
    std::vector<CpAsyncCopy> open;                // copies since the last commit
};
inline CpAsyncQueue& cp_async_queue() {
    static thread_local std::unordered_map<const void*, CpAsyncQueue> queues;
    return queues[tl_fiber];
}
}  // namespace emu

inline void cp_async16(void* smem, const void* gmem, bool valid) {
    emu::CpAsyncCopy c;
    c.dst = smem;
    if (valid) std::memcpy(c.bytes, gmem, 16);
    else std::memset(c.bytes, 0, 16);
    emu::cp_async_queue().open.push_back(c);
}
inline void cp_async_commit() {
    emu::CpAsyncQueue& q = emu::cp_async_queue();
    q.groups.push_back(std::move(q.open));
    q.open.clear();
}
template <int N> inline void cp_async_wait() {
    emu::CpAsyncQueue& q = emu::cp_async_queue();
    while (q.groups.size() > (size_t)N) {
        for (const emu::CpAsyncCopy& c : q.groups.front()) std::memcpy(c.dst, c.bytes, 16);
        q.groups.erase(q.groups.begin());
    }
}
