package dev.onestep.pipeline;

import dev.onestep.io.config.SchedulerConfig;

import java.util.Locale;

/**
 * diffusers DDIMScheduler (eta = 0), reproducing its float32 arithmetic: ᾱ from the beta schedule, the
 * timestep spacings (leading / trailing / linspace — the one-step fix of the paper is "trailing", which
 * gives t = 999 for one step instead of leading's t = 1), and the x0 / previous-sample coefficients.
 */
public final class DdimScheduler {
    /** How inference timesteps are spread over the training range. */
    public enum Spacing {
        LEADING, TRAILING, LINSPACE;

        public static Spacing parse(String s) {
            return switch (s.toLowerCase(Locale.ROOT)) {
                case "leading" -> LEADING;
                case "trailing" -> TRAILING;
                case "linspace" -> LINSPACE;
                default -> throw new IllegalArgumentException("unknown timestep spacing '" + s + "' (leading, trailing, linspace)");
            };
        }
    }

    /** What the network predicts. */
    public enum Prediction {
        EPSILON, V_PREDICTION, SAMPLE;

        public static Prediction parse(String s) {
            return switch (s) {
                case "epsilon" -> EPSILON;
                case "v_prediction" -> V_PREDICTION;
                case "sample" -> SAMPLE;
                default -> throw new IllegalArgumentException("unknown prediction_type '" + s + "' (epsilon, v_prediction, sample)");
            };
        }
    }

    private final int numTrainTimesteps;
    private final int stepsOffset;
    private final float[] alphasCumprod;
    private final float finalAlphaCumprod;
    private final Prediction prediction;
    private final Spacing defaultSpacing;

    public DdimScheduler(SchedulerConfig c) {
        this.numTrainTimesteps = c.numTrainTimesteps();
        this.stepsOffset = c.stepsOffset();
        this.alphasCumprod = alphasCumprod(c);
        this.finalAlphaCumprod = c.setAlphaToOne() ? 1f : alphasCumprod[0];
        this.prediction = Prediction.parse(c.predictionType());
        this.defaultSpacing = Spacing.parse(c.timestepSpacing());
    }

    public Prediction prediction() { return prediction; }

    public Spacing defaultSpacing() { return defaultSpacing; }

    public int numTrainTimesteps() { return numTrainTimesteps; }

    /** ᾱ_t (float32, as diffusers stores it). */
    public float alphaCumprod(int t) { return alphasCumprod[t]; }

    public float[] alphasCumprod() { return alphasCumprod.clone(); }

    /** The inference timesteps for {@code steps} steps, largest first (diffusers set_timesteps). */
    public int[] timesteps(int steps, Spacing spacing) {
        if (steps < 1 || steps > numTrainTimesteps)
            throw new IllegalArgumentException("steps must be in 1.." + numTrainTimesteps + ", got " + steps);
        int[] t = new int[steps];
        switch (spacing) {
            case LEADING -> {
                int ratio = numTrainTimesteps / steps;
                for (int i = 0; i < steps; i++) t[i] = (steps - 1 - i) * ratio + stepsOffset;
            }
            case TRAILING -> {
                // np.round(np.arange(T, 0, -T / steps)) − 1, in float64 with round-half-to-even
                double ratio = (double) numTrainTimesteps / steps;
                for (int i = 0; i < steps; i++) t[i] = (int) Math.rint(numTrainTimesteps - i * ratio) - 1;
            }
            case LINSPACE -> {
                // np.linspace(0, T − 1, steps).round()[::-1]
                for (int i = 0; i < steps; i++) {
                    double v = steps == 1 ? 0 : (double) (numTrainTimesteps - 1) * i / (steps - 1);
                    t[steps - 1 - i] = (int) Math.rint(v);
                }
            }
        }
        return t;
    }

    /** The DDIM step's coefficients at timestep t for a schedule of {@code steps} steps (eta 0). */
    public Step step(int t, int steps) {
        int prevT = t - numTrainTimesteps / steps;
        float aT = alphasCumprod[t];
        float aPrev = prevT >= 0 ? alphasCumprod[prevT] : finalAlphaCumprod;
        float betaT = 1f - aT;
        float sqrtA = (float) Math.sqrt(aT), sqrtB = (float) Math.sqrt(betaT);
        // x0 = cx·sample + cm·model_output; eps = ex·sample + em·model_output
        float cx, cm, ex, em;
        switch (prediction) {
            case V_PREDICTION -> { cx = sqrtA; cm = -sqrtB; ex = sqrtB; em = sqrtA; }
            case EPSILON -> { cx = 1f / sqrtA; cm = -sqrtB / sqrtA; ex = 0f; em = 1f; }
            default -> { cx = 0f; cm = 1f; ex = 1f / sqrtB; em = -sqrtA / sqrtB; }
        }
        return new Step(t, prevT, cx, cm, ex, em, (float) Math.sqrt(aPrev), (float) Math.sqrt(1f - aPrev));
    }

