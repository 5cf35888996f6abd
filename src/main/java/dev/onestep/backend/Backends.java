package dev.onestep.backend;

import dev.onestep.backend.cpu.CpuBackend;

import java.util.Locale;

/**
 * Picks the backend for a --device value: "cpu", "cuda" or "auto" (CUDA when a GPU and driver are usable,
 * else the CPU). The choice is reported once through {@code log}.
 */
public final class Backends {
    private Backends() {}

    public static Backend create(String device, java.util.function.Consumer<String> log) {
        String d = device.toLowerCase(Locale.ROOT);
        Backend b = switch (d) {
            case "cpu" -> new CpuBackend();
            case "cuda", "gpu" -> throw new IllegalStateException(
                    "--device cuda: this build has no CUDA backend yet; use --device cpu (or auto)");
            case "auto" -> new CpuBackend();
            default -> throw new IllegalArgumentException("unknown device '" + device + "' (auto, cpu, cuda)");
        };
        log.accept("Using " + b.describe());
        return b;
    }
}
