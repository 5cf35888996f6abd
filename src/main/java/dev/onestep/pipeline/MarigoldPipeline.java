package dev.onestep.pipeline;

import dev.onestep.Task;
import dev.onestep.backend.Backend;
import dev.onestep.image.Resize;
import dev.onestep.image.RgbImage;
import dev.onestep.tensor.Layouts;
import dev.onestep.tensor.Tensor;

import java.util.Locale;

/**
 * The multi-step diffusion baseline (original Marigold, SPEC "Multi-step baseline"), on the stages of a loaded
 * {@link OneStepPipeline}: encode the image once; per ensemble member start from noise (seeded Gaussian, an
 * explicit tensor, or zeros), run n DDIM steps (eta 0) with the chosen spacing where the UNet sees
 * concat([rgb_latent, x_t]); decode the last step's x0 (E2E-FT) or its prev_sample (original Marigold);
 * then ensemble the members (depth: {@link DepthEnsemble}, normals: {@link NormalEnsemble}) and post-process
 * as diffusion-e2e-ft's {@code MarigoldPipeline.__call__}. Members run one after the other (batch 1).
 *
 * <p>With 1 step, trailing spacing, 1 member, zero noise and final x0 the result equals {@link OneStepPipeline}'s.
 */
public final class MarigoldPipeline {
    /** Which latent of the last step is decoded. */
    public enum FinalLatent {
        /** pred_original_sample of the last step (diffusion-e2e-ft). */
        X0,
        /** prev_sample of the last step (original Marigold). */
        PREV;

        public static FinalLatent parse(String s) {
            return switch (s.toLowerCase(Locale.ROOT)) {
                case "x0" -> X0;
                case "prev" -> PREV;
                default -> throw new IllegalArgumentException("unknown final latent '" + s + "' (x0, prev)");
            };
        }
    }

    /** Where the initial latent comes from. */
    public enum Init { GAUSSIAN, ZEROS }

    /**
     * @param noise explicit initial latents, channels-first: [K, 4, h8, w8] (or [1, …] when K = 1), overriding
     *              {@code init} and {@code seed}; null for none
     */
    public record Options(int steps, int ensemble, DdimScheduler.Spacing spacing, FinalLatent finalLatent,
                          Init init, long seed, float[] noise, int processingRes, Resize.Mode resample,
                          DepthEnsemble.Settings ensembleSettings) {
        public Options {
            if (steps < 1) throw new IllegalArgumentException("steps must be ≥ 1, got " + steps);
            if (ensemble < 1) throw new IllegalArgumentException("ensemble size must be ≥ 1, got " + ensemble);
            if (processingRes < 0) throw new IllegalArgumentException("processing resolution must be ≥ 0");
        }

        /** Marigold's recipe knobs with this pipeline's defaults (Gaussian noise seed 0, final x0, bilinear). */
        public static Options of(int steps, int ensemble, DdimScheduler.Spacing spacing, int processingRes) {
            return new Options(steps, ensemble, spacing, FinalLatent.X0, Init.GAUSSIAN, 0L, null, processingRes,
                    Resize.Mode.BILINEAR, DepthEnsemble.Settings.defaults());
        }

        public Options withNoise(float[] n) { return new Options(steps, ensemble, spacing, finalLatent, init, seed, n, processingRes, resample, ensembleSettings); }

        public Options withSeed(long s) { return new Options(steps, ensemble, spacing, finalLatent, init, s, noise, processingRes, resample, ensembleSettings); }

        public Options withInit(Init i) { return new Options(steps, ensemble, spacing, finalLatent, i, seed, noise, processingRes, resample, ensembleSettings); }

        public Options withFinal(FinalLatent f) { return new Options(steps, ensemble, spacing, f, init, seed, noise, processingRes, resample, ensembleSettings); }

        public Options withResample(Resize.Mode m) { return new Options(steps, ensemble, spacing, finalLatent, init, seed, noise, processingRes, m, ensembleSettings); }
    }

