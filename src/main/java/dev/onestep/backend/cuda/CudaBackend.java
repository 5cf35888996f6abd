package dev.onestep.backend.cuda;

import dev.onestep.backend.Backend;
import dev.onestep.backend.Backends;
import dev.onestep.backend.Conv2dWeights;
import dev.onestep.backend.LinearWeights;
import dev.onestep.backend.OpOutput;
import dev.onestep.backend.OpTimer;
import dev.onestep.backend.Padding;
import dev.onestep.backend.cpu.ReferenceBackend;
import dev.onestep.tensor.DType;
import dev.onestep.tensor.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;

import static dev.onestep.backend.cuda.CudaChecks.require;

/**
 * The CUDA backend: activations live in device memory in the compute dtype (fp32, bf16 or fp16), every op is
 * queued on one stream and returns at once (download() and synchronize() wait).
 *
 * <ul>
 *   <li>Linear layers and 1×1 stride-1 convolutions: cuBLAS cublasGemmEx, fp32 accumulation (row-major trick in
 *       {@link Cublas#linearRowMajor}), bias added by a kernel.
 *   <li>Other convolutions: cuDNN 9's legacy API on NHWC tensors with KRSC filters, heuristically chosen
 *       algorithm, workspace from the pool; asymmetric padding is materialised first (pad_nhwc). With a bias, the
 *       bias (and {@link #conv2dAdd}'s residual) is fused into the convolution (cudnnConvolutionBiasActivationForward,
 *       identity activation, IMPLICIT_PRECOMP_GEMM); a shape cuDNN refuses that for is remembered and runs as
 *       convolution + epilogue kernel (logged once). Without cuDNN (or with {@link ConvPath#IM2COL}) im2col +
 *       cublasGemmEx in chunks of at most 256 MB of columns, then one kernel adding bias (+ residual).
 *   <li>Everything else: our kernels (kernels/*.cu), one instantiation per storage dtype.
 *   <li>Memory: {@link DevicePool}, a size-class caching allocator; weights are exact-size persistent blocks,
 *       uploaded once in the compute dtype (norm/embedding parameters in fp32).
 * </ul>
 *
 * <p>Status: written and compiled without a GPU; none of it has run on one. docs/CUDA.md lists what a GPU session
 * must verify. Ops are serialised (synchronized): the kernel-argument buffer and the cuBLAS/cuDNN handles are shared.
 */
public final class CudaBackend implements Backend {

    /** How non-1×1 convolutions run. */
    public enum ConvPath {
        AUTO, CUDNN, IM2COL;

        /**
         * {@code -Donestep.cuda.conv=auto|cudnn|im2col} (default auto): the path of backends made without naming one
         * ({@link Backends}, {@link #CudaBackend(DType)}). im2col leaves cuDNN unloaded, so a GPU machine where cuDNN
         * misbehaves still runs everything else (tools/gpu-check.sh falls back to it when the smoke check's cuDNN step fails).
         */
        public static ConvPath fromProperty() {
            String v = System.getProperty("onestep.cuda.conv", "auto").strip().toUpperCase(Locale.ROOT);
            try {
                return valueOf(v);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("-Donestep.cuda.conv=" + v.toLowerCase(Locale.ROOT) + ": expected auto, cudnn or im2col");
            }
        }
    }

    private static final int BLOCK = 256;
    private static final long IM2COL_MAX_BYTES = 256L << 20;
    private static final boolean ALLOW_TF32 = Boolean.getBoolean("onestep.cuda.tf32");
    /**
     * cuDNN's fused conv-bias(-add) call: "auto" (default) for fp16/bf16 only, where it runs on tensor cores (stable-fast,
     * which copies PyTorch's use of it, fuses only there: off tensor cores the call is reported slow; fp32 is the parity
     * mode anyway), "true" for every dtype, "false" never (conv + epilogue kernel).
     */
    private static final String FUSED_CONV = System.getProperty("onestep.cuda.fusedConv", "auto");
    /** fp16/bf16 attention on tensor cores (attention_tc*); {@code -Donestep.cuda.tcAttention=false} forces the CUDA-core kernels. */
    private static final boolean TC_ATTENTION = !"false".equals(System.getProperty("onestep.cuda.tcAttention"));
    /**
     * fp16/bf16 heads of d = dv = 64 and of 512 on the register-fragment kernels (attention_fa64/96/128,
     * attention_fa512_64/_80; FlashAttention-2 style); {@code -Donestep.cuda.faAttention=false} sends them to
     * attention_tc64/tc512 instead (A/B in tools/gpu-check.sh).
     */
    private static final boolean FA_ATTENTION = !"false".equals(System.getProperty("onestep.cuda.faAttention"));
    /** Query rows per block of the register-fragment attention: 64, 96 or 128 (attention_fa64, _fa96, _fa128). */
    private int faRows = 128;

    /** Dynamic shared memory of attention_fa64/96/128: Q [rows][72] + K, V [2][64][72], 16-bit (kernels/attention.cu). */
    static int faSmem(int rows) { return (rows + 4 * 64) * 72 * 2; }

    /** Query rows per block of attention_fa512 (d = dv = 512): 64, 80, or 0 to pick by waves (fa512Rows(int, int)). */
    private int fa512Rows = 0;

    /** Dynamic shared memory of attention_fa512_{64,80}: must match kernels/attention.cu. */
    static int fa512Smem(int rows) { return 1128 * rows + 133_120; }

    /**
     * The block height of attention_fa512 for {@code blocksPerRow} grid rows (batch·heads): one block per SM, so the
     * one whose grid needs the fewest rounds of the SMs, weighted by its height (ties: 64).
     */
    static int fa512Rows(int lq, int blocksPerRow, int sms) {
        long cost64 = Math.ceilDiv((long) Math.ceilDiv(lq, 64) * blocksPerRow, sms) * 64;
        long cost80 = Math.ceilDiv((long) Math.ceilDiv(lq, 80) * blocksPerRow, sms) * 80;
        return cost80 < cost64 ? 80 : 64;
    }

    /** Tests: attention_fa512's block height (64, 80, or 0 = by waves). */
    synchronized void fa512Rows(int rows) {
        if (rows != 0 && rows != 64 && rows != 80) throw new IllegalArgumentException("onestep.cuda.fa512Rows must be 0, 64 or 80, got " + rows);
        fa512Rows = rows;
    }

    /** Tests and A/B runs: which register-fragment attention kernel d = dv = 64 heads use (64, 96 or 128 query rows). */
    synchronized void faRows(int rows) {
        if (rows != 64 && rows != 96 && rows != 128) throw new IllegalArgumentException("onestep.cuda.faRows must be 64, 96 or 128, got " + rows);
        faRows = rows;
    }
    private static final ReferenceBackend HOST = new ReferenceBackend();

    private static volatile String unavailable;
    private static volatile boolean probed;

