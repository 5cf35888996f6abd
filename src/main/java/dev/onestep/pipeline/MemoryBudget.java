package dev.onestep.pipeline;

import dev.onestep.image.Resize;
import dev.onestep.io.config.VaeConfig;
import dev.onestep.tensor.Sizes;

import java.lang.management.ManagementFactory;
import java.util.Locale;

/**
 * Refuses an image before it is decoded or run when it would not fit, with the size it would need.
 *
 * <p>Two budgets. <b>Activations</b> (off-heap, so the Java heap limit does not bound them): the VAE at the
 * processing size dominates (SPEC: 80 % of the work and the widest full-resolution tensors); the estimate is
 * {@value #LIVE_FULL_RES_TENSORS} live fp32 tensors of the widest full-resolution VAE width, block_out_channels[1]
 * (the decoder's last upsampler output; 256 for SD2), i.e. about 3 GB at 768×768 and 12 MB at 64×64 on SD2. The
 * limit is --max-memory when given, else {@value #PHYSICAL_SHARE_PERCENT} % of physical memory (the max heap where
 * that is unknown). <b>Heap</b>: decoding and the full-size outputs cost about {@value #HEAP_BYTES_PER_PIXEL} bytes
 * per input pixel, against {@value #PHYSICAL_SHARE_PERCENT} % of the max heap (-Xmx).
 *
 * <p>On a device backend (CUDA) activations live in device memory in the compute dtype: {@link #onDevice} takes the
 * limit from the device's free memory ({@value #DEVICE_SHARE_PERCENT} %, after the weights are loaded) and the element
 * size from the dtype, unless --max-memory was given.
 */
public record MemoryBudget(long activationLimit, long heapLimit, String activationLimitSource, int activationElementBytes) {
    static final int LIVE_FULL_RES_TENSORS = 5;
    static final int HEAP_BYTES_PER_PIXEL = 40;
    static final int PHYSICAL_SHARE_PERCENT = 80;
    static final int DEVICE_SHARE_PERCENT = 90;

    public MemoryBudget(long activationLimit, long heapLimit, String activationLimitSource) {
        this(activationLimit, heapLimit, activationLimitSource, Float.BYTES);
    }

    /**
     * This budget for a run on {@code backend}: unchanged on the host; on a device backend, activations counted in
     * the compute dtype and, unless the limit was explicit (--max-memory), limited to {@value #DEVICE_SHARE_PERCENT} %
     * of the device memory still available (free plus the allocator's cache).
     */
    public MemoryBudget onDevice(dev.onestep.backend.Backend backend, boolean explicitLimit) {
        long available = backend.deviceMemoryAvailableBytes();
        if (available < 0) return this;
        int elem = backend.computeType().byteSize();
        if (explicitLimit) return new MemoryBudget(activationLimit, heapLimit, activationLimitSource, elem);
        return new MemoryBudget(available / 100 * DEVICE_SHARE_PERCENT, heapLimit,
                DEVICE_SHARE_PERCENT + " % of the free memory of the " + backend.name() + " device; set --max-memory to change", elem);
    }

    /** Limits from this machine: physical memory and the max heap. */
    public static MemoryBudget defaults() {
        long heap = Runtime.getRuntime().maxMemory();
        long phys = physicalMemory();
        long heapLimit = heap / 100 * PHYSICAL_SHARE_PERCENT;
        return phys > 0
                ? new MemoryBudget(phys / 100 * PHYSICAL_SHARE_PERCENT, heapLimit, PHYSICAL_SHARE_PERCENT + " % of physical memory; set --max-memory to change")
                : new MemoryBudget(heapLimit, heapLimit, PHYSICAL_SHARE_PERCENT + " % of the max heap; set --max-memory to change");
    }

    /** An explicit activation limit in bytes (--max-memory); the heap limit stays the JVM's. */
    public static MemoryBudget withLimit(long bytes) {
        if (bytes <= 0) throw new IllegalArgumentException("memory limit must be positive, got " + bytes);
        return new MemoryBudget(bytes, defaults().heapLimit, "--max-memory " + human(bytes));
    }

    /** Activation bytes for one image run at processing size pw × ph through this VAE. */
    public static long activationBytes(int pw, int ph, VaeConfig vae) { return activationBytes(pw, ph, vae, Float.BYTES); }

