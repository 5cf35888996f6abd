package dev.onestep.bench;

import dev.onestep.backend.Backend;
import dev.onestep.backend.CountingBackend;
import dev.onestep.backend.ProfilingBackend;
import dev.onestep.io.config.UNetConfig;
import dev.onestep.io.config.VaeConfig;
import dev.onestep.model.ActivationHook;
import dev.onestep.model.WeightResolver;
import dev.onestep.model.unet.UNet2DConditionModel;
import dev.onestep.model.vae.AutoencoderKL;
import dev.onestep.tensor.DType;
import dev.onestep.tensor.Tensor;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Times the one-step pipeline's networks at full size: the SD2 UNet and VAE built from their real configs with
 * deterministic random weights (real checkpoints are not downloadable here; speed and memory do not depend on
 * the values). Stages: VAE encode, UNet, VAE decode, and the whole pass (encode → UNet → decode); warm-up
 * iterations, then timed ones, reported as medians with the FLOPs each stage did.
 */
public final class PipelineBenchmark implements AutoCloseable {
    /** One stage's result. */
    public record Stage(String name, double medianMs, double minMs, long flops) {
        public double gflops() { return flops / (medianMs * 1e6); }
    }

    private final CountingBackend backend;
    private final ProfilingBackend profiler; // null unless profiling
    private final UNet2DConditionModel unet;
    private final AutoencoderKL vae;
    private final int height, width, batch;
    private final int crossDim;

    /** Builds the networks (this takes a while at full size: ~950 M parameters are generated and packed). */
    public PipelineBenchmark(Backend backend, UNetConfig unetConfig, VaeConfig vaeConfig, int height, int width, long seed) {
        this(backend, unetConfig, vaeConfig, height, width, seed, false);
    }

    /**
     * With {@code profile}, every op of the whole pass's timed iterations is also timed on its own
     * ({@link ProfilingBackend}: device time on a GPU); {@link #profile} returns the table. The timer's marks cost a
     * little host time per op, so profiled stage times run a little slower than unprofiled ones.
     */
    public PipelineBenchmark(Backend backend, UNetConfig unetConfig, VaeConfig vaeConfig, int height, int width, long seed, boolean profile) {
        this(backend, unetConfig, vaeConfig, 1, height, width, seed, profile);
    }

    /** With {@code batch} images per pass (N in the batch dimension of every op, as the library's list calls run them). */
    public PipelineBenchmark(Backend backend, UNetConfig unetConfig, VaeConfig vaeConfig, int batch, int height, int width, long seed, boolean profile) {
        if (batch < 1) throw new IllegalArgumentException("batch must be ≥ 1, got " + batch);
        this.batch = batch;
        this.profiler = profile ? new ProfilingBackend(backend) : null;
        this.backend = new CountingBackend(profile ? profiler : backend);
        this.height = height;
        this.width = width;
        this.crossDim = unetConfig.crossAttentionDim();
        this.unet = UNet2DConditionModel.build(unetConfig, WeightResolver.synthetic(this.backend, seed, DType.F16));
        this.vae = AutoencoderKL.build(vaeConfig, WeightResolver.synthetic(this.backend, seed + 1, DType.F16));
    }

    /**
     * Runs {@code warmup} untimed and {@code iterations} timed passes of each stage. Every stage sees the data it sees in
     * the pipeline, never an all-zero stand-in (tensor cores run measurably faster on zeros): the UNet gets the encoded
     * image latent beside the zero noise latent, as the one-step recipe feeds it, with a random [N, 2, D] "prompt
     * embedding"; the decoder gets the encoded latent.
     */
    public Map<String, Stage> run(int warmup, int iterations, Consumer<String> log) {
        Map<String, Stage> out = new LinkedHashMap<>();
        try (Tensor image = randomImage(); Tensor context = randomPromptEmbedding()) {
            out.put("vae_encode", time("vae_encode", warmup, iterations, log, () -> vae.encodeMean(image, ActivationHook.NONE)));
            try (Tensor mean = vae.encodeMean(image, ActivationHook.NONE);
                 Tensor zeros = backend.zeros(mean.shape());
                 Tensor input = backend.concatChannels(mean, zeros)) {
                log.accept("latent " + Arrays.toString(mean.shape()) + " (NHWC) for " + (batch == 1 ? "a" : batch + " ×") + " " + height + "×" + width
                        + " image" + (batch == 1 ? "" : "s"));
                out.put("unet", time("unet", warmup, iterations, log, () -> unet.forward(input, 999f, context, ActivationHook.NONE)));
                out.put("vae_decode", time("vae_decode", warmup, iterations, log, () -> vae.decode(mean, ActivationHook.NONE)));
            }
            out.put("total", time("total", warmup, iterations, log, () -> wholePass(image, context)));
        }
        return out;
    }