    private final DType dtype;
    private final String sfx;
    private final int elem;
    private final CudaDriver driver;
    private final DevicePool pool;
    private final KernelArgs args = new KernelArgs();
    private final Cublas cublas;
    private final Cudnn cudnn;       // null: im2col convolutions
    private final String cudnnNote;
    private final int gemmType, gemmCompute, cudnnType;
    private final Map<String, Cudnn.Plan> plans = new HashMap<>();
    private final java.util.Set<String> cudnnRejected = new java.util.HashSet<>(); // shapes cuDNN had no plan for (AUTO: im2col)
    private final java.util.Set<String> fusedRejected = new java.util.HashSet<>();  // shapes cuDNN refused the fused bias call for
    private long fusedConvs;                                                          // convolutions run through the fused call
    private final ConvPath convPath;
    private final boolean fuseConv;
    private final Consumer<String> log;
    private final Map<String, Integer> sharedSet = new HashMap<>();
    private boolean closed;

    /** Whether a CUDA GPU and driver are usable here (probed once). */
    public static boolean isAvailable() { return unavailableReason() == null; }

    /** Why CUDA is not usable ("the CUDA driver library could not be loaded ..."), or null when it is. */
    public static synchronized String unavailableReason() {
        if (!probed) {
            try {
                unavailable = CudaDriver.unavailableReason();
            } catch (NoClassDefFoundError e) { // CudaDriver's own JCuda types could not be loaded
                unavailable = CudaDriver.JCUDA_MISSING;
            }
            probed = true;
        }
        return unavailable;
    }

    public CudaBackend(DType computeType) { this(computeType, ConvPath.fromProperty(), s -> {}); }

    public CudaBackend(DType computeType, ConvPath convPath, Consumer<String> log) {
        if (computeType == null || !computeType.isFloating()) throw new IllegalArgumentException("compute dtype must be F32, F16 or BF16, got " + computeType);
        this.dtype = computeType;
        this.convPath = convPath;
        this.fuseConv = switch (FUSED_CONV) {
            case "true" -> true;
            case "false" -> false;
            default -> computeType != DType.F32;
        };
        this.log = log;
        this.sfx = suffix(computeType);
        this.elem = computeType.byteSize();
        // A/B switches, checked here so a bad value fails at construction with its name, not at the first launch
        faRows(Integer.getInteger("onestep.cuda.faRows", 128));
        fa512Rows(Integer.getInteger("onestep.cuda.fa512Rows", 0));
        this.gemmType = switch (computeType) {
            case F16 -> Cublas.CUDA_R_16F;
            case BF16 -> Cublas.CUDA_R_16BF;
            default -> Cublas.CUDA_R_32F;
        };
        this.gemmCompute = computeType == DType.F32 && ALLOW_TF32 ? Cublas.COMPUTE_32F_FAST_TF32 : Cublas.COMPUTE_32F;
        this.cudnnType = switch (computeType) {
            case F16 -> Cudnn.DATA_HALF;
            case BF16 -> Cudnn.DATA_BFLOAT16;
            default -> Cudnn.DATA_FLOAT;
        };
        String reason = unavailableReason();
        if (reason != null) throw new IllegalStateException("CUDA is not available: " + reason);
        CudaDriver d = null;
        Cublas b = null;
        try {
            d = new CudaDriver(Integer.getInteger("onestep.cuda.device", 0), log);
            CudaDriver drv = d;
            pool = new DevicePool(new DevicePool.Allocator() {
                @Override public long allocate(long bytes) { return drv.malloc(bytes); }
                @Override public void free(long address) { drv.free(address); }
                @Override public void synchronize() { drv.synchronize(); }
            });
            b = new Cublas(d.stream.handle());
            Cudnn dnn = null;
            String note;
            if (convPath == ConvPath.IM2COL) {
                note = "im2col convolutions (requested)";
            } else {
                try {
                    dnn = new Cudnn(d.stream.handle());
                    note = "cuDNN " + dnn.describe();
                } catch (RuntimeException e) {
                    if (convPath == ConvPath.CUDNN) throw e;
                    note = "no cuDNN, im2col convolutions (" + e.getMessage() + ")";
                    log.accept("CUDA: " + note);
                }
            }
            driver = d;
            cublas = b;
            cudnn = dnn;
            cudnnNote = note;
        } catch (RuntimeException | Error e) {
            if (b != null) b.close();
            if (d != null) d.close();
            args.close();
            throw e;
        }
    }

    static String suffix(DType t) {
        return switch (t) {
            case F32 -> "f32";
            case F16 -> "f16";
            case BF16 -> "bf16";
            default -> throw new IllegalArgumentException("no kernels for " + t);
        };
    }

    @Override public String name() { return "cuda"; }

    @Override
    public String describe() {
        int dv = driver.driverVersion;
        return String.format(Locale.ROOT, "CUDA: %s, compute capability %d.%d, %d SMs, %.1f GiB, driver API %d.%d, cuBLAS %s, %s; computing in %s",
                driver.deviceName, driver.ccMajor, driver.ccMinor, driver.multiprocessors, driver.totalMemory / (double) (1L << 30),
                dv / 1000, dv % 1000 / 10, cublas.describe(), cudnnNote, dtype);
    }

    @Override public DType computeType() { return dtype; }

    @Override
    public synchronized void synchronize() { driver.synchronize(); }

    @Override public long peakMemoryBytes() { return pool.peakInUseBytes(); }

    /** Activation blocks handed out and not yet released (weights are persistent blocks and not counted). */
    @Override public long liveMemoryBytes() { return pool.inUseBytes(); }

    @Override
    public synchronized long deviceMemoryAvailableBytes() { return driver.memoryInfo()[0] + pool.cachedBytes(); }

    /** Device memory held from the driver at its peak: weights, activations and the pool's cached blocks. */
    @Override public long peakDeviceMemoryBytes() { return pool.peakHeldBytes(); }

    /**
     * Dense peak of the arithmetic this backend uses, TFLOP/s: SMs × the driver's clock (CU_DEVICE_ATTRIBUTE_CLOCK_RATE,
     * the boost clock) × FLOP per clock per SM ({@link #flopsPerClockPerSm}); -1 for an architecture not in the table.
     * Reported by {@code bench} as "of peak". On an H100 SXM (132 SMs, 1.98 GHz) bf16/fp16 gives 1 070 TFLOP/s; NVIDIA
     * quotes 989 at the 1.83 GHz tensor boost, so percentages here are a little conservative.
     */
    @Override
    public double peakTflops() {
        double perSm = flopsPerClockPerSm(driver.ccMajor, driver.ccMinor, dtype, ALLOW_TF32);
        return perSm < 0 ? -1 : perSm * driver.multiprocessors * driver.clockKHz * 1e3 / 1e12;
    }

    /**
     * Dense FLOP per clock per SM (an FMA counts 2): tensor cores with fp32 accumulation for fp16/bf16 (TF32 at half
     * that rate when allowed for fp32), FP32 CUDA cores otherwise. From NVIDIA's architecture whitepapers: A100
     * (8.0) 312 TFLOP/s fp16 = 108 SMs × 1.41 GHz × 2048; L40S/RTX 6000 Ada (8.9) and A40 (8.6) 1024; H100 (9.0)
     * 989 TFLOP/s = 132 × 1.83 GHz × 4096; B200 (10.0) 8192. FP32: 128 (8.0), 256 (8.6 and newer). -1 when unknown.
     */
    static double flopsPerClockPerSm(int major, int minor, DType dtype, boolean tf32) {
        int cc = major * 10 + minor;
        double tensor = switch (cc) {
            case 80 -> 2048;
            case 86, 87, 89 -> 1024;
            case 90 -> 4096;
            case 100 -> 8192;
            default -> -1;
        };
        if (dtype != DType.F32) return tensor;
        if (tf32) return tensor < 0 ? -1 : tensor / 2;
        return switch (cc) {
            case 80 -> 128;
            case 86, 87, 89, 90, 100 -> 256;
            default -> -1;
        };
    }

