package dev.onestep.cli;

import dev.onestep.backend.Backend;
import dev.onestep.backend.Backends;
import dev.onestep.bench.PipelineBenchmark;
import dev.onestep.bench.Sd2Configs;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/** `onestep bench`: full-size SD2 stage timings with deterministic random weights. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Time VAE encode, UNet, VAE decode and the whole one-step pass at full SD2 size (random weights).")
final class BenchCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--device", defaultValue = "auto", paramLabel = "auto|cpu|cuda", description = "compute device (default: ${DEFAULT-VALUE})")
    String device;

    @Option(names = "--res", defaultValue = "384x512", paramLabel = "HxW", description = "image height × width (default: ${DEFAULT-VALUE})")
    String res;

    @Option(names = "--batch", defaultValue = "1", paramLabel = "N",
            description = "images per pass (N in the batch dimension, as list predictions run them); stage times are per pass (default: ${DEFAULT-VALUE})")
    int batch;

    @Option(names = "--dtype", defaultValue = "fp32", paramLabel = "fp32|bf16|fp16", description = "compute precision (default: ${DEFAULT-VALUE})")
    String dtype;

    @Option(names = "--warmup", defaultValue = "1", description = "untimed passes per stage (default: ${DEFAULT-VALUE})")
    int warmup;

    @Option(names = "--iters", defaultValue = "3", description = "timed passes per stage (default: ${DEFAULT-VALUE})")
    int iters;

    @Option(names = "--json", paramLabel = "FILE", description = "also write the results as flat JSON")
    Path json;

    @Option(names = "--seed", defaultValue = "1234", description = "weight seed (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--profile", description = "also time every op of the whole pass's timed iterations (device time on a GPU) "
            + "and print the costliest; its marks add a little host time per op")
    boolean profile;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        String[] hw = res.toLowerCase(Locale.ROOT).split("[x×]");
        if (hw.length != 2) throw new ParameterException(spec.commandLine(), "--res must be HxW, e.g. 384x512");
        int h = Integer.parseInt(hw[0].trim()), w = Integer.parseInt(hw[1].trim());
        if (h < 8 || w < 8) throw new ParameterException(spec.commandLine(), "--res must be at least 8x8");
        if (iters < 1 || warmup < 0) throw new ParameterException(spec.commandLine(), "--iters ≥ 1 and --warmup ≥ 0");
        if (batch < 1 || batch > 1024) throw new ParameterException(spec.commandLine(), "--batch must be 1..1024, got " + batch);
        dev.onestep.tensor.DType.parseCompute(dtype);
        long t0 = System.nanoTime();
        try (Backend backend = Backends.create(device, dev.onestep.tensor.DType.parseCompute(dtype), err::println);
             PipelineBenchmark bench = new PipelineBenchmark(backend, Sd2Configs.unet(), Sd2Configs.vae(), batch, h, w, seed, profile)) {
            err.printf(Locale.ROOT, "built full-size SD2 UNet + VAE in %.1f s%n", (System.nanoTime() - t0) / 1e9);
            err.flush();
            Map<String, PipelineBenchmark.Stage> stages = bench.run(warmup, iters, s -> { err.println(s); err.flush(); });
            // the CPU's budget is the process (weights + activations + JVM): peak RSS; a GPU's is its device memory
            boolean cpu = backend.name().equals("cpu");
            long activations = backend.peakMemoryBytes(), device = backend.peakDeviceMemoryBytes();
            long peak = device > 0 ? device : cpu || activations <= 0 ? Progress.peakRssBytes() : activations;
            double peakTflops = backend.peakTflops();
            out.printf(Locale.ROOT, "%s, %s, %s%dx%d, median of %d (after %d warm-up)%n", backend.describe(), backend.computeType().computeName(),
                    batch == 1 ? "" : batch + " × ", h, w, iters, warmup);
            out.printf(Locale.ROOT, "%-11s %10s %10s %10s %9s%s%n", "stage", "median ms", "min ms", "GFLOP", "GFLOP/s", peakTflops > 0 ? "  of peak" : "");
            for (PipelineBenchmark.Stage s : stages.values())
                out.printf(Locale.ROOT, "%-11s %10.1f %10.1f %10.1f %9.1f%s%n", s.name(), s.medianMs(), s.minMs(), s.flops() / 1e9, s.gflops(),
                        peakTflops > 0 ? String.format(Locale.ROOT, "  %5.1f %%", 100 * s.gflops() / (peakTflops * 1e3)) : "");
            out.printf(Locale.ROOT, "peak memory: %.2f GB (%s)%s%n", peak / 1e9,
                    device > 0 ? "device: weights + activations + allocator cache" : cpu || activations <= 0 ? "process RSS" : "device",
                    activations > 0 ? String.format(Locale.ROOT, "; activations %.2f GB", activations / 1e9) : "");
            PipelineBenchmark.Stage total = stages.get("total");
            out.printf(Locale.ROOT, "throughput: %.2f images/s (%d per pass)%n", batch * 1000.0 / total.medianMs(), batch);
            if (profile) out.print(bench.profile(iters, 40));
            out.flush();
            if (json != null) writeJson(backend, h, w, stages, peak, activations);
        }
        return 0;
    }

    private void writeJson(Backend backend, int h, int w, Map<String, PipelineBenchmark.Stage> stages, long peak, long activations) throws IOException {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("device", backend.name());
        m.put("device_description", backend.describe());
        m.put("dtype", backend.computeType().computeName()); // what ran: the CPU computes in fp32 whatever --dtype says
        m.put("res", h + "x" + w);
        m.put("batch", batch);
        m.put("images_per_s", round(batch * 1000.0 / stages.get("total").medianMs()));
        m.put("iterations", iters);
        m.put("warmup", warmup);
        for (PipelineBenchmark.Stage s : stages.values()) {
            m.put(s.name() + "_ms", round(s.medianMs()));
            m.put(s.name() + "_gflops", round(s.gflops()));
        }
        m.put("peak_memory_bytes", peak);
        m.put("activation_peak_bytes", activations);
        StringBuilder sb = new StringBuilder("{\n");
        int i = 0;
        for (Map.Entry<String, Object> e : m.entrySet()) {
            Object v = e.getValue();
            sb.append("  \"").append(e.getKey()).append("\": ")
                    .append(v instanceof String s ? "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"" : v)
                    .append(++i < m.size() ? ",\n" : "\n");
        }
        sb.append("}\n");
        dev.onestep.io.AtomicFiles.write(json, o -> o.write(sb.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    }

    private static double round(double v) { return Math.round(v * 100) / 100.0; }
}
