// The emulator's execution engine: kernel table, block scheduler (blocks on a pool of OS threads, the threads
// of a block as fibers with a hand-written stack switch), barriers and warp exchange slots. See emu.h for the model.
#include "emu.h"
#include "registry.h"
#include "runtime.h"

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

// Fiber switch without ucontext's signal-mask system calls (swapcontext costs two syscalls per switch, and a
// warp shuffle is two switches per lane): saves the callee-saved registers, MXCSR and the x87 control word on
// the current stack, stores the stack pointer in *save, and resumes the stack `next`. x86-64 System V only.
extern "C" void emu_switch(void** save, void* next);
asm(R"(
    .text
    .globl emu_switch
    .type emu_switch, @function
emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size emu_switch, .-emu_switch
    .section .note.GNU-stack,"",@progbits
    .text
)");

namespace emu {

// ------------------------------------------------------------------ kernel table

static std::map<std::string, KernelInfo>& table() {
    static std::map<std::string, KernelInfo> t;
    return t;
}

void register_kernel(const char* name, Trampoline entry, int arity) { table()[name] = KernelInfo{name, entry, arity}; }

const KernelInfo* find_kernel(const char* name) {
    auto it = table().find(name);
    return it == table().end() ? nullptr : &it->second;
}

// ------------------------------------------------------------------ fibers and barriers

enum State { READY, AT_BLOCK, AT_WARP, DONE };

struct Fiber {
    void* sp;  // saved stack pointer while suspended
    uint3 tid;
    int lane, warp, state;
    unsigned mask;
};

static const size_t STACK_BYTES = 256 * 1024;
static const int MAX_THREADS = 1024;

struct Worker {
    Fiber fibers[MAX_THREADS];
    char* stacks = nullptr;
    void* sched = nullptr;  // the scheduler's saved stack pointer
    unsigned char* dyn = nullptr;  // dynamic shared memory, 1024-byte aligned (a GPU aligns it at least as declared)
    size_t dynBytes = 0;
    uint64_t slots[MAX_THREADS / 32][32];
    const LaunchSpec* launch = nullptr;
    std::string error;
    bool failed = false;
    int nthreads = 0;

    Worker() {
        size_t page = (size_t)sysconf(_SC_PAGESIZE);
        size_t total = STACK_BYTES * MAX_THREADS;
        void* p = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) {
            std::perror("cudaemu: mmap of fiber stacks");
            std::abort();
        }
        stacks = (char*)p;
        for (int i = 0; i < MAX_THREADS; i++) mprotect(stacks + i * STACK_BYTES, page, PROT_NONE);  // overflow guard
    }
};

thread_local uint3 tl_blockIdx, tl_blockDim, tl_gridDim;
thread_local Fiber* tl_fiber;
static thread_local Worker* tl_worker;

static Worker* worker() {
    if (!tl_worker) tl_worker = new Worker();  // one per OS thread, kept for the thread's life
    return tl_worker;
}

uint3& thread_idx() { return tl_fiber->tid; }
int lane_id() { return tl_fiber->lane; }
void* dynamic_shared() { return tl_worker->dyn; }
uint64_t* warp_slots() { return tl_worker->slots[tl_fiber->warp]; }

static void yield_to_scheduler() {
    Fiber* f = tl_fiber;
    emu_switch(&f->sp, tl_worker->sched);
}

void sync_block() {
    tl_fiber->state = AT_BLOCK;
    yield_to_scheduler();
}

void sync_warp(unsigned mask) {
    if (!(mask >> tl_fiber->lane & 1u)) fail("__syncwarp/shuffle by a lane that is not in its own mask");
    tl_fiber->state = AT_WARP;
    tl_fiber->mask = mask;
    yield_to_scheduler();
}

void fail(const char* what) {
    Worker* w = tl_worker;
    Fiber* f = tl_fiber;
    if (!w->failed) {
        char buf[512];
        std::snprintf(buf, sizeof buf, "%s (thread (%u,%u,%u) of block (%u,%u,%u))", what, f->tid.x, f->tid.y, f->tid.z,
                      tl_blockIdx.x, tl_blockIdx.y, tl_blockIdx.z);
        w->error = buf;
        w->failed = true;
    }
    f->state = DONE;
    yield_to_scheduler();  // never resumed
    std::abort();
}

// First frame of every fiber (entered by emu_switch's `ret`); never returns.
static void fiber_main() {
    Worker* w = tl_worker;
    w->launch->entry(w->launch->args);
    tl_fiber->state = DONE;
    yield_to_scheduler();
    std::abort();  // a finished fiber is never resumed
}