    /** Device time per op for {@link dev.onestep.backend.ProfilingBackend}: CUDA events on this backend's stream. */
    @Override
    public OpTimer opTimer() { return new EventTimer(); }

    /**
     * A pair of events around each op, recorded on the stream without waiting; {@link #drainInto} synchronises once and
     * reads every pair. Events are reused from drain to drain and destroyed on close. The times are the device's: the
     * GPU time between the op's first queued work starting and its last finishing (gaps while the host lags behind
     * count too, which is the point when the GPU waits for launches).
     */
    private final class EventTimer implements OpTimer {
        private record Timed(String key, jcuda.driver.CUevent start, jcuda.driver.CUevent end) {}

        private final java.util.ArrayDeque<jcuda.driver.CUevent> spare = new java.util.ArrayDeque<>();
        private final java.util.List<jcuda.driver.CUevent> used = new java.util.ArrayList<>(); // recorded since the last drain
        private final java.util.List<Timed> timed = new java.util.ArrayList<>();
        private boolean closed;

        private jcuda.driver.CUevent mark() {
            jcuda.driver.CUevent e = spare.isEmpty() ? driver.newEvent() : spare.pop();
            used.add(e);
            driver.record(e);
            return e;
        }

        @Override
        public long start() {
            synchronized (CudaBackend.this) {
                if (closed) return -1;
                mark();
                return used.size() - 1;
            }
        }

        @Override
        public void stop(long start, String key) {
            synchronized (CudaBackend.this) {
                if (closed || start < 0) return;
                timed.add(new Timed(key, used.get((int) start), mark()));
            }
        }

        @Override
        public void drainInto(Map<String, double[]> into) {
            synchronized (CudaBackend.this) {
                if (used.isEmpty()) return;
                driver.synchronize();
                for (Timed t : timed) OpTimer.add(into, t.key(), 1, driver.elapsedMs(t.start(), t.end()));
                recycle();
            }
        }

        /** Every recorded event back to the spares; the pairs forgotten. */
        private void recycle() {
            spare.addAll(used);
            used.clear();
            timed.clear();
        }

        @Override
        public void close() {
            synchronized (CudaBackend.this) {
                if (closed) return;
                closed = true;
                if (CudaBackend.this.closed) return; // the context's teardown took the events with it
                driver.synchronize();
                recycle();
                for (jcuda.driver.CUevent e : spare) driver.destroy(e);
                spare.clear();
            }
        }
    }

    /** The allocator (tests and the bench read its counters). */
    DevicePool pool() { return pool; }

    boolean hasCudnn() { return cudnn != null; }

    /** Convolutions run through cuDNN's fused conv-bias(-add) call so far (tests). */
    synchronized long fusedConvs() { return fusedConvs; }

    /** Shapes for which cuDNN refused the fused call and conv + epilogue kernel ran instead (tests). */
    synchronized int fusedRejectedShapes() { return fusedRejected.size(); }

    // ---------------------------------------------------------------- memory

    private Tensor newTensor(DType t, int... shape) {
        long bytes = Tensor.numel(shape) * t.byteSize();
        long a = pool.acquire(bytes);
        return Tensor.device(a, t, () -> pool.release(a), shape);
    }

    private static long addr(Tensor t) { return t.data().address(); }

    private int grid(long n) {
        long blocks = Math.ceilDiv(n, BLOCK);
        return (int) Math.max(1, Math.min(blocks, (long) driver.multiprocessors * 32));
    }

    private KernelArgs kargs() { return args.reset(); }

    private void run(String module, String kernel, long n, KernelArgs a) {
        if (n == 0) return;
        driver.launch(driver.kernel(module, kernel), grid(n), 1, BLOCK, 0, a);
    }

    /** Copies host values (any floating dtype) into device memory at {@code dst} as {@code target}. */
    private void uploadInto(long dst, Tensor host, DType target) {
        long n = host.numel();
        if (host.dtype() == target) {
            driver.copyToDevice(dst, host.data(), n * target.byteSize());
            return;
        }
        long raw = pool.acquire(n * host.dtype().byteSize());
        try {
            driver.copyToDevice(raw, host.data(), n * host.dtype().byteSize());
            run("convert", "convert_" + suffix(host.dtype()) + "_to_" + suffix(target), n, kargs().ptr(raw).ptr(dst).i64(n));
        } finally {
            pool.release(raw); // stream-ordered: the next user of the block runs after the conversion
        }
    }

    private static void requireHostFloating(String op, Tensor host) {
        require(host != null && host.isHost() && !host.isClosed() && host.dtype().isFloating(), op, "expected an open floating host tensor, got", host);
    }

    @Override
    public synchronized Tensor upload(Tensor host) {
        requireHostFloating("upload", host);
        Tensor y = newTensor(dtype, host.shape());
        OpOutput.fill(y, () -> uploadInto(addr(y), host, dtype));
        return y;
    }

    @Override
    public synchronized Tensor download(Tensor t) {
        require(t != null && !t.isClosed() && t.dtype().isFloating(), "download", "expected an open floating tensor, got", t);
        if (t.isHost()) return t.toF32();
        long n = t.numel();
        Tensor out = Tensor.allocate(DType.F32, t.shape());
        if (t.dtype() == DType.F32) {
            driver.copyToHost(out.data(), addr(t), n * 4);
        } else {
            long tmp = pool.acquire(n * 4);
            try {
                run("convert", "convert_" + suffix(t.dtype()) + "_to_f32", n, kargs().ptr(addr(t)).ptr(tmp).i64(n));
                driver.copyToHost(out.data(), tmp, n * 4);
            } finally {
                pool.release(tmp);
            }
        }
        return out;
    }

    @Override
    public synchronized Tensor zeros(int... shape) {
        Tensor y = newTensor(dtype, shape);
        OpOutput.fill(y, () -> driver.zero(addr(y), y.numel() * elem));
        return y;
    }

    // ---------------------------------------------------------------- weights

    /** Device weights and an optional fp32 bias, both persistent pool blocks freed once on close. */
    abstract class DeviceWeights implements AutoCloseable {
        final long w, bias;
        private boolean closed;

        DeviceWeights(long w, long bias) {
            this.w = w;
            this.bias = bias;
        }

        public boolean hasBias() { return bias != 0; }

        CudaBackend owner() { return CudaBackend.this; }

        @Override
        public void close() {
            if (closed) return;
            closed = true;
            pool.releasePersistent(w);
            if (bias != 0) pool.releasePersistent(bias);
        }
    }

