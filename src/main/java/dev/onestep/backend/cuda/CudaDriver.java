package dev.onestep.backend.cuda;

import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUfunction;
import jcuda.driver.CUfunction_attribute;
import jcuda.driver.CUmodule;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.IntSupplier;

/**
 * The CUDA driver API through JCuda (org.jcuda:jcuda, JCudaDriver only): device, primary context, one stream,
 * memory, module loading and kernel launches.
 *
 * <p>Errors: JCuda's exceptions are enabled (so a status is never silently dropped), and every call also goes
 * through {@link #call}, which checks the returned status and turns either form of failure into a
 * {@link CudaException} naming the call (with sizes or kernel names) and the driver's error name and
 * cuGetErrorString text.
 *
 * <p>Addresses: JCuda wraps device pointers in CUdeviceptr objects with a protected native value; the rest of the
 * backend (Tensor.device, the FFM bindings of cuBLAS/cuDNN, kernel arguments) uses plain {@code long}s.
 * {@link DevicePtr} (a CUdeviceptr subclass) converts both ways: {@code address()} reads the protected value,
 * {@code new DevicePtr(address)} builds one as "null + byteOffset", which JCuda's native side resolves to
 * nativePointer + byteOffset (PointerUtils.getPointer). Host memory (MemorySegments) goes in as {@link HostPtr},
 * a Pointer built from a raw address with the protected Pointer(long) constructor, so copies need no ByteBuffer
 * and have no 2 GB limit.
 *
 * <p>The primary context is used (not cuCtxCreate) so cuBLAS and cuDNN, which run on the CUDA runtime, share it.
 * Every entry point makes it current on the calling thread first.
 *
 * <p>Nothing here has run on a GPU yet (written on a machine without one).
 */
final class CudaDriver implements AutoCloseable {

    /** A CUdeviceptr that exposes its address, or is built from one. */
    static final class DevicePtr extends CUdeviceptr {
        private static final CUdeviceptr NULL = new CUdeviceptr();

        DevicePtr() {}

        DevicePtr(long address) { super(NULL, address); }

        long address() { return getNativePointer() + getByteOffset(); }
    }

    /** A JCuda Pointer to raw host memory (a MemorySegment's address). */
    static final class HostPtr extends Pointer {
        HostPtr(long address) { super(address); }
    }

    /** A CUstream that exposes its handle (cudaStream_t for cuBLAS/cuDNN). */
    static final class Stream extends CUstream {
        long handle() { return getNativePointer(); }
    }

    /** A loaded kernel. */
    record Kernel(String name, CUfunction function) {}

    private static final ThreadLocal<CudaDriver> CURRENT = new ThreadLocal<>();
    private static final boolean SYNC_EACH_LAUNCH = Boolean.getBoolean("onestep.cuda.syncEachLaunch");
    private static final String KERNEL_MODE = System.getProperty("onestep.cuda.kernels", "auto"); // auto | ptx

    final CUdevice device = new CUdevice();
    final CUcontext context = new CUcontext();
    final Stream stream = new Stream();
    final String deviceName;
    final int ccMajor, ccMinor, multiprocessors, maxSharedOptin, driverVersion, clockKHz;
    final long totalMemory;
    private final Map<String, CUmodule> modules = new HashMap<>();
    private final Map<String, Kernel> kernels = new HashMap<>();
    private final Consumer<String> log;
    private boolean closed;