// A fresh fiber stack laid out as emu_switch leaves a suspended one: control word/MXCSR slot, six callee-saved
// registers, then fiber_main as the return address, so that fiber_main starts with the ABI's stack alignment.
static void* fresh_stack(char* base, size_t bytes) {
    uintptr_t top = ((uintptr_t)(base + bytes)) & ~(uintptr_t)15;
    uint64_t* sp = (uint64_t*)(top - 16);
    sp[0] = (uint64_t)(uintptr_t)&fiber_main;  // return address at top − 16: after `ret`, rsp ≡ 8 (mod 16)
    for (int i = 1; i <= 6; i++) sp[-i] = 0;    // rbp, rbx, r12..r15
    uint32_t* ctl = (uint32_t*)(sp - 7);
    ctl[0] = 0x1F80;                             // MXCSR: all exceptions masked, round to nearest
    ctl[1] = 0x037F;                             // x87 control word default
    return sp - 7;
}

static std::string describe_states(Worker* w) {
    int atBlock = 0, atWarp = 0, done = 0;
    for (int i = 0; i < w->nthreads; i++) {
        switch (w->fibers[i].state) {
            case READY: break;
            case AT_BLOCK: atBlock++; break;
            case AT_WARP: atWarp++; break;
            default: done++;
        }
    }
    char buf[256];
    std::snprintf(buf, sizeof buf, "%d threads wait at __syncthreads, %d at a warp barrier (__syncwarp/shuffle), %d exited", atBlock,
                  atWarp, done);
    return buf;
}

// Releases the warp barriers that are complete. Returns true when some lane was released; sets an error for a
// mask that names an exited (or nonexistent) lane, or lanes that wait with different masks.
static bool release_warps(Worker* w) {
    bool released = false;
    int n = w->nthreads;
    for (int wb = 0; wb * 32 < n && !w->failed; wb++) {
        int lanes = std::min(32, n - wb * 32);
        unsigned waiting = 0, gone = lanes == 32 ? 0u : ~0u << lanes;
        for (int l = 0; l < lanes; l++) {
            int s = w->fibers[wb * 32 + l].state;
            if (s == AT_WARP) waiting |= 1u << l;
            if (s == DONE) gone |= 1u << l;
        }
        for (int l = 0; l < lanes; l++) {
            if (!(waiting >> l & 1u)) continue;
            unsigned m = w->fibers[wb * 32 + l].mask;
            if (m & gone) {
                char buf[200];
                std::snprintf(buf, sizeof buf, "warp barrier/shuffle with mask 0x%08x in warp %d names exited lanes 0x%08x (thread %d)", m, wb,
                              m & gone, wb * 32 + l);
                w->error = buf;
                w->failed = true;
                return false;
            }
            if (m & ~waiting) continue;  // not everyone has arrived yet
            for (int j = 0; j < lanes; j++) {
                if (!(m >> j & 1u)) continue;
                Fiber& fj = w->fibers[wb * 32 + j];
                if (fj.mask != m) {
                    char buf[200];
                    std::snprintf(buf, sizeof buf, "lanes of warp %d meet at a warp barrier with different masks (0x%08x, 0x%08x)", wb, m, fj.mask);
                    w->error = buf;
                    w->failed = true;
                    return false;
                }
                fj.state = READY;
                waiting &= ~(1u << j);
            }
            released = true;
        }
    }
    return released;
}

// Between barriers the fibers of a block run one after another, so a missing barrier only shows when the reader
// runs before the writer. ONESTEP_CUDAEMU_ORDER: "alternate" (default) runs even blocks in thread order and odd
// blocks in reverse, flipping with every launch (so a one-block kernel gets both orders over two launches), so a
// shared-memory race in either direction gives wrong results; "forward" / "reverse" run every block one way.
static std::atomic<unsigned> launchSerial{0};
static thread_local unsigned tl_serial;

static bool schedule_reversed(uint3 bid) {
    static const int mode = [] {
        const char* e = std::getenv("ONESTEP_CUDAEMU_ORDER");
        std::string m = e ? e : "alternate";
        return m == "forward" ? 0 : m == "reverse" ? 1 : 2;
    }();
    return mode == 2 ? ((bid.x + bid.y + bid.z + tl_serial) & 1u) != 0 : mode == 1;
}