    /**
     * Conv weights as [O, kh, kw, I] in the compute dtype (cuDNN's KRSC; the im2col GEMM's rows), bias fp32 (our
     * kernels) and, for cuDNN's fused call, the bias in the compute dtype ({@code biasTyped}; the fp32 block for fp32).
     */
    final class ConvW extends DeviceWeights implements Conv2dWeights {
        final int o, i, kh, kw;
        final long biasTyped;
        private boolean typedClosed;

        ConvW(int o, int i, int kh, int kw, long w, long bias, long biasTyped) {
            super(w, bias);
            this.o = o;
            this.i = i;
            this.kh = kh;
            this.kw = kw;
            this.biasTyped = biasTyped;
        }

        @Override
        public void close() {
            if (!typedClosed && biasTyped != 0 && biasTyped != bias) pool.releasePersistent(biasTyped);
            typedClosed = true;
            super.close();
        }

        @Override public int outChannels() { return o; }
        @Override public int inChannels() { return i; }
        @Override public int kernelH() { return kh; }
        @Override public int kernelW() { return kw; }
    }

    /** Linear weights [out, in] in the compute dtype, bias fp32. */
    final class LinearW extends DeviceWeights implements LinearWeights {
        final int out, in;

        LinearW(int out, int in, long w, long bias) {
            super(w, bias);
            this.out = out;
            this.in = in;
        }

        @Override public int inFeatures() { return in; }
        @Override public int outFeatures() { return out; }
    }

    private long persistentBias(String op, Tensor bias, int expected) {
        if (bias == null) return 0;
        requireHostFloating(op, bias);
        require(bias.numel() == expected, op, "bias must have " + expected + " values, got", bias.shape());
        long b = pool.acquirePersistent(bias.numel() * 4);
        uploadInto(b, bias, DType.F32);
        return b;
    }

    @Override
    public synchronized Conv2dWeights prepareConv2d(Tensor weight, Tensor bias) {
        requireHostFloating("prepareConv2d", weight);
        require(weight.rank() == 4, "prepareConv2d", "weight must be [O, I, kh, kw], got", weight.shape());
        int o = weight.dim(0), i = weight.dim(1), kh = weight.dim(2), kw = weight.dim(3);
        long n = weight.numel();
        long w = pool.acquirePersistent(n * elem);
        if (kh == 1 && kw == 1) {
            uploadInto(w, weight, dtype); // [O, I, 1, 1] is already [O, 1, 1, I]
        } else {
            long tmp = pool.acquire(n * elem);
            try {
                uploadInto(tmp, weight, dtype);
                run("conv", "permute_oihw_to_ohwi_" + sfx, n, kargs().ptr(tmp).ptr(w).i32(o).i32(i).i32(kh).i32(kw));
            } finally {
                pool.release(tmp);
            }
        }
        long b = persistentBias("prepareConv2d", bias, o), typed = b;
        if (b != 0 && dtype != DType.F32) {
            // cuDNN's fused call takes the bias in the output's data type (PSEUDO_HALF / PSEUDO_BFLOAT16 configurations)
            typed = pool.acquirePersistent((long) o * elem);
            uploadInto(typed, bias, dtype);
        }
        return new ConvW(o, i, kh, kw, w, b, typed);
    }

    @Override
    public synchronized LinearWeights prepareLinear(Tensor weight, Tensor bias) {
        requireHostFloating("prepareLinear", weight);
        require(weight.rank() == 2, "prepareLinear", "weight must be [out, in], got", weight.shape());
        long w = pool.acquirePersistent(weight.numel() * elem);
        uploadInto(w, weight, dtype);
        return new LinearW(weight.dim(0), weight.dim(1), w, persistentBias("prepareLinear", bias, weight.dim(0)));
    }

    @Override
    public synchronized Tensor prepareParameter(Tensor host) {
        requireHostFloating("prepareParameter", host);
        long p = pool.acquirePersistent(host.numel() * 4);
        uploadInto(p, host, DType.F32);
        return Tensor.device(p, DType.F32, () -> pool.releasePersistent(p), host.shape());
    }

    // ---------------------------------------------------------------- GEMM-based ops

    private void addBias(long y, long bias, int channels, long n) {
        if (bias != 0) run("elementwise", "add_bias_" + sfx, n, kargs().ptr(y).ptr(bias).i32(channels).i64(n));
    }

    @Override
    public synchronized Tensor linear(Tensor x, LinearWeights weights) {
        require(weights instanceof LinearW lw && lw.owner() == this, "linear", "weights were not prepared by this CudaBackend:", weights);
        LinearW w = (LinearW) weights;
        CudaChecks.device("linear", "x", x, dtype);
        require(x.dim(-1) == w.in, "linear", "x's last dim must be " + w.in + ", got", x.shape());
        long rows = CudaChecks.rows(x);
        require(rows <= Integer.MAX_VALUE, "linear", "too many rows for one GEMM:", x.shape());
        Tensor y = newTensor(dtype, CudaChecks.withLast(x.shape(), w.out));
        if (rows > 0) OpOutput.fill(y, () -> {
            // Review fix: cuBLAS/cuDNN use the CUDA runtime, which binds to the calling thread's current context.
            // newTensor() may be served from the pool without any driver call, so on a thread that has not made
            // the context current yet, the runtime would pick/create device 0's primary context instead (wrong
            // device for -Donestep.cuda.device=N). makeCurrent() is one ThreadLocal read once done.
            driver.makeCurrent();
            cublas.linearRowMajor(addr(y), addr(x), w.w, (int) rows, w.in, w.out, gemmType, gemmCompute);
            addBias(addr(y), w.bias, w.out, rows * w.out);
        });
        return y;
    }

    /** y = (conv(x) + bias) (+ residual), in one epilogue kernel: residual fused (must not alias y), bias fp32 or absent. */
    private void epilogue(long y, long bias, Tensor residual, int channels, long n) {
        if (residual == null) addBias(y, bias, channels, n);
        else run("elementwise", "add_bias_residual_" + sfx, n, kargs().ptr(y).ptr(bias).ptr(addr(residual)).i32(channels).i64(n));
    }

    @Override
    public synchronized Tensor conv2d(Tensor x, Conv2dWeights weights, int stride, Padding pad) {
        return convolve("conv2d", x, weights, stride, pad, null);
    }

    /** conv2d + bias + residual: cuDNN's fused call with z = residual, alpha2 = 1, or conv/GEMM + one bias+residual kernel. */
    @Override
    public synchronized Tensor conv2dAdd(Tensor x, Conv2dWeights weights, int stride, Padding pad, Tensor residual) {
        require(residual != null, "conv2dAdd", "residual is null");
        CudaChecks.device("conv2dAdd", "residual", residual, dtype);
        return convolve("conv2dAdd", x, weights, stride, pad, residual);
    }