    /** The prediction at the input size plus, for K > 1, its uncertainty [H·W] at the input size (else null). */
    public record Result(Prediction prediction, float[] uncertainty) {}

    private final OneStepPipeline stages;
    private final Backend backend;
    private final DdimScheduler scheduler;

    /** Uses the networks of {@code stages}; closing stays the caller's business. */
    public MarigoldPipeline(OneStepPipeline stages) {
        this.stages = stages;
        this.backend = stages.backend();
        this.scheduler = stages.scheduler();
    }

    /**
     * Runs the multi-step pipeline on one image.
     *
     * @param dump receives rgb_latent, per step unet_input_step{i}, unet_output_step{i}, prev_sample_step{i},
     *             x0_step{i} and init_noise (prefixed "member{k}_" when K > 1), and the final vae_dec_output; or null
     */
    public Result predict(RgbImage image, Task task, Options o, DumpHook dump) {
        return predict(image, task, o, dump, PostProcess.Output.INPUT_SIZE);
    }

    /** The same, the map (and uncertainty) ending where {@code output} says. */
    public Result predict(RgbImage image, Task task, Options o, DumpHook dump, PostProcess.Output output) {
        int W = image.width(), H = image.height();
        long t0 = System.nanoTime();
        Tensor host = stages.preprocess(image, o.processingRes(), o.resample());         // [1, h, w, 3]
        long t1 = System.nanoTime();
        Tensor rgbLatent;
        try (host) {
            rgbLatent = stages.encode(host, dump);                                       // [1, h8, w8, 4]
        }
        long t2 = System.nanoTime();
        int k = o.ensemble();
        int h8 = rgbLatent.dim(1), w8 = rgbLatent.dim(2), c = rgbLatent.dim(3);
        float[][] init = initialLatents(o, k, c, h8, w8);
        int[] timesteps = scheduler.timesteps(o.steps(), o.spacing());
        float[][] planes = new float[k][];
        int dh = 0, dw = 0;
        double unetNs = 0, decodeNs = 0;
        try (rgbLatent) {
            for (int m = 0; m < k; m++) {
                String prefix = k > 1 ? "member" + m + "_" : "";
                long s0 = System.nanoTime();
                Tensor latent = denoise(rgbLatent, init[m], h8, w8, c, timesteps, o.steps(), o.finalLatent(), dump, prefix);
                long s1 = System.nanoTime();
                OneStepPipeline.Planes dec;
                try (latent) {
                    dec = stages.decodeToPlanes(latent, k == 1 ? dump : null);           // [3, dh, dw]
                }
                long s2 = System.nanoTime();
                unetNs += s1 - s0;
                decodeNs += s2 - s1;
                dh = dec.height();
                dw = dec.width();
                // single_infer's per-member output: depth = clip(mean, −1, 1) → (d + 1)/2; normals normalised once
                planes[m] = task == Task.DEPTH
                        ? PostProcess.depthToUnit(PostProcess.depthMean(dec.data(), dh, dw))
                        : PostProcess.normalize(dec.data(), dh, dw);
            }
        }
        long t3 = System.nanoTime();
        float[] out, unc = null;
        if (task == Task.DEPTH) {
            float[] merged;
            if (k > 1) {
                DepthEnsemble.Result r = DepthEnsemble.ensemble(planes, dh, dw, o.ensembleSettings());
                merged = r.depth();
                unc = r.uncertainty();
            } else {
                merged = planes[0];
            }
            float[] unit = PostProcess.minMax(merged);
            out = output.matchInput() ? PostProcess.depthToInputSize(unit, dh, dw, H, W, o.resample()) : unit;
        } else {
            float[] chosen;
            if (k > 1) {
                NormalEnsemble.Result r = NormalEnsemble.ensemble(planes, dh, dw);
                chosen = r.normals();
                unc = r.uncertainty();
            } else {
                chosen = planes[0];
            }
            float[] unit = PostProcess.normalize(chosen, dh, dw);
            if (!output.matchInput()) out = unit;
            else {
                out = PostProcess.normalsToInputSize(unit, dh, dw, H, W, o.resample());
                if (output.renormalizeNormals()) PostProcess.renormalizeDiffusers(out, H, W);
            }
        }
        if (unc != null && output.matchInput()) {
            // the reference returns the uncertainty at the processing size; resized here to sit beside the result
            unc = Resize.resizeFloat(unc, 1, dh, dw, H, W, o.resample());
            for (int i = 0; i < unc.length; i++) unc[i] = Math.max(0f, unc[i]);
        }
        StageCheck.finite("post-processing", "the " + task.suffix() + " map", out);
        long t4 = System.nanoTime();
        Prediction.StageTimes times = new Prediction.StageTimes(ms(t1 - t0), ms(t2 - t1), unetNs / 1e6, decodeNs / 1e6, ms(t4 - t3));
        return new Result(output.matchInput() ? new Prediction(task, out, W, H, times) : new Prediction(task, out, dw, dh, times), unc);
    }