    CudaDriver(int ordinal, Consumer<String> log) {
        this.log = log;
        JCudaDriver.setExceptionsEnabled(true);
        call("cuInit", () -> JCudaDriver.cuInit(0));
        int[] n = new int[1];
        call("cuDeviceGetCount", () -> JCudaDriver.cuDeviceGetCount(n));
        if (ordinal >= n[0]) throw new CudaException("CUDA device " + ordinal + " requested, " + n[0] + " present", -1);
        call("cuDeviceGet(" + ordinal + ")", () -> JCudaDriver.cuDeviceGet(device, ordinal));
        byte[] name = new byte[256];
        call("cuDeviceGetName", () -> JCudaDriver.cuDeviceGetName(name, name.length, device));
        int len = 0;
        while (len < name.length && name[len] != 0) len++;
        deviceName = new String(name, 0, len, java.nio.charset.StandardCharsets.UTF_8);
        ccMajor = attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
        ccMinor = attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
        multiprocessors = attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
        maxSharedOptin = attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
        clockKHz = attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_CLOCK_RATE); // "typical" (boost) SM clock
        long[] mem = new long[1];
        call("cuDeviceTotalMem", () -> JCudaDriver.cuDeviceTotalMem(mem, device));
        totalMemory = mem[0];
        int[] v = new int[1];
        call("cuDriverGetVersion", () -> JCudaDriver.cuDriverGetVersion(v));
        driverVersion = v[0];
        if (ccMajor < 8)
            throw new CudaException("GPU " + deviceName + " has compute capability " + ccMajor + "." + ccMinor
                    + "; the CUDA backend needs 8.0 or newer (bf16 kernels, PTX built for compute_80)", -1);
        call("cuDevicePrimaryCtxRetain", () -> JCudaDriver.cuDevicePrimaryCtxRetain(context, device));
        makeCurrent();
        call("cuStreamCreate", () -> JCudaDriver.cuStreamCreate(stream, 0));
    }

    private int attribute(int attr) {
        int[] v = new int[1];
        call("cuDeviceGetAttribute(" + attr + ")", () -> JCudaDriver.cuDeviceGetAttribute(v, attr, device));
        return v[0];
    }

    /** Makes the primary context current on this thread (cheap after the first time per thread). */
    void makeCurrent() {
        if (CURRENT.get() == this) return;
        call("cuCtxSetCurrent", () -> JCudaDriver.cuCtxSetCurrent(context));
        CURRENT.set(this);
    }

    // ---------------------------------------------------------------- errors

    private static volatile Map<String, Integer> codesByName;

    /** Runs a driver call, checking both JCuda's exception and the returned status. */
    static void call(String what, IntSupplier f) {
        int status;
        try {
            status = f.getAsInt();
        } catch (jcuda.CudaException e) {
            int code = codeForName(e.getMessage());
            throw new CudaException(what + " failed: " + describeStatus(code, e.getMessage()), code, e);
        }
        check(what, status);
    }

    static void check(String what, int status) {
        if (status != CUresult.CUDA_SUCCESS) throw new CudaException(what + " failed: " + describeStatus(status, null), status);
    }

    /** "CUDA_ERROR_OUT_OF_MEMORY (out of memory)": the name, and cuGetErrorString's text when the driver answers. */
    static String describeStatus(int code, String fallbackName) {
        String name = code >= 0 ? CUresult.stringFor(code) : fallbackName;
        String text = null;
        if (code >= 0) {
            try {
                String[] s = new String[1];
                if (JCudaDriver.cuGetErrorString(code, s) == CUresult.CUDA_SUCCESS) text = s[0];
            } catch (Throwable t) {
                // the driver itself is broken or missing: the name has to do
            }
        }
        return text == null ? String.valueOf(name) : name + " (" + text + ")";
    }

    /** JCuda's exception message is CUresult.stringFor(code); invert it (-1 when unknown). */
    static int codeForName(String message) {
        Map<String, Integer> m = codesByName;
        if (m == null) {
            m = new HashMap<>();
            for (int c = 0; c <= 1000; c++) {
                String s = CUresult.stringFor(c);
                if (!s.startsWith("INVALID")) m.put(s, c);
            }
            codesByName = m;
        }
        if (message == null) return -1;
        String key = message.trim();
        int sp = key.indexOf(' ');
        if (sp > 0) key = key.substring(0, sp);
        return m.getOrDefault(key, -1);
    }

    // ---------------------------------------------------------------- memory

    long malloc(long bytes) {
        makeCurrent();
        DevicePtr p = new DevicePtr();
        try {
            call("cuMemAlloc(" + bytes + " bytes)", () -> JCudaDriver.cuMemAlloc(p, bytes));
        } catch (CudaException e) {
            if (e.status() == CUresult.CUDA_ERROR_OUT_OF_MEMORY) throw new DevicePool.OutOfDeviceMemory(e.getMessage(), e);
            throw e;
        }
        return p.address();
    }

    void free(long address) {
        makeCurrent();
        call("cuMemFree(0x" + Long.toHexString(address) + ")", () -> JCudaDriver.cuMemFree(new DevicePtr(address)));
    }

    /** Host → device, queued on the stream. Pageable source: the driver has consumed it when this returns. */
    void copyToDevice(long dst, MemorySegment src, long bytes) {
        if (bytes == 0) return;
        requireNative(src);
        makeCurrent();
        call("cuMemcpyHtoDAsync(" + bytes + " bytes)",
                () -> JCudaDriver.cuMemcpyHtoDAsync(new DevicePtr(dst), new HostPtr(src.address()), bytes, stream));
    }

    /** Device → host; returns when the bytes are in {@code dst} (the stream is synchronised). */
    void copyToHost(MemorySegment dst, long src, long bytes) {
        if (bytes == 0) return;
        requireNative(dst);
        makeCurrent();
        call("cuMemcpyDtoHAsync(" + bytes + " bytes)",
                () -> JCudaDriver.cuMemcpyDtoHAsync(new HostPtr(dst.address()), new DevicePtr(src), bytes, stream));
        synchronize();
    }

    void copyDeviceToDevice(long dst, long src, long bytes) {
        if (bytes == 0) return;
        makeCurrent();
        call("cuMemcpyDtoDAsync(" + bytes + " bytes)", () -> JCudaDriver.cuMemcpyDtoDAsync(new DevicePtr(dst), new DevicePtr(src), bytes, stream));
    }

    void zero(long dst, long bytes) {
        if (bytes == 0) return;
        makeCurrent();
        call("cuMemsetD8Async(" + bytes + " bytes)", () -> JCudaDriver.cuMemsetD8Async(new DevicePtr(dst), (byte) 0, bytes, stream));
    }

    private static void requireNative(MemorySegment s) {
        if (!s.isNative()) throw new IllegalArgumentException("host memory for a CUDA copy must be off-heap (a native MemorySegment)");
    }

    void synchronize() {
        makeCurrent();
        call("cuStreamSynchronize", () -> JCudaDriver.cuStreamSynchronize(stream));
    }

    // ---------------------------------------------------------------- events (the profiler's device clock)

    CUevent newEvent() {
        makeCurrent();
        CUevent e = new CUevent();
        call("cuEventCreate", () -> JCudaDriver.cuEventCreate(e, 0)); // CU_EVENT_DEFAULT: timing enabled
        return e;
    }

    /** Records {@code e} on the stream: it completes when everything queued before it has. */
    void record(CUevent e) {
        makeCurrent();
        call("cuEventRecord", () -> JCudaDriver.cuEventRecord(e, stream));
    }

    /** Milliseconds between two completed events (about 0.5 µs resolution). */
    float elapsedMs(CUevent from, CUevent to) {
        makeCurrent();
        float[] ms = new float[1];
        call("cuEventElapsedTime", () -> JCudaDriver.cuEventElapsedTime(ms, from, to));
        return ms[0];
    }

    void destroy(CUevent e) {
        makeCurrent();
        call("cuEventDestroy", () -> JCudaDriver.cuEventDestroy(e));
    }

    /** Free and total device memory, bytes. */
    long[] memoryInfo() {
        makeCurrent();
        long[] free = new long[1], total = new long[1];
        call("cuMemGetInfo", () -> JCudaDriver.cuMemGetInfo(free, total));
        return new long[] {free[0], total[0]};
    }

    // ---------------------------------------------------------------- kernels

    /**
     * The resource a module is loaded from: the cubin built for this GPU when there is one (sm_80 code runs on
     * every 8.x device; sm_90 only on 9.0), else the compute_80 PTX, which the driver JIT-compiles (first use of
     * a module on, say, a Blackwell GPU costs a moment; the driver caches the result).
     */
    static String moduleResource(String module, int major, int minor, boolean forcePtx) {
        if (forcePtx) return ptxResource(module);
        String base = "/kernels/" + module;
        if (major == 9 && minor == 0) return base + ".sm_90.cubin.gz";
        if (major == 8) return base + ".sm_80.cubin.gz";
        return ptxResource(module);
    }

    /** The compute_80 PTX of a module (gzip-compressed, like the cubins: tools/compile-kernels.sh). */
    static String ptxResource(String module) { return "/kernels/" + module + ".ptx.gz"; }

    /** The kernel {@code name} from kernels/{@code module}.cu, loaded and cached on first use. */
    synchronized Kernel kernel(String module, String name) {
        Kernel k = kernels.get(name);
        if (k != null) return k;
        makeCurrent();
        CUmodule m = modules.computeIfAbsent(module, this::loadModule);
        CUfunction f = new CUfunction();
        call("cuModuleGetFunction(" + module + ", " + name + ")", () -> JCudaDriver.cuModuleGetFunction(f, m, name));
        k = new Kernel(name, f);
        kernels.put(name, k);
        return k;
    }

    private CUmodule loadModule(String module) {
        String res = moduleResource(module, ccMajor, ccMinor, KERNEL_MODE.equals("ptx"));
        try {
            return loadImage(module, res);
        } catch (CudaException e) {
            if (res.equals(ptxResource(module))) throw e;
            // a cubin the driver refuses (e.g. built by a newer toolkit than the driver): JIT the PTX instead
            log.accept("CUDA: " + res + " did not load (" + e.getMessage() + "); JIT-compiling the PTX");
            return loadImage(module, ptxResource(module));
        }
    }

    private CUmodule loadImage(String module, String res) {
        byte[] image;
        try (InputStream in = CudaDriver.class.getResourceAsStream(res)) {
            if (in == null) throw new IllegalStateException("kernel image " + res + " missing from the classpath (run tools/compile-kernels.sh)");
            try (InputStream z = new java.util.zip.GZIPInputStream(in)) {
                image = z.readAllBytes();
            }
        } catch (IOException e) {
            throw new UncheckedIOException("kernel image " + res + " could not be read (" + e.getMessage() + "); run tools/compile-kernels.sh", e);
        }
        if (res.endsWith(".ptx.gz")) image = java.util.Arrays.copyOf(image, image.length + 1); // PTX is read as a C string
        byte[] img = image;
        CUmodule m = new CUmodule();
        call("cuModuleLoadData(" + res + ")", () -> JCudaDriver.cuModuleLoadData(m, img));
        return m;
    }

    /** Loads and unloads {@code module}'s PTX (the JIT fallback path) whatever the mode; for the GPU smoke check. */
    synchronized void checkPtxLoads(String module) {
        makeCurrent();
        CUmodule m = loadImage(module, ptxResource(module));
        call("cuModuleUnload(" + module + ".ptx)", () -> JCudaDriver.cuModuleUnload(m));
    }

    /** Allows a kernel more than 48 KB of dynamic shared memory (needed before such a launch). */
    void setMaxDynamicShared(Kernel k, int bytes) {
        makeCurrent();
        call("cuFuncSetAttribute(" + k.name() + ", MAX_DYNAMIC_SHARED_SIZE_BYTES=" + bytes + ")", () -> JCudaDriver.cuFuncSetAttribute(k.function(),
                CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes));
    }

    /** Queues a kernel on the stream: grid (gx, gy), 1-D blocks of {@code block} threads. */
    void launch(Kernel k, int gx, int gy, int block, int sharedBytes, KernelArgs args) {
        makeCurrent();
        int status;
        try {
            status = JCudaDriver.cuLaunchKernel(k.function(), gx, gy, 1, block, 1, 1, sharedBytes, stream, args.pointer(), null);
        } catch (jcuda.CudaException e) {
            int code = codeForName(e.getMessage());
            throw new CudaException("cuLaunchKernel(" + k.name() + ", grid " + gx + "x" + gy + ", block " + block + ", smem " + sharedBytes
                    + ") failed: " + describeStatus(code, e.getMessage()), code, e);
        }
        check("cuLaunchKernel(" + k.name() + ")", status);
        if (SYNC_EACH_LAUNCH) {
            // debugging aid (-Donestep.cuda.syncEachLaunch=true): an asynchronous fault is reported at its kernel
            try {
                synchronize();
            } catch (CudaException e) {
                throw new CudaException("kernel " + k.name() + " failed: " + e.getMessage(), e.status(), e);
            }
        }
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        makeCurrent();
        try {
            JCudaDriver.cuStreamSynchronize(stream);
            for (CUmodule m : modules.values()) JCudaDriver.cuModuleUnload(m);
            JCudaDriver.cuStreamDestroy(stream);
        } finally {
            CURRENT.remove();
            // Review change: the primary context is deliberately NOT released. cuBLAS and cuDNN carry their own
            // (static) CUDA runtime, which has bound to this context; if our release dropped the primary context's
            // reference count to 0 the driver would destroy it, and the next CudaBackend in the same process (the
            // tests create several: fp32/fp16/bf16, both conv paths) would get a new context that the libraries'
            // runtime state may still not match ("context is destroyed"/invalid handle errors). Keeping one
            // reference per backend until process exit is what the CUDA runtime itself does with primary contexts.
        }
    }

    /**
     * Whether a CUDA GPU and driver are usable, or why not: loads JCuda's native library (which needs
     * libcuda.so.1 from the NVIDIA driver), cuInit, and counts devices. Never throws.
     */
    /** The reason given when the JCuda jar is absent (an optional dependency of the library). */
    static final String JCUDA_MISSING = "JCuda is not on the class path (an optional dependency of the library: add org.jcuda:jcuda 12.6.0 to use CUDA)";

    static String unavailableReason() {
        try {
            JCudaDriver.setExceptionsEnabled(true);
            call("cuInit", () -> JCudaDriver.cuInit(0));
            int[] n = new int[1];
            call("cuDeviceGetCount", () -> JCudaDriver.cuDeviceGetCount(n));
            if (n[0] == 0) return "the CUDA driver reports no GPU";
            return null;
        } catch (UnsatisfiedLinkError | NoClassDefFoundError | ExceptionInInitializerError e) {
            if (e instanceof NoClassDefFoundError && String.valueOf(e.getMessage()).startsWith("jcuda/"))
                return JCUDA_MISSING;
            return "the CUDA driver library could not be loaded (" + linkError(e) + "); is the NVIDIA driver installed (libcuda.so.1)?";
        } catch (RuntimeException e) {
            return firstLine(e);
        }
    }

    /** JCuda's UnsatisfiedLinkError is many lines; keep the dynamic linker's own complaint when there is one. */
    static String linkError(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            for (String line : String.valueOf(t.getMessage()).split("\n")) {
                int at = line.indexOf("cannot open shared object file");
                if (at < 0) continue;
                int so = line.lastIndexOf(".so: ", at);
                return (so >= 0 ? line.substring(so + 5) : line).trim();
            }
        }
        return firstLine(e);
    }

    private static String firstLine(Throwable e) {
        Throwable t = e;
        while (t.getMessage() == null && t.getCause() != null) t = t.getCause();
        String m = String.valueOf(t.getMessage());
        int nl = m.indexOf('\n');
        return nl < 0 ? m : m.substring(0, nl);
    }
}