    private Tensor convolve(String op, Tensor x, Conv2dWeights weights, int stride, Padding pad, Tensor residual) {
        require(weights instanceof ConvW cw && cw.owner() == this, op, "weights were not prepared by this CudaBackend:", weights);
        ConvW w = (ConvW) weights;
        CudaChecks.device(op, "x", x, dtype);
        CudaChecks.checkConv(op, x, w.i, w.kh, w.kw, stride, pad);
        int n = x.dim(0), h = x.dim(1), wd = x.dim(2), c = x.dim(3);
        int oh = pad.outSize(h, w.kh, stride, true), ow = pad.outSize(wd, w.kw, stride, false);
        if (residual != null)
            require(residual.rank() == 4 && residual.dim(0) == n && residual.dim(1) == oh && residual.dim(2) == ow && residual.dim(3) == w.o, op,
                    "residual must be the output's shape " + java.util.Arrays.toString(new int[] {n, oh, ow, w.o}) + ", got", residual.shape());
        Tensor y = newTensor(dtype, n, oh, ow, w.o);
        OpOutput.fill(y, () -> convolveInto(x, w, stride, pad, residual, y));
        return y;
    }

    /** The queued work of {@link #convolve} into its output y [N, H', W', O]. */
    private void convolveInto(Tensor x, ConvW w, int stride, Padding pad, Tensor residual, Tensor y) {
        int c = x.dim(3), oh = y.dim(1), ow = y.dim(2);
        long outRows = (long) y.dim(0) * oh * ow;
        boolean noPad = pad.top() == 0 && pad.bottom() == 0 && pad.left() == 0 && pad.right() == 0;
        if (outRows == 0) return;
        driver.makeCurrent(); // see linear(): cuBLAS/cuDNN run on the calling thread's current context
        if (w.kh == 1 && w.kw == 1 && stride == 1 && noPad) {
            // a 1×1 convolution is a GEMM over positions: [N·H·W, I] · [O, I]ᵀ
            cublas.linearRowMajor(addr(y), addr(x), w.w, Math.toIntExact(outRows), c, w.o, gemmType, gemmCompute);
        } else {
            ConvRun r = cudnn != null ? convCudnn(x, w, y, stride, pad, residual) : ConvRun.NOT_RUN;
            if (r == ConvRun.FUSED) return; // bias (and residual) already added by cuDNN
            if (r == ConvRun.NOT_RUN) convIm2col(x, w, y, stride, pad, oh, ow);
        }
        epilogue(addr(y), w.bias, residual, w.o, outRows * w.o);
    }

    /** What {@link #convCudnn} did: nothing (use im2col), the convolution only, or convolution + bias (+ residual). */
    private enum ConvRun { NOT_RUN, CONV_ONLY, FUSED }

    /**
     * Runs the convolution through cuDNN. With a bias, first through the fused conv-bias(-add) call unless this shape was
     * refused before; a refusal (no IMPLICIT_PRECOMP_GEMM plan, or an error status from the call itself, which then
     * queued nothing) is remembered and logged once, and the plain convolution runs instead. NOT_RUN (nothing queued)
     * when cuDNN has no plan at all for this shape in AUTO mode.
     */
    private ConvRun convCudnn(Tensor x, ConvW w, Tensor y, int stride, Padding pad, Tensor residual) {
        int n = x.dim(0), h = x.dim(1), wd = x.dim(2), c = x.dim(3);
        long src = addr(x), padded = 0;
        int ph = pad.top(), pw = pad.left();
        boolean asymmetric = pad.top() != pad.bottom() || pad.left() != pad.right();
        if (asymmetric) {
            int H = h + pad.top() + pad.bottom(), W = wd + pad.left() + pad.right();
            if (cudnnRejected.contains(planKey(n, H, W, c, w, 0, 0, stride))) return ConvRun.NOT_RUN;
        } else if (cudnnRejected.contains(planKey(n, h, wd, c, w, ph, pw, stride))) {
            return ConvRun.NOT_RUN;
        }
        if (asymmetric) {
            // legacy descriptors pad symmetrically; materialise e.g. the VAE's (0, 1, 0, 1) and convolve unpadded
            int H = h + pad.top() + pad.bottom(), W = wd + pad.left() + pad.right();
            long count = (long) n * H * W * c;
            padded = pool.acquire(count * elem);
            run("conv", "pad_nhwc_" + sfx, count, kargs().ptr(src).ptr(padded).i32(n).i32(h).i32(wd).i32(c).i32(pad.top()).i32(pad.left()).i32(H).i32(W));
            src = padded;
            h = H;
            wd = W;
            ph = 0;
            pw = 0;
        }
        try {
            String key = planKey(n, h, wd, c, w, ph, pw, stride);
            if (fuseConv && w.biasTyped != 0 && !fusedRejected.contains(key)) {
                try {
                    Cudnn.Plan fused = plan(n, h, wd, c, w, ph, pw, stride, true);
                    checkPlanOutput(fused, w, y);
                    runPlan(fused, src, w, y, residual);
                    fusedConvs++;
                    return ConvRun.FUSED;
                } catch (CudaException e) {
                    // our reading of the docs (identity activation + PRECOMP, bias [1, O, 1, 1] in the data type) may not
                    // hold for every shape on a real GPU: run this shape as convolution + epilogue kernel from now on
                    fusedRejected.add(key);
                    Cudnn.Plan p = plans.remove(key + ",fused");
                    if (p != null) p.close();
                    log("CUDA: cuDNN refused the fused conv-bias" + (residual != null ? "-add" : "") + " for this shape, using conv + bias kernel: "
                            + e.getMessage());
                }
            }
            Cudnn.Plan plan;
            try {
                plan = plan(n, h, wd, c, w, ph, pw, stride, false);
            } catch (CudaException e) {
                // e.g. NHWC with C = 3 or 4 channels in fp16/bf16 (the VAE's/UNet's first conv) may have no legacy
                // algorithm; in AUTO mode run that shape as im2col + GEMM rather than fail the whole pipeline
                if (convPath == ConvPath.CUDNN) throw e;
                cudnnRejected.add(key);
                log("CUDA: cuDNN has no plan for this convolution, using im2col for it: " + e.getMessage());
                return ConvRun.NOT_RUN;
            }
            checkPlanOutput(plan, w, y);
            runPlan(plan, src, w, y, null);
            return ConvRun.CONV_ONLY;
        } finally {
            if (padded != 0) pool.release(padded); // stream-ordered: released after the queued pad/conv
        }
    }

    private static void checkPlanOutput(Cudnn.Plan plan, ConvW w, Tensor y) {
        require(plan.outH == y.dim(1) && plan.outW == y.dim(2) && plan.outC == w.o, "conv2d",
                "cuDNN output " + plan.outH + "x" + plan.outW + "x" + plan.outC + " differs from", y.shape());
    }

    /** Queues one cuDNN convolution (fused plans: + bias, + residual when given) with a workspace from the pool. */
    private void runPlan(Cudnn.Plan plan, long src, ConvW w, Tensor y, Tensor residual) {
        long ws = plan.workspaceBytes > 0 ? pool.acquire(plan.workspaceBytes) : 0;
        try {
            if (plan.fused) plan.forwardBias(src, w.w, w.biasTyped, residual != null ? addr(residual) : 0, residual != null, addr(y), ws);
            else plan.forward(src, w.w, addr(y), ws);
        } finally {
            if (ws != 0) pool.release(ws);
        }
    }