    /** The same with activations stored as {@code elementBytes}-byte values (2 for fp16/bf16 on a GPU). */
    public static long activationBytes(int pw, int ph, VaeConfig vae, int elementBytes) {
        int[] ch = vae.blockOutChannels();
        int widest = Math.max(ch[0], ch[Math.min(1, ch.length - 1)]); // the widths that run at full resolution
        return Sizes.saturatingProduct(pw, ph, elementBytes, LIVE_FULL_RES_TENSORS, widest);
    }

    /** Heap bytes to decode, post-process and write an input of w × h. */
    public static long heapBytes(int w, int h) {
        return Sizes.saturatingProduct(w, h, HEAP_BYTES_PER_PIXEL);
    }

    /** Throws a message naming the need and the limit when an input of w × h cannot run at {@code processingRes}. */
    public void check(String name, int w, int h, int processingRes, VaeConfig vae) {
        if (w <= 0 || h <= 0) throw new IllegalArgumentException(name + ": zero-size image (" + w + "×" + h + ")");
        long heap = heapBytes(w, h);
        if (heap > heapLimit)
            throw new IllegalArgumentException(String.format(Locale.ROOT, "%s: %d×%d is too large to decode: it needs %s of Java heap, "
                    + "above %s (%d %% of -Xmx); raise -Xmx (ONESTEP_JAVA_OPTS=-Xmx...)", name, w, h, about(heap), human(heapLimit), PHYSICAL_SHARE_PERCENT));
        int[] p = Resize.resizeMaxRes(w, h, processingRes);
        long act = activationBytes(p[0], p[1], vae, activationElementBytes);
        if (act > activationLimit)
            throw new IllegalArgumentException(String.format(Locale.ROOT, "%s: %d×%d at processing resolution %s (%d×%d) needs %s for activations, "
                            + "above the limit of %s (%s); use a smaller --processing-res (768 is the default)",
                    name, w, h, processingRes == 0 ? "0 (native)" : String.valueOf(processingRes), p[0], p[1], about(act), human(activationLimit), activationLimitSource));
    }

    /**
     * How many images of processing size pw × ph fit the activation limit in one batch (activations grow with the
     * batch): at least 1, since {@link #check} has already admitted each image on its own.
     */
    public int imagesThatFit(int pw, int ph, VaeConfig vae) {
        long one = activationBytes(pw, ph, vae, activationElementBytes);
        return (int) Math.max(1, Math.min(Integer.MAX_VALUE, activationLimit / Math.max(1, one)));
    }

    /** Parses 512m, 16g, 1.5G, 2048 (bytes), 8GB, 4GiB. */
    public static long parseSize(String s) {
        String t = s.strip().toLowerCase(Locale.ROOT).replace("ib", "").replace("b", "");
        long mul = 1;
        if (!t.isEmpty()) {
            switch (t.charAt(t.length() - 1)) {
                case 'k' -> mul = 1L << 10;
                case 'm' -> mul = 1L << 20;
                case 'g' -> mul = 1L << 30;
                case 't' -> mul = 1L << 40;
                default -> mul = 1;
            }
            if (mul != 1) t = t.substring(0, t.length() - 1);
        }
        try {
            double v = Double.parseDouble(t);
            if (!(v > 0)) throw new NumberFormatException();
            return (long) (v * mul);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not a memory size: '" + s + "' (e.g. 512m, 16g)");
        }
    }

    /** An estimate in words: "about 2.1 GB", or "more than 8 EB" for a size that saturated. */
    private static String about(long bytes) { return bytes == Long.MAX_VALUE ? "more than 8 EB" : "about " + human(bytes); }

    public static String human(long bytes) {
        if (bytes == Long.MAX_VALUE) return "more than 8 EB";
        if (bytes >= 1L << 40) return String.format(Locale.ROOT, "%.1f TB", bytes / (double) (1L << 40));
        if (bytes >= 1L << 30) return String.format(Locale.ROOT, "%.1f GB", bytes / (double) (1L << 30));
        if (bytes >= 1L << 20) return String.format(Locale.ROOT, "%.1f MB", bytes / (double) (1L << 20));
        return String.format(Locale.ROOT, "%.1f kB", bytes / 1024.0);
    }

    private static long physicalMemory() {
        try {
            if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os)
                return os.getTotalMemorySize();
        } catch (RuntimeException | LinkageError ignored) {
            // no management bean: fall back to the heap
        }
        return -1;
    }
}