    /**
     * One DDIM step's linear coefficients. pred_x0 = x0Sample·x_t + x0Model·model_out;
     * pred_eps = epsSample·x_t + epsModel·model_out; prev = sqrtAlphaPrev·x0 + sqrtOneMinusAlphaPrev·eps.
     */
    public record Step(int t, int prevT, float x0Sample, float x0Model, float epsSample, float epsModel,
                       float sqrtAlphaPrev, float sqrtOneMinusAlphaPrev) {}

    /** ᾱ as diffusers computes it in float32: betas from the schedule, alphas = 1 − β, cumulative product. */
    static float[] alphasCumprod(SchedulerConfig c) {
        int n = c.numTrainTimesteps();
        float[] betas;
        if (c.trainedBetas() != null) {
            double[] tb = c.trainedBetas();
            if (tb.length != n) throw new IllegalArgumentException("trained_betas has " + tb.length + " values, num_train_timesteps is " + n);
            betas = new float[n];
            for (int i = 0; i < n; i++) betas[i] = (float) tb[i];
        } else {
            betas = switch (c.betaSchedule()) {
                case "linear" -> linspace((float) c.betaStart(), (float) c.betaEnd(), n);
                case "scaled_linear" -> {
                    float[] b = linspace((float) Math.sqrt(c.betaStart()), (float) Math.sqrt(c.betaEnd()), n);
                    for (int i = 0; i < n; i++) b[i] = b[i] * b[i];
                    yield b;
                }
                case "squaredcos_cap_v2" -> cosineBetas(n);
                default -> throw new IllegalArgumentException("beta_schedule '" + c.betaSchedule() + "' is not supported");
            };
        }
        // torch.cumprod on the CPU accumulates float32 input in double (acc_type<float> = double), rounding each output
        float[] ac = new float[n];
        double prod = 1.0;
        for (int i = 0; i < n; i++) {
            prod *= (1f - betas[i]);
            ac[i] = (float) prod;
        }
        return ac;
    }

    /**
     * torch.linspace in float32, bit for bit as the CPU kernel of torch 1.13 computes it: step = (end − start)/(n − 1);
     * values before n/2 are start + step·i, after it end − step·(n − 1 − i); the kernel fills 8-wide vectors (two per
     * loop turn) as base + k·step from the vector's first element and the tail element-wise, and the build contracts
     * every a·b + c into an FMA. The fixtures' ᾱ is only reproduced exactly with all three details.
     */
    static float[] linspace(float start, float end, int n) {
        float[] out = new float[n];
        if (n == 1) {
            out[0] = start;
            return out;
        }
        final int vec = 8;
        float step = (end - start) / (n - 1);
        int halfway = n / 2;
        int i = 0;
        for (; i <= n - 2 * vec; i += 2 * vec) {
            for (int v = i; v < i + 2 * vec; v += vec) {
                float base = linspaceAt(start, end, step, halfway, n, v);
                for (int k = 0; k < vec; k++) out[v + k] = Math.fma((float) k, step, base);
            }
        }
        for (; i < n; i++) out[i] = linspaceAt(start, end, step, halfway, n, i);
        return out;
    }

    private static float linspaceAt(float start, float end, float step, int halfway, int n, int i) {
        return i < halfway ? Math.fma(step, (float) i, start) : Math.fma(-step, (float) (n - 1 - i), end);
    }

    // diffusers betas_for_alpha_bar with the cosine ("squaredcos_cap_v2") transform, max_beta 0.999
    private static float[] cosineBetas(int n) {
        float[] b = new float[n];
        for (int i = 0; i < n; i++) {
            double t1 = (double) i / n, t2 = (double) (i + 1) / n;
            b[i] = (float) Math.min(1 - alphaBar(t2) / alphaBar(t1), 0.999);
        }
        return b;
    }

    private static double alphaBar(double t) {
        double c = Math.cos((t + 0.008) / 1.008 * Math.PI / 2);
        return c * c;
    }
}