    private void log(String message) { log.accept(message); }

    private static String planKey(int n, int h, int wd, int c, ConvW w, int ph, int pw, int stride) {
        return n + "," + h + "," + wd + "," + c + "," + w.o + "," + w.kh + "," + w.kw + "," + ph + "," + pw + "," + stride;
    }

    private Cudnn.Plan plan(int n, int h, int wd, int c, ConvW w, int ph, int pw, int stride, boolean fused) {
        String key = planKey(n, h, wd, c, w, ph, pw, stride) + (fused ? ",fused" : "");
        Cudnn.Plan p = plans.get(key);
        if (p == null) {
            p = cudnn.new Plan(cudnnType, n, h, wd, c, w.o, w.kh, w.kw, ph, pw, stride, ALLOW_TF32, fused);
            plans.put(key, p);
        }
        return p;
    }

    private void convIm2col(Tensor x, ConvW w, Tensor y, int stride, Padding pad, int oh, int ow) {
        int n = x.dim(0), h = x.dim(1), wd = x.dim(2), c = x.dim(3);
        long k = (long) w.kh * w.kw * c;
        long total = (long) n * oh * ow;
        long chunk = Math.max(1, Math.min(total, IM2COL_MAX_BYTES / (k * elem)));
        long cols = pool.acquire(chunk * k * elem);
        try {
            for (long r0 = 0; r0 < total; r0 += chunk) {
                long rows = Math.min(chunk, total - r0);
                run("conv", "im2col_nhwc_" + sfx, rows * k, kargs().ptr(addr(x)).ptr(cols).i32(n).i32(h).i32(wd).i32(c).i32(w.kh).i32(w.kw)
                        .i32(stride).i32(pad.top()).i32(pad.left()).i32(oh).i32(ow).i64(r0).i64(rows));
                cublas.linearRowMajor(addr(y) + r0 * w.o * elem, cols, w.w, (int) rows, (int) k, w.o, gemmType, gemmCompute);
            }
        } finally {
            pool.release(cols);
        }
    }

    // ---------------------------------------------------------------- norms and activations

    @Override
    public synchronized Tensor groupNorm(Tensor x, int groups, Tensor gamma, Tensor beta, float eps, boolean silu) {
        CudaChecks.device("groupNorm", "x", x, dtype);
        CudaChecks.device("groupNorm", "gamma", gamma, DType.F32);
        CudaChecks.device("groupNorm", "beta", beta, DType.F32);
        CudaChecks.checkGroupNorm("groupNorm", x, groups, gamma, beta);
        int n = x.dim(0), c = x.dim(-1);
        long total = x.numel();
        if (total == 0) return newTensor(dtype, x.shape()); // review fix: before the division below (n or c = 0 divided by zero)
        int p = Math.toIntExact(total / ((long) n * c));
        if ((long) p * c > Integer.MAX_VALUE) // the kernels index a sample with 32-bit offsets
            throw new IllegalArgumentException("groupNorm: one sample of x " + java.util.Arrays.toString(x.shape())
                    + " holds more than 2^31 - 1 values; the CUDA kernels index a sample with 32-bit offsets");
        int cg = c / groups, ng = n * groups;
        // statistics: a block reads whole rows, 16 bytes (v values) a thread where C allows; cv columns a row
        int v = 16 / elem;
        boolean vec = c % v == 0 && addr(x) % 16 == 0; // y: a pool block whose size is a multiple of 16 bytes then
        int unit = vec ? v : 1, cv = c / unit;
        Tensor y = newTensor(dtype, x.shape());
        // cv ≤ 1024: whole rows side by side (rpi of them); wider: 1024 threads, each taking every 1024th column of one row
        int statThreads = cv <= 1024 ? cv * Math.max(1, 256 / cv) : 1024, rpi = cv <= 1024 ? statThreads / cv : 1;
        int ppc = Math.max(rpi, Math.ceilDiv(16384, c)); // ~16K values per block
        int chunks = Math.ceilDiv(p, ppc);
        int statSmem = (rpi * c + 2 * groups) * 4;
        long nc = (long) n * c;
        OpOutput.fill(y, () -> {
            long partial = pool.acquire((long) ng * chunks * 3 * 4), coef = pool.acquire(3 * nc * 4);
            try {
                CudaDriver.Kernel stats = driver.kernel("norms", "group_norm_stats_" + sfx);
                if (statSmem > 48 * 1024 && sharedSet.getOrDefault(stats.name(), 0) < statSmem) {
                    driver.setMaxDynamicShared(stats, statSmem);
                    sharedSet.put(stats.name(), statSmem);
                }
                driver.launch(stats, chunks, n, statThreads, statSmem,
                        kargs().ptr(addr(x)).ptr(partial).i32(p).i32(c).i32(groups).i32(ppc).i32(vec ? 1 : 0));
                driver.launch(driver.kernel("norms", "group_norm_finalize"), ng, 1, 256, 0, // a block per (n, g)
                        kargs().ptr(partial).ptr(coef).ptr(addr(gamma)).ptr(addr(beta)).i32(ng).i32(groups).i32(c).i32(chunks).f32(eps));
                int per = p * c;
                boolean shared = 12L * c <= 48 * 1024; // the coefficients in shared memory (3·C floats)
                int blocks = (int) Math.max(1, Math.min(Math.ceilDiv((long) per / unit, BLOCK),
                        Math.ceilDiv((long) driver.multiprocessors * 32, n)));
                driver.launch(driver.kernel("norms", "group_norm_apply_" + sfx), blocks, n, BLOCK, shared ? 12 * c : 0,
                        kargs().ptr(addr(x)).ptr(addr(y)).ptr(coef).i32(per).i32(c).i64(nc).i32(silu ? 1 : 0).i32(vec ? 1 : 0).i32(shared ? 1 : 0));
            } finally {
                pool.release(partial);
                pool.release(coef);
            }
        });
        return y;
    }

    @Override
    public synchronized Tensor layerNorm(Tensor x, Tensor gamma, Tensor beta, float eps) {
        CudaChecks.device("layerNorm", "x", x, dtype);
        CudaChecks.device("layerNorm", "gamma", gamma, DType.F32);
        CudaChecks.device("layerNorm", "beta", beta, DType.F32);
        CudaChecks.checkLayerNorm("layerNorm", x, gamma, beta);
        int c = x.dim(-1);
        long rows = CudaChecks.rows(x);
        Tensor y = newTensor(dtype, x.shape());
        if (rows > 0) OpOutput.fill(y, () -> {
            int warpsPerBlock = 4;
            driver.launch(driver.kernel("norms", "layer_norm_" + sfx), Math.toIntExact(Math.ceilDiv(rows, warpsPerBlock)), 1, 32 * warpsPerBlock, 0,
                    kargs().ptr(addr(x)).ptr(addr(y)).ptr(addr(gamma)).ptr(addr(beta)).i64(rows).i32(c).f32(eps));
        });
        return y;
    }

    private Tensor unary(String op, Tensor x) {
        CudaChecks.device(op, "x", x, dtype);
        Tensor y = newTensor(dtype, x.shape());
        long n = x.numel();
        OpOutput.fill(y, () -> run("activations", op + "_" + sfx, n, kargs().ptr(addr(x)).ptr(addr(y)).i64(n)));
        return y;
    }