static bool run_block(Worker* w, const LaunchSpec& L, uint3 bid) {
    tl_blockIdx = bid;
    tl_blockDim = L.block;
    tl_gridDim = L.grid;
    int n = (int)(L.block.x * L.block.y * L.block.z);
    w->nthreads = n;
    w->launch = &L;
    if (L.sharedBytes) std::memset(w->dyn, 0xFF, L.sharedBytes);  // NaN: a read of unwritten shared memory shows
    for (int i = 0; i < n; i++) {
        Fiber& f = w->fibers[i];
        f.tid = uint3{(unsigned)(i % L.block.x), (unsigned)(i / L.block.x % L.block.y), (unsigned)(i / (L.block.x * L.block.y))};
        f.lane = i % 32;
        f.warp = i / 32;
        f.state = READY;
        f.mask = 0;
        f.sp = fresh_stack(w->stacks + (size_t)i * STACK_BYTES, STACK_BYTES);
    }
    bool reverse = schedule_reversed(bid);
    for (;;) {
        for (int k = 0; k < n; k++) {
            Fiber& f = w->fibers[reverse ? n - 1 - k : k];
            if (f.state != READY) continue;
            tl_fiber = &f;
            emu_switch(&w->sched, f.sp);
            if (w->failed) return false;
        }
        if (release_warps(w)) continue;
        if (w->failed) return false;
        int alive = 0, atBlock = 0;
        for (int i = 0; i < n; i++) {
            int s = w->fibers[i].state;
            if (s != DONE) alive++;
            if (s == AT_BLOCK) atBlock++;
        }
        if (alive == 0) return true;
        if (atBlock == alive) {
            for (int i = 0; i < n; i++)
                if (w->fibers[i].state == AT_BLOCK) w->fibers[i].state = READY;
            continue;
        }
        w->error = "deadlock: " + describe_states(w) + " (a barrier that not every live thread reaches)";
        w->failed = true;
        return false;
    }
}

// ------------------------------------------------------------------ block pool

class Pool {
  public:
    Pool() {
        unsigned hw = std::thread::hardware_concurrency();
        int extra = hw > 1 ? (int)std::min(hw, 16u) - 1 : 0;
        for (int i = 0; i < extra; i++) threads_.emplace_back([this] { loop(); });
    }

    // Runs body(blockIndex) for every index in [0, total) on the pool and the calling thread.
    void run(long total, const std::function<void(long)>& body) {
        std::unique_lock<std::mutex> lock(launch_);  // one launch at a time
        if (total <= 1 || threads_.empty()) {
            for (long i = 0; i < total; i++) body(i);
            return;
        }
        {
            std::lock_guard<std::mutex> g(m_);
            body_ = &body;
            total_ = total;
            next_.store(0);
            active_ = (int)threads_.size();
            generation_++;
        }
        cv_.notify_all();
        work();
        std::unique_lock<std::mutex> g(m_);
        done_.wait(g, [this] { return active_ == 0; });
        body_ = nullptr;
    }

  private:
    void work() {
        for (;;) {
            long i = next_.fetch_add(1);
            if (i >= total_) return;
            (*body_)(i);
        }
    }

    void loop() {
        long seen = 0;
        for (;;) {
            {
                std::unique_lock<std::mutex> g(m_);
                cv_.wait(g, [&] { return generation_ != seen; });
                seen = generation_;
            }
            work();
            std::lock_guard<std::mutex> g(m_);
            if (--active_ == 0) done_.notify_all();
        }
    }

    std::vector<std::thread> threads_;
    std::mutex launch_, m_;
    std::condition_variable cv_, done_;
    const std::function<void(long)>* body_ = nullptr;
    std::atomic<long> next_{0};
    long total_ = 0, generation_ = 0;
    int active_ = 0;
};

static Pool& pool() {
    static Pool* p = new Pool();  // never destroyed: its threads live as long as the process
    return *p;
}

bool launch(const LaunchSpec& L, std::string& error) {
    long total = (long)L.grid.x * L.grid.y * L.grid.z;
    unsigned serial = launchSerial.fetch_add(1);
    std::mutex em;
    std::string first;
    std::atomic<bool> failed{false};
    pool().run(total, [&](long b) {
        if (failed.load(std::memory_order_relaxed)) return;
        Worker* w = worker();
        tl_serial = serial;
        w->failed = false;
        w->error.clear();
        if (w->dynBytes < L.sharedBytes) {
            std::free(w->dyn);
            w->dynBytes = (L.sharedBytes + 1023) & ~(size_t)1023;
            w->dyn = (unsigned char*)std::aligned_alloc(1024, w->dynBytes);
        }
        uint3 bid{(unsigned)(b % L.grid.x), (unsigned)(b / L.grid.x % L.grid.y), (unsigned)(b / ((long)L.grid.x * L.grid.y))};
        if (!run_block(w, L, bid)) {
            std::lock_guard<std::mutex> g(em);
            if (!failed.exchange(true)) {
                char buf[96];
                std::snprintf(buf, sizeof buf, " [block (%u,%u,%u)]", bid.x, bid.y, bid.z);
                first = w->error + buf;
            }
        }
    });
    if (failed) error = first;
    return !failed;
}

}  // namespace emu
