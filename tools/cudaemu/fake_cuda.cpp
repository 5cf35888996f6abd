// A fake libcuda.so.1: the subset of the CUDA driver API that OneStep (through JCuda's libJCudaDriver) calls,
// implemented on the CPU. Prototypes come from the toolkit's own cuda.h, so each definition has the exact ABI
// symbol JCuda binds (cuMemAlloc → cuMemAlloc_v2, ...). Device memory is host memory; kernels run in the emulator
// (runtime.cpp). Every call checks what the real driver checks and a little more: a current context on the
// calling thread, device ranges inside one live allocation, kernel names present in the loaded image, dynamic
// shared memory within the function's limit (48 KB unless raised by cuFuncSetAttribute).
#include <cuda.h>

#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>

#include "registry.h"
#include "runtime.h"

namespace {

const char* DEVICE_NAME = "OneStep CUDA emulator (CPU)";
const int CC_MAJOR = 9, CC_MINOR = 0, SMS = 4, DEFAULT_DYNAMIC_SHARED = 48 * 1024;
// per-block opt-in shared memory: an H100's 227 KB; ONESTEP_CUDAEMU_SMEM_OPTIN=101376 imitates an sm_86/89 (99 KB)
const int SHARED_OPTIN = [] {
    const char* e = std::getenv("ONESTEP_CUDAEMU_SMEM_OPTIN");
    return e && *e ? std::atoi(e) : 232448;
}();

std::mutex mu;
bool initialised = false;
std::map<uintptr_t, size_t> allocations;  // base → bytes
size_t allocated = 0;
int contextToken, streamToken;
thread_local bool contextCurrent = false;

size_t total_memory() {
    const char* e = std::getenv("ONESTEP_CUDAEMU_MEMORY_MB");
    return (e ? (size_t)std::atoll(e) : 16384) << 20;
}

// ONESTEP_CUDAEMU_GUARD=1: every allocation ends (rounded up to 16 bytes) right before an inaccessible page, so a
// kernel reading or writing past the end of a buffer faults at once (the JVM's crash report names the kernel:
// the libraries carry symbols). With -Donestep.cuda.poolExact=true the pool's blocks are the tensors' sizes.
bool guard_mode() {
    static const bool on = [] {
        const char* e = std::getenv("ONESTEP_CUDAEMU_GUARD");
        return e && *e && *e != '0';
    }();
    return on;
}

size_t page_size() { return (size_t)sysconf(_SC_PAGESIZE); }

void* guarded_alloc(size_t bytes) {
    size_t page = page_size(), used = (bytes + 15) & ~(size_t)15, span = (used + page - 1) / page * page + page;
    void* m = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return nullptr;
    char* guard = (char*)m + span - page;
    mprotect(guard, page, PROT_NONE);
    return guard - used;
}

void guarded_free(void* p, size_t bytes) {
    size_t page = page_size(), used = (bytes + 15) & ~(size_t)15, span = (used + page - 1) / page * page + page;
    char* guard = (char*)p + used;
    munmap(guard + page - span, span);
}

struct Module {
    std::string image;
    bool ptx;
};

struct Function {
    const emu::KernelInfo* kernel;
    int maxDynamicShared;
};

bool range_ok(uintptr_t p, size_t bytes) {
    std::lock_guard<std::mutex> g(mu);
    auto it = allocations.upper_bound(p);
    if (it == allocations.begin()) return false;
    --it;
    return p >= it->first && p + bytes <= it->first + it->second;
}

CUresult ready() {
    if (!initialised) return CUDA_ERROR_NOT_INITIALIZED;
    if (!contextCurrent) return CUDA_ERROR_INVALID_CONTEXT;
    return CUDA_SUCCESS;
}

CUresult bad(const char* call, const char* why, CUresult r = CUDA_ERROR_INVALID_VALUE) {
    std::fprintf(stderr, "cudaemu: %s: %s\n", call, why);
    return r;
}

// Size of an ELF image from its header (cuModuleLoadData gets no length): the section header table ends it.
size_t elf_size(const unsigned char* p) {
    uint64_t shoff;
    uint16_t shentsize, shnum;
    std::memcpy(&shoff, p + 0x28, 8);
    std::memcpy(&shentsize, p + 0x3A, 2);
    std::memcpy(&shnum, p + 0x3C, 2);
    return (size_t)(shoff + (uint64_t)shentsize * shnum);
}

bool image_has_entry(const Module& m, const char* name) {
    std::string n(name);
    if (m.ptx) {
        for (const char* tail : {"(", "\n", " ("}) {
            if (m.image.find(".entry " + n + tail) != std::string::npos) return true;
        }
        return false;
    }
    return m.image.find(std::string("\0", 1) + n + std::string("\0", 1)) != std::string::npos;
}

}  // namespace