    @Override public synchronized Tensor silu(Tensor x) { return unary("silu", x); }

    @Override public synchronized Tensor gelu(Tensor x) { return unary("gelu", x); }

    @Override
    public synchronized Tensor geglu(Tensor x) {
        CudaChecks.device("geglu", "x", x, dtype);
        require(x.dim(-1) % 2 == 0, "geglu", "last dim must be even, got", x.shape());
        int f = x.dim(-1) / 2;
        long rows = CudaChecks.rows(x);
        Tensor y = newTensor(dtype, CudaChecks.withLast(x.shape(), f));
        OpOutput.fill(y, () -> run("activations", "geglu_" + sfx, rows * f, kargs().ptr(addr(x)).ptr(addr(y)).i64(rows).i32(f)));
        return y;
    }

    // ---------------------------------------------------------------- attention

    /**
     * Dynamic shared memory of attention_dv{64,512}: must match kernels/attention.cu. K/V tiles in the storage type
     * ({@code elemBytes}), the block's query rows in fp32. d = dv = 512 with 8 rows: 147,584 B in fp32, 81,984 B in
     * fp16/bf16 (fits the 99 KB opt-in of sm_86/89, where attention_tc512's 160 KB does not).
     */
    static int attentionSmem(int d, int dv, int rowsPerBlock, int elemBytes) {
        return elemBytes * (32 * (d | 1) + 32 * dv) + 4 * rowsPerBlock * d;
    }

    /**
     * Dynamic shared memory of attention_tc{64,512} (fp16/bf16 storage, 64 query rows × 64-key tiles): must match the
     * formula in kernels/attention.cu. Q [64][dp + 8] and K/V [64][max(dp, dvp) + 8] as 16-bit values, scores
     * [64][68] fp32, P [64][72] 16-bit, running max/sum/rescale [3][64] fp32, rescale flags [4] int;
     * dp, dvp = d, dv rounded up to 16. d = dv = 64: 45,840 bytes; d = dv = 512: 160,528.
     */
    static int attentionTcSmem(int d, int dv) {
        int dp = (d + 15) & ~15, dvp = (dv + 15) & ~15, bm = 64, bn = 64;
        return bm * (dp + 8) * 2 + bn * (Math.max(dp, dvp) + 8) * 2 + bm * (bn + 4) * 4 + bm * (bn + 8) * 2 + 3 * bm * 4 + (bm / 16) * 4;
    }

    /**
     * softmax(q·kᵀ·scale)·v per head; q [N, Lq, heads·d], k [N, Lk, heads·d], v [N, Lk, heads·dv] → o [N, Lq, heads·dv].
     * fp16/bf16 with d, dv ≤ 512: tensor-core flash attention (attention_tc64 for d, dv ≤ 64 with 4 warps,
     * attention_tc512 otherwise with 16 warps; 64 query rows per block). fp32, larger d, or a GPU whose shared memory
     * is too small: the CUDA-core kernels (attention_dv64 for dv ≤ 64, attention_dv512 for dv ≤ 512).
     */
    @Override
    public synchronized Tensor attention(Tensor q, Tensor k, Tensor v, int heads, float scale, boolean causal) {
        CudaChecks.device("attention", "q", q, dtype);
        CudaChecks.device("attention", "k", k, dtype);
        CudaChecks.device("attention", "v", v, dtype);
        CudaChecks.checkAttention("attention", q, k, v, heads);
        int n = q.dim(0), lq = q.dim(1), lk = k.dim(1), d = q.dim(2) / heads, dv = v.dim(2) / heads;
        String variant;
        int rowsPerBlock, threads, smem;
        // the register-fragment kernels: 16-bit storage, q, k, v 16-byte aligned for cp.async (o, 4-byte stores, is a
        // 128-byte multiple from the pool)
        boolean fa = FA_ATTENTION && TC_ATTENTION && dtype != DType.F32 && ((addr(q) | addr(k) | addr(v)) & 15) == 0;
        if (fa && d == 64 && dv == 64) {
            variant = "attention_fa" + faRows + "_";
            rowsPerBlock = faRows;
            threads = faRows / 16 * 32;
            smem = faSmem(faRows);
        } else if (fa && d == 512 && dv == 512 && fa512Smem(80) <= driver.maxSharedOptin) {
            rowsPerBlock = fa512Rows != 0 ? fa512Rows : fa512Rows(lq, n * heads, driver.multiprocessors);
            variant = "attention_fa512_" + rowsPerBlock + "_";
            threads = rowsPerBlock / 16 * 64;
            smem = fa512Smem(rowsPerBlock);
        } else if (TC_ATTENTION && dtype != DType.F32 && d <= 512 && dv <= 512 && attentionTcSmem(d, dv) <= driver.maxSharedOptin) {
            boolean small = d <= 64 && dv <= 64;
            variant = small ? "attention_tc64_" : "attention_tc512_";
            rowsPerBlock = 64;
            threads = small ? 4 * 32 : 16 * 32;
            smem = attentionTcSmem(d, dv);
        } else {
            if (dv <= 64) {
                variant = "attention_dv64_";
                rowsPerBlock = 4 * 4;
            } else if (dv <= 512) {
                variant = "attention_dv512_";
                rowsPerBlock = 4 * 2;
            } else {
                throw new UnsupportedOperationException("attention: value head size " + dv + " > 512 is not supported by the CUDA kernel");
            }
            threads = 128;
            smem = attentionSmem(d, dv, rowsPerBlock, elem);
        }
        if (smem > driver.maxSharedOptin) { // the message is built only when it is needed
            boolean halfFits = dtype == DType.F32 && attentionSmem(d, dv, rowsPerBlock, 2) <= driver.maxSharedOptin;
            require(false, "attention", "head sizes d=" + d + ", dv=" + dv + " need " + smem + " bytes of shared memory in " + dtype
                    + ", the GPU allows " + driver.maxSharedOptin + (halfFits ? " (--dtype bf16 or fp16 fits)" : "") + "; q", q.shape());
        }
        require((long) n * heads <= 65535, "attention", "batch·heads over 65535:", q.shape());
        CudaDriver.Kernel kern = driver.kernel("attention", variant + sfx);
        if (smem > 48 * 1024 && sharedSet.getOrDefault(kern.name(), 0) < smem) {
            driver.setMaxDynamicShared(kern, smem);
            sharedSet.put(kern.name(), smem);
        }
        Tensor o = newTensor(dtype, n, lq, heads * dv);
        int grid = Math.ceilDiv(lq, rowsPerBlock), blockThreads = threads, shared = smem;
        if (lq > 0)
            OpOutput.fill(o, () -> driver.launch(kern, grid, n * heads, blockThreads, shared, kargs().ptr(addr(q)).ptr(addr(k)).ptr(addr(v)).ptr(addr(o))
                    .i32(lq).i32(lk).i32(heads).i32(d).i32(dv).f32(scale).i32(causal ? 1 : 0)));
        return o;
    }

    // ---------------------------------------------------------------- layout and element-wise