    /** The op table of the whole pass's timed iterations, per pass (null unless built with profiling). */
    public String profile(int iterations, int top) {
        return profiler == null ? null : ProfilingBackend.format(profiler.table(), iterations, top);
    }

    private Tensor wholePass(Tensor image, Tensor context) {
        try (Tensor mean = vae.encodeMean(image, ActivationHook.NONE);
             Tensor zeros = backend.zeros(mean.shape());
             Tensor input = backend.concatChannels(mean, zeros);
             Tensor v = unet.forward(input, 999f, context, ActivationHook.NONE)) {
            return vae.decode(v, ActivationHook.NONE);
        }
    }

    private interface Pass {
        Tensor run();
    }

    private Stage time(String name, int warmup, int iterations, Consumer<String> log, Pass pass) {
        long flops = 0;
        for (int i = 0; i < warmup; i++) {
            backend.reset();
            try (Tensor t = pass.run()) {
                backend.synchronize();
            }
            flops = backend.flops();
        }
        double[] ms = new double[iterations];
        if (profiler != null) profiler.recording(name.equals("total"));
        for (int i = 0; i < iterations; i++) {
            backend.reset();
            ProcessCounters before = ProcessCounters.now();
            long t0 = System.nanoTime();
            try (Tensor t = pass.run()) {
                backend.synchronize();
            }
            ms[i] = (System.nanoTime() - t0) / 1e6;
            flops = backend.flops();
            log.accept(String.format(java.util.Locale.ROOT, "  %s #%d: %.1f ms%s", name, i + 1, ms[i],
                    ProcessCounters.since(before, ProcessCounters.now())));
        }
        if (profiler != null) profiler.recording(false);
        double[] sorted = ms.clone();
        Arrays.sort(sorted);
        double median = sorted.length % 2 == 1 ? sorted[sorted.length / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
        return new Stage(name, median, sorted[0], flops);
    }

    // a fixed pseudo-random image in [−1, 1]: content does not change the work (but zeros would change the speed)
    private Tensor randomImage() {
        float[] v = new float[Math.multiplyExact(batch, height * width * 3)];
        java.util.SplittableRandom r = new java.util.SplittableRandom(7);
        for (int i = 0; i < v.length; i++) v[i] = (float) (r.nextDouble() * 2 - 1);
        return upload(v, batch, height, width, 3);
    }

    // a fixed standard-normal stand-in for the empty-prompt embedding, one [2, D] copy per image: [N, 2, D]
    private Tensor randomPromptEmbedding() {
        float[] one = dev.onestep.pipeline.GaussianNoise.standardNormal(new java.util.SplittableRandom(11), 2 * crossDim);
        float[] all = new float[batch * one.length];
        for (int b = 0; b < batch; b++) System.arraycopy(one, 0, all, b * one.length, one.length);
        return upload(all, batch, 2, crossDim);
    }

    /** Images per pass. */
    public int batch() { return batch; }

    private Tensor upload(float[] v, int... shape) {
        try (Tensor host = Tensor.of(v, shape)) {
            return backend.upload(host);
        }
    }

    public Backend backend() { return backend; }

    @Override
    public void close() {
        unet.close();
        vae.close();
        if (profiler != null) profiler.release();
    }
}
