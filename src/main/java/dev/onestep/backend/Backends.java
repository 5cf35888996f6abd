package dev.onestep.backend;

import dev.onestep.backend.cpu.CpuBackend;
import dev.onestep.backend.cuda.CudaBackend;
import dev.onestep.tensor.DType;

import java.util.Locale;
import java.util.function.Consumer;

/**
 * Picks the backend for a --device value: "cpu", "cuda" or "auto" (CUDA when a GPU and driver are usable,
 * else the CPU). The choice is reported once through {@code log}.
 *
 * <p>Without a usable GPU, "cuda" fails with one message saying why (no driver library, no device, missing
 * cuBLAS, ...); "auto" says why it fell back and uses the CPU.
 */
public final class Backends {
    private Backends() {}

    /** As {@link #create(String, DType, Consumer)} computing in fp32. */
    public static Backend create(String device, Consumer<String> log) {
        return create(device, DType.F32, log);
    }

    /**
     * @param computeType the activation dtype (--dtype): F32, F16 or BF16. The CPU backend always computes in
     *                    fp32 and ignores it.
     */
    public static Backend create(String device, DType computeType, Consumer<String> log) {
        String d = device.toLowerCase(Locale.ROOT);
        Backend b = switch (d) {
            case "cpu" -> new CpuBackend();
            case "cuda" -> {
                String why = CudaBackend.unavailableReason();
                if (why != null)
                    throw new IllegalStateException("--device cuda: no usable CUDA GPU: " + sentence(why) + " Use --device cpu (or auto).");
                try {
                    yield new CudaBackend(computeType, CudaBackend.ConvPath.fromProperty(), log);
                } catch (RuntimeException e) {
                    throw new IllegalStateException("--device cuda: the CUDA backend failed to start: " + sentence(e.getMessage()) + " Use --device cpu (or auto).", e);
                }
            }
            case "auto" -> {
                String why = CudaBackend.unavailableReason();
                if (why != null) {
                    log.accept("no CUDA GPU found (" + shortReason(why) + "); using the CPU");
                    yield new CpuBackend();
                }
                try {
                    Backend cuda = new CudaBackend(computeType, CudaBackend.ConvPath.fromProperty(), log);
                    log.accept("--device auto: found a CUDA GPU");
                    yield cuda;
                } catch (RuntimeException e) {
                    log.accept("--device auto: the CUDA backend failed to start (" + e.getMessage() + "); using the CPU");
                    yield new CpuBackend();
                }
            }
            default -> throw new IllegalArgumentException("unknown device '" + device + "' (auto, cpu, cuda)");
        };
        log.accept("Using " + b.describe());
        if (b.computeType() != computeType)
            log.accept("note: --dtype " + computeType.computeName() + " applies to the CUDA backend; the " + b.name() + " backend computes in "
                    + b.computeType().computeName());
        return b;
    }

    /** The probe's reason in a few words, for the one line of --device auto's fallback ({@code --device cuda} gives the whole). */
    static String shortReason(String why) {
        if (why.startsWith("the CUDA driver library could not be loaded")) return "libcuda.so.1 not loadable";
        if (why.startsWith("JCuda is not on the class path")) return "JCuda is not on the class path";
        return why;
    }

    // ends a message with a full stop unless it already ends a sentence
    private static String sentence(String s) {
        return s != null && (s.endsWith(".") || s.endsWith("?") || s.endsWith("!")) ? s : s + ".";
    }
}