    @Override
    public synchronized Tensor upsampleNearest(Tensor x, int outH, int outW) {
        CudaChecks.device("upsampleNearest", "x", x, dtype);
        require(x.rank() == 4, "upsampleNearest", "x must be [N, H, W, C], got", x.shape());
        require(outH > 0 && outW > 0, "upsampleNearest", "output size must be positive, got " + outH + "x" + outW + "; x", x.shape());
        int n = x.dim(0), h = x.dim(1), w = x.dim(2), c = x.dim(3);
        require(h > 0 && w > 0, "upsampleNearest", "empty input", x.shape());
        Tensor y = newTensor(dtype, n, outH, outW, c);
        // PyTorch (and CpuMath.nearestSource): scale = (float) in / out
        float sh = (float) h / outH, sw = (float) w / outW;
        OpOutput.fill(y, () -> run("elementwise", "upsample_nearest_" + sfx, y.numel(),
                kargs().ptr(addr(x)).ptr(addr(y)).i32(n).i32(h).i32(w).i32(c).i32(outH).i32(outW).f32(sh).f32(sw)));
        return y;
    }

    /**
     * Computed on the host by the reference's float32 formula (diffusers' own arithmetic) and uploaded: a
     * [timesteps, dim] table of a few hundred values, bit-identical to the CPU backends, where a kernel's
     * sinf/expf would differ in the last ulp.
     */
    @Override
    public synchronized Tensor timestepEmbedding(float[] timesteps, int dim, boolean flipSinToCos, float freqShift) {
        try (Tensor host = HOST.timestepEmbedding(timesteps, dim, flipSinToCos, freqShift)) {
            return upload(host);
        }
    }

    @Override
    public synchronized Tensor embedding(Tensor table, int[] ids) {
        CudaChecks.device("embedding", "table", table, DType.F32);
        require(table.rank() == 2, "embedding", "table must be [V, C], got", table.shape());
        require(ids != null, "embedding", "ids is null");
        for (int id : ids) require(id >= 0 && id < table.dim(0), "embedding", "id " + id + " out of range for table", table.shape());
        int c = table.dim(1);
        Tensor y = newTensor(dtype, 1, ids.length, c);
        if (ids.length == 0) return y;
        OpOutput.fill(y, () -> {
            long dIds = pool.acquire(4L * ids.length);
            try (Arena arena = Arena.ofConfined()) {
                driver.copyToDevice(dIds, arena.allocateFrom(ValueLayout.JAVA_INT, ids), 4L * ids.length);
                run("elementwise", "embedding_" + sfx, (long) ids.length * c, kargs().ptr(addr(table)).ptr(dIds).ptr(addr(y)).i32(ids.length).i32(c));
            } finally {
                pool.release(dIds);
            }
        });
        return y;
    }

    @Override
    public synchronized Tensor concatChannels(Tensor a, Tensor b) {
        CudaChecks.device("concatChannels", "a", a, dtype);
        CudaChecks.device("concatChannels", "b", b, dtype);
        CudaChecks.checkConcat("concatChannels", a, b);
        int ca = a.dim(-1), cb = b.dim(-1);
        long rows = CudaChecks.rows(a);
        Tensor y = newTensor(dtype, CudaChecks.withLast(a.shape(), ca + cb));
        OpOutput.fill(y, () -> run("elementwise", "concat_channels_" + sfx, y.numel(), kargs().ptr(addr(a)).ptr(addr(b)).ptr(addr(y)).i64(rows).i32(ca).i32(cb)));
        return y;
    }

    @Override
    public synchronized Tensor sliceChannels(Tensor x, int start, int count) {
        CudaChecks.device("sliceChannels", "x", x, dtype);
        require(x.rank() >= 1 && start >= 0 && count >= 0 && start + count <= x.dim(-1), "sliceChannels",
                "channels [" + start + ", " + (start + count) + ") out of range for x", x.shape());
        long rows = CudaChecks.rows(x);
        Tensor y = newTensor(dtype, CudaChecks.withLast(x.shape(), count));
        OpOutput.fill(y, () -> run("elementwise", "slice_channels_" + sfx, y.numel(), kargs().ptr(addr(x)).ptr(addr(y)).i64(rows).i32(x.dim(-1)).i32(start).i32(count)));
        return y;
    }

    @Override
    public synchronized Tensor add(Tensor a, Tensor b) {
        CudaChecks.device("add", "a", a, dtype);
        CudaChecks.device("add", "b", b, dtype);
        CudaChecks.sameShape("add", a, b);
        Tensor y = newTensor(dtype, a.shape());
        long n = a.numel();
        OpOutput.fill(y, () -> run("elementwise", "add_" + sfx, n, kargs().ptr(addr(a)).ptr(addr(b)).ptr(addr(y)).i64(n)));
        return y;
    }

    @Override
    public synchronized Tensor addInPlace(Tensor a, Tensor b) {
        CudaChecks.device("addInPlace", "a", a, dtype);
        CudaChecks.device("addInPlace", "b", b, dtype);
        CudaChecks.sameShape("addInPlace", a, b);
        long n = a.numel();
        run("elementwise", "add_" + sfx, n, kargs().ptr(addr(a)).ptr(addr(b)).ptr(addr(a)).i64(n));
        return a;
    }

    @Override
    public synchronized Tensor addPerChannel(Tensor x, Tensor v) {
        CudaChecks.device("addPerChannel", "x", x, dtype);
        CudaChecks.device("addPerChannel", "v", v, dtype);
        require(x.rank() >= 2, "addPerChannel", "x must be [N, ..., C], got", x.shape());
        require(v.numel() == (long) x.dim(0) * x.dim(-1) && v.dim(-1) == x.dim(-1), "addPerChannel", "v must be [N, C] for x", x.shape(), "v", v.shape());
        Tensor y = newTensor(dtype, x.shape());
        long n = x.numel(), perSample = n / Math.max(1, x.dim(0));
        OpOutput.fill(y, () -> run("elementwise", "add_per_channel_" + sfx, n, kargs().ptr(addr(x)).ptr(addr(v)).ptr(addr(y)).i64(perSample).i32(x.dim(-1)).i64(n)));
        return y;
    }

    @Override
    public synchronized Tensor axpby(float alpha, Tensor x, float beta, Tensor y) {
        CudaChecks.device("axpby", "x", x, dtype);
        if (y != null) {
            CudaChecks.device("axpby", "y", y, dtype);
            CudaChecks.sameShape("axpby", x, y);
        }
        Tensor out = newTensor(dtype, x.shape());
        long n = x.numel();
        OpOutput.fill(out, () -> run("elementwise", "axpby_" + sfx, n,
                kargs().ptr(addr(x)).ptr(y == null ? 0 : addr(y)).ptr(addr(out)).f32(alpha).f32(beta).i32(y == null ? 0 : 1).i64(n)));
        return out;
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        try {
            driver.synchronize();
        } finally {
            for (Cudnn.Plan p : plans.values()) p.close();
            plans.clear();
            if (cudnn != null) cudnn.close();
            cublas.close();
            pool.close();
            args.close();
            driver.close();
        }
    }
}