extern "C" int onestep_emu_check_range(const void* p, size_t bytes) { return range_ok((uintptr_t)p, bytes) ? 1 : 0; }

CUresult cuInit(unsigned int flags) {
    if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
    initialised = true;
    return CUDA_SUCCESS;
}

CUresult cuDriverGetVersion(int* v) {
    if (!v) return CUDA_ERROR_INVALID_VALUE;
    *v = 13000;
    return CUDA_SUCCESS;
}

CUresult cuDeviceGetCount(int* count) {
    if (!initialised) return CUDA_ERROR_NOT_INITIALIZED;
    *count = 1;
    return CUDA_SUCCESS;
}

CUresult cuDeviceGet(CUdevice* d, int ordinal) {
    if (!initialised) return CUDA_ERROR_NOT_INITIALIZED;
    if (ordinal != 0) return CUDA_ERROR_INVALID_DEVICE;
    *d = 0;
    return CUDA_SUCCESS;
}

CUresult cuDeviceGetName(char* name, int len, CUdevice d) {
    if (!initialised) return CUDA_ERROR_NOT_INITIALIZED;
    if (d != 0) return CUDA_ERROR_INVALID_DEVICE;
    if (!name || len <= 0) return CUDA_ERROR_INVALID_VALUE;
    std::snprintf(name, (size_t)len, "%s", DEVICE_NAME);
    return CUDA_SUCCESS;
}

CUresult cuDeviceGetAttribute(int* v, CUdevice_attribute a, CUdevice d) {
    if (!initialised) return CUDA_ERROR_NOT_INITIALIZED;
    if (d != 0) return CUDA_ERROR_INVALID_DEVICE;
    switch (a) {
        case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: *v = CC_MAJOR; break;
        case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: *v = CC_MINOR; break;
        case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: *v = SMS; break;
        case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN: *v = SHARED_OPTIN; break;
        case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK: *v = DEFAULT_DYNAMIC_SHARED; break;
        case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *v = 1024; break;
        case CU_DEVICE_ATTRIBUTE_WARP_SIZE: *v = 32; break;
        case CU_DEVICE_ATTRIBUTE_CLOCK_RATE: *v = 1980000; break;  // kHz, as an H100 SXM reports
        default: return bad("cuDeviceGetAttribute", "attribute not emulated");
    }
    return CUDA_SUCCESS;
}

CUresult cuDeviceTotalMem(size_t* bytes, CUdevice d) {
    if (!initialised) return CUDA_ERROR_NOT_INITIALIZED;
    if (d != 0) return CUDA_ERROR_INVALID_DEVICE;
    *bytes = total_memory();
    return CUDA_SUCCESS;
}

CUresult cuDevicePrimaryCtxRetain(CUcontext* ctx, CUdevice d) {
    if (!initialised) return CUDA_ERROR_NOT_INITIALIZED;
    if (d != 0) return CUDA_ERROR_INVALID_DEVICE;
    *ctx = (CUcontext)&contextToken;
    return CUDA_SUCCESS;
}

CUresult cuDevicePrimaryCtxRelease(CUdevice d) {
    if (!initialised) return CUDA_ERROR_NOT_INITIALIZED;
    return d == 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE;
}

CUresult cuCtxSetCurrent(CUcontext ctx) {
    if (!initialised) return CUDA_ERROR_NOT_INITIALIZED;
    if (ctx != nullptr && ctx != (CUcontext)&contextToken) return CUDA_ERROR_INVALID_CONTEXT;
    contextCurrent = ctx != nullptr;
    return CUDA_SUCCESS;
}

CUresult cuStreamCreate(CUstream* s, unsigned int flags) {
    if (CUresult r = ready()) return r;
    (void)flags;
    *s = (CUstream)&streamToken;
    return CUDA_SUCCESS;
}