    /**
     * n DDIM steps (eta 0) from x_T = {@code init} ([c, h8, w8] channels-first).
     *
     * @return the final latent [1, h8, w8, c] on the backend (caller closes)
     */
    Tensor denoise(Tensor rgbLatent, float[] init, int h8, int w8, int c, int[] timesteps, int steps,
                   FinalLatent fin, DumpHook dump, String prefix) {
        Tensor xt;
        try (Tensor h = Tensor.of(Layouts.nchwToNhwc(init, 1, c, h8, w8), 1, h8, w8, c)) {
            xt = backend.upload(h);                                                      // [1, h8, w8, c]
        }
        Tensor x0 = null;
        try {
            if (dump != null) dump.stage(prefix + "init_noise", xt);
            for (int i = 0; i < timesteps.length; i++) {
                DdimScheduler.Step st = scheduler.step(timesteps[i], steps);
                Tensor prev;
                if (x0 != null) {
                    x0.close();
                    x0 = null;
                }
                try (Tensor out = stages.unet(rgbLatent, xt, timesteps[i], dump, prefix + "unet_input_step" + i)) { // [1, h8, w8, c]
                    if (dump != null) dump.stage(prefix + "unet_output_step" + i, out);
                    x0 = backend.axpby(st.x0Model(), out, st.x0Sample(), xt);            // pred_original_sample
                    try (Tensor eps = backend.axpby(st.epsModel(), out, st.epsSample(), xt)) { // pred_epsilon
                        prev = backend.axpby(st.sqrtAlphaPrev(), x0, st.sqrtOneMinusAlphaPrev(), eps);
                    }
                }
                xt.close();
                xt = prev;
                if (dump != null) {
                    dump.stage(prefix + "x0_step" + i, x0);
                    dump.stage(prefix + "prev_sample_step" + i, xt);
                }
            }
            if (fin == FinalLatent.X0) {
                Tensor r = x0;
                x0 = null;
                return r;
            }
            Tensor r = xt;
            xt = null;
            return r;
        } finally {
            if (x0 != null) x0.close();
            if (xt != null) xt.close();
        }
    }

    private static float[][] initialLatents(Options o, int k, int c, int h8, int w8) {
        int per = c * h8 * w8;
        float[][] init = new float[k][];
        if (o.noise() != null) {
            if (o.noise().length != (long) k * per)
                throw new IllegalArgumentException("noise has " + o.noise().length + " values; " + k + " member(s) of the latent ["
                        + c + ", " + h8 + ", " + w8 + "] need [" + k + ", " + c + ", " + h8 + ", " + w8 + "] = " + (long) k * per);
            for (int m = 0; m < k; m++) init[m] = java.util.Arrays.copyOfRange(o.noise(), m * per, (m + 1) * per);
        } else if (o.init() == Init.ZEROS) {
            for (int m = 0; m < k; m++) init[m] = new float[per];
        } else {
            init = GaussianNoise.members(o.seed(), k, c, h8, w8);
        }
        return init;
    }

    private static double ms(long nanos) { return nanos / 1e6; }
}