CUresult cuStreamDestroy(CUstream s) {
    if (CUresult r = ready()) return r;
    return s == (CUstream)&streamToken ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

CUresult cuStreamSynchronize(CUstream s) {
    if (CUresult r = ready()) return r;
    return s == nullptr || s == (CUstream)&streamToken ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

CUresult cuMemAlloc(CUdeviceptr* p, size_t bytes) {
    if (CUresult r = ready()) return r;
    if (bytes == 0) return CUDA_ERROR_INVALID_VALUE;
    {
        std::lock_guard<std::mutex> g(mu);
        if (allocated + bytes > total_memory()) return CUDA_ERROR_OUT_OF_MEMORY;
    }
    void* mem = nullptr;
    if (guard_mode()) {
        if (!(mem = guarded_alloc(bytes))) return CUDA_ERROR_OUT_OF_MEMORY;
    } else if (posix_memalign(&mem, 256, bytes) != 0) {
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    std::memset(mem, 0xFF, bytes);  // NaN in every float type: reads of unwritten memory show
    std::lock_guard<std::mutex> g(mu);
    allocations[(uintptr_t)mem] = bytes;
    allocated += bytes;
    *p = (CUdeviceptr)(uintptr_t)mem;
    return CUDA_SUCCESS;
}

CUresult cuMemFree(CUdeviceptr p) {
    if (CUresult r = ready()) return r;
    std::lock_guard<std::mutex> g(mu);
    auto it = allocations.find((uintptr_t)p);
    if (it == allocations.end()) return bad("cuMemFree", "not the base of a live allocation");
    allocated -= it->second;
    if (guard_mode()) guarded_free((void*)it->first, it->second);
    else std::free((void*)it->first);
    allocations.erase(it);
    return CUDA_SUCCESS;
}

CUresult cuMemGetInfo(size_t* free, size_t* total) {
    if (CUresult r = ready()) return r;
    std::lock_guard<std::mutex> g(mu);
    *total = total_memory();
    *free = *total - allocated;
    return CUDA_SUCCESS;
}

CUresult cuMemcpyHtoDAsync(CUdeviceptr dst, const void* src, size_t bytes, CUstream s) {
    if (CUresult r = ready()) return r;
    (void)s;
    if (!range_ok((uintptr_t)dst, bytes)) return bad("cuMemcpyHtoDAsync", "destination range outside every allocation");
    if (!src) return bad("cuMemcpyHtoDAsync", "null host pointer");
    std::memcpy((void*)(uintptr_t)dst, src, bytes);
    return CUDA_SUCCESS;
}

CUresult cuMemcpyDtoHAsync(void* dst, CUdeviceptr src, size_t bytes, CUstream s) {
    if (CUresult r = ready()) return r;
    (void)s;
    if (!range_ok((uintptr_t)src, bytes)) return bad("cuMemcpyDtoHAsync", "source range outside every allocation");
    if (!dst) return bad("cuMemcpyDtoHAsync", "null host pointer");
    std::memcpy(dst, (const void*)(uintptr_t)src, bytes);
    return CUDA_SUCCESS;
}

CUresult cuMemcpyDtoDAsync(CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream s) {
    if (CUresult r = ready()) return r;
    (void)s;
    if (!range_ok((uintptr_t)dst, bytes)) return bad("cuMemcpyDtoDAsync", "destination range outside every allocation");
    if (!range_ok((uintptr_t)src, bytes)) return bad("cuMemcpyDtoDAsync", "source range outside every allocation");
    std::memmove((void*)(uintptr_t)dst, (const void*)(uintptr_t)src, bytes);
    return CUDA_SUCCESS;
}

CUresult cuMemsetD8Async(CUdeviceptr dst, unsigned char v, size_t n, CUstream s) {
    if (CUresult r = ready()) return r;
    (void)s;
    if (!range_ok((uintptr_t)dst, n)) return bad("cuMemsetD8Async", "range outside every allocation");
    std::memset((void*)(uintptr_t)dst, v, n);
    return CUDA_SUCCESS;
}

CUresult cuModuleLoadData(CUmodule* module, const void* image) {
    if (CUresult r = ready()) return r;
    if (!image) return CUDA_ERROR_INVALID_VALUE;
    const unsigned char* p = (const unsigned char*)image;
    Module* m = new Module();
    if (p[0] == 0x7F && p[1] == 'E' && p[2] == 'L' && p[3] == 'F') {
        if (p[4] != 2) return bad("cuModuleLoadData", "not a 64-bit ELF cubin", CUDA_ERROR_INVALID_IMAGE);
        m->image.assign((const char*)p, elf_size(p));
        m->ptx = false;
    } else {
        m->image.assign((const char*)p);
        m->ptx = true;
        if (m->image.find(".version") == std::string::npos || m->image.find(".target") == std::string::npos)
            return bad("cuModuleLoadData", "neither a cubin nor PTX text", CUDA_ERROR_INVALID_IMAGE);
    }
    *module = (CUmodule)m;
    return CUDA_SUCCESS;
}

CUresult cuModuleUnload(CUmodule module) {
    if (CUresult r = ready()) return r;
    delete (Module*)module;
    return CUDA_SUCCESS;
}

CUresult cuModuleGetFunction(CUfunction* f, CUmodule module, const char* name) {
    if (CUresult r = ready()) return r;
    Module* m = (Module*)module;
    if (!m || !name) return CUDA_ERROR_INVALID_VALUE;
    if (!image_has_entry(*m, name)) return bad("cuModuleGetFunction", (std::string(name) + ": no such entry in the image").c_str(), CUDA_ERROR_NOT_FOUND);
    const emu::KernelInfo* k = emu::find_kernel(name);
    if (!k)
        return bad("cuModuleGetFunction", (std::string(name) + " is in the image but not in the emulator (rebuild it: tools/cudaemu/build.sh)").c_str(),
                   CUDA_ERROR_NOT_FOUND);
    *f = (CUfunction) new Function{k, DEFAULT_DYNAMIC_SHARED};
    return CUDA_SUCCESS;
}

CUresult cuFuncSetAttribute(CUfunction f, CUfunction_attribute attr, int value) {
    if (CUresult r = ready()) return r;
    if (!f) return CUDA_ERROR_INVALID_HANDLE;
    if (attr != CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES) return bad("cuFuncSetAttribute", "attribute not emulated");
    if (value < 0 || value > SHARED_OPTIN) return bad("cuFuncSetAttribute", "dynamic shared memory above the device's opt-in limit");
    ((Function*)f)->maxDynamicShared = value;
    return CUDA_SUCCESS;
}

CUresult cuLaunchKernel(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz, unsigned int bx, unsigned int by, unsigned int bz,
                        unsigned int sharedBytes, CUstream s, void** params, void** extra) {
    if (CUresult r = ready()) return r;
    Function* fn = (Function*)f;
    if (!fn) return CUDA_ERROR_INVALID_HANDLE;
    const char* name = fn->kernel->name;
    char why[256];
    if (s != nullptr && s != (CUstream)&streamToken) return CUDA_ERROR_INVALID_HANDLE;
    if (extra) return bad(name, "launch with `extra` is not emulated");
    if (gx == 0 || gy == 0 || gz == 0 || bx == 0 || by == 0 || bz == 0) return bad(name, "zero grid or block dimension");
    if (gy > 65535 || gz > 65535 || gx > 2147483647u) return bad(name, "grid dimension over the limit");
    if ((unsigned long)bx * by * bz > 1024 || bz > 64) return bad(name, "more than 1024 threads per block");
    if ((int)sharedBytes > fn->maxDynamicShared) {
        std::snprintf(why, sizeof why, "%u bytes of dynamic shared memory, limit %d (raise it with cuFuncSetAttribute)", sharedBytes,
                      fn->maxDynamicShared);
        return bad(name, why);
    }
    if (fn->kernel->arity > 0 && !params) return bad(name, "kernelParams is null");
    emu::LaunchSpec spec{fn->kernel->entry, params, uint3{gx, gy, gz}, uint3{bx, by, bz}, sharedBytes};
    std::string error;
    if (!emu::launch(spec, error)) return bad(name, error.c_str(), CUDA_ERROR_LAUNCH_FAILED);
    return CUDA_SUCCESS;
}

// Events: the emulator runs every launch and copy before its call returns, so recording an event is taking the time.
// Checked as the driver does: timing disabled (CU_EVENT_DISABLE_TIMING) or an event never recorded cannot be timed.
struct Event {
    unsigned int flags;
    bool recorded = false;
    std::chrono::steady_clock::time_point at;
};

CUresult cuEventCreate(CUevent* e, unsigned int flags) {
    if (CUresult r = ready()) return r;
    if (flags & ~(unsigned)(CU_EVENT_BLOCKING_SYNC | CU_EVENT_DISABLE_TIMING | CU_EVENT_INTERPROCESS)) return bad("cuEventCreate", "unknown flags");
    *e = (CUevent) new Event{flags};
    return CUDA_SUCCESS;
}

CUresult cuEventRecord(CUevent e, CUstream s) {
    if (CUresult r = ready()) return r;
    if (!e) return CUDA_ERROR_INVALID_HANDLE;
    if (s != nullptr && s != (CUstream)&streamToken) return CUDA_ERROR_INVALID_HANDLE;
    Event* ev = (Event*)e;
    ev->recorded = true;
    ev->at = std::chrono::steady_clock::now();
    return CUDA_SUCCESS;
}

CUresult cuEventSynchronize(CUevent e) {
    if (CUresult r = ready()) return r;
    return e ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

// cuda.h maps cuEventElapsedTime to cuEventElapsedTime_v2 (CUDA 12.8+); JCuda 12.6 binds the original symbol: both exist.
CUresult cuEventElapsedTime(float* ms, CUevent a, CUevent b) {
    if (CUresult r = ready()) return r;
    if (!a || !b || !ms) return CUDA_ERROR_INVALID_HANDLE;
    Event *x = (Event*)a, *y = (Event*)b;
    if ((x->flags | y->flags) & CU_EVENT_DISABLE_TIMING) return bad("cuEventElapsedTime", "event created with CU_EVENT_DISABLE_TIMING", CUDA_ERROR_INVALID_HANDLE);
    if (!x->recorded || !y->recorded) return bad("cuEventElapsedTime", "event not recorded", CUDA_ERROR_INVALID_HANDLE);
    *ms = std::chrono::duration<float, std::milli>(y->at - x->at).count();
    return CUDA_SUCCESS;
}
#undef cuEventElapsedTime
extern "C" CUresult CUDAAPI cuEventElapsedTime(float* ms, CUevent a, CUevent b) { return cuEventElapsedTime_v2(ms, a, b); }

CUresult cuEventDestroy(CUevent e) {
    if (CUresult r = ready()) return r;
    if (!e) return CUDA_ERROR_INVALID_HANDLE;
    delete (Event*)e;
    return CUDA_SUCCESS;
}

// The codes this fake returns: name and description, as the real driver's cuGetErrorName / cuGetErrorString.
struct ErrorText {
    CUresult code;
    const char* name;
    const char* text;
};
const ErrorText ERRORS[] = {
    {CUDA_SUCCESS, "CUDA_SUCCESS", "no error"},
    {CUDA_ERROR_INVALID_VALUE, "CUDA_ERROR_INVALID_VALUE", "invalid argument"},
    {CUDA_ERROR_OUT_OF_MEMORY, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory"},
    {CUDA_ERROR_NOT_INITIALIZED, "CUDA_ERROR_NOT_INITIALIZED", "initialization error"},
    {CUDA_ERROR_INVALID_CONTEXT, "CUDA_ERROR_INVALID_CONTEXT", "invalid device context"},
    {CUDA_ERROR_NOT_FOUND, "CUDA_ERROR_NOT_FOUND", "named symbol not found"},
    {CUDA_ERROR_LAUNCH_FAILED, "CUDA_ERROR_LAUNCH_FAILED", "unspecified launch failure"},
    {CUDA_ERROR_INVALID_HANDLE, "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle"},
    {CUDA_ERROR_INVALID_IMAGE, "CUDA_ERROR_INVALID_IMAGE", "device kernel image is invalid"},
    {CUDA_ERROR_INVALID_DEVICE, "CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal"},
};

static const ErrorText* error_text(CUresult e) {
    for (const ErrorText& t : ERRORS)
        if (t.code == e) return &t;
    return nullptr;
}

CUresult cuGetErrorName(CUresult e, const char** s) {
    const ErrorText* t = error_text(e);
    *s = t ? t->name : nullptr;
    return t ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult cuGetErrorString(CUresult e, const char** s) {
    const ErrorText* t = error_text(e);
    *s = t ? t->text : nullptr;
    return t ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}
