package dev.onestep.backend.cpu;

/**
 * Scalar math shared by the CPU backends: an accurate double erf/erfc for the reference, a float erf for the
 * fast path (the same rational polynomial the vector kernel evaluates), diffusers' timestep embedding and
 * PyTorch's nearest-neighbour source index.
 */
final class CpuMath {
    private CpuMath() {}

    static final double SQRT1_2 = 0.7071067811865476;

    /** erf(x) to ~1e-15: a positive-term series below 2.5 (no cancellation), 1 − erfc above. */
    static double erf(double x) {
        double a = Math.abs(x);
        double r = a < 2.5 ? erfSeries(a) : 1 - erfc(a);
        return Math.copySign(r, x);
    }

    /** erfc(x), accurate in relative terms in the tails (used for Φ(x) at negative x). */
    static double erfc(double x) {
        if (x < 0) return 2 - erfc(-x);
        if (x < 2.5) return 1 - erfSeries(x);
        if (x > 27) return 0;
        // Continued fraction erfc(z) = e^{-z²}/√π · 1/(z + (1/2)/(z + 1/(z + (3/2)/(z + ...)))), evaluated from the tail.
        double f = x;
        for (int n = 120; n >= 1; n--) f = x + (n * 0.5) / f;
        return Math.exp(-x * x) / (Math.sqrt(Math.PI) * f);
    }

    // erf(x) = 2/√π · e^{-x²} · Σ 2ⁿ x^{2n+1} / (1·3·…·(2n+1)); all terms positive for x ≥ 0.
    private static double erfSeries(double x) {
        double x2 = x * x, term = x, sum = x;
        for (int n = 1; n < 300; n++) {
            term *= 2 * x2 / (2 * n + 1);
            sum += term;
            if (term < 1e-17 * sum) break;
        }
        return 2 / Math.sqrt(Math.PI) * Math.exp(-x2) * sum;
    }

    /** Exact GELU in double: x·Φ(x), Φ(x) = erfc(−x/√2)/2. */
    static double geluRef(double x) {
        return x * 0.5 * erfc(-x * SQRT1_2);
    }

    // Float erf as a rational function x·P(x²)/Q(x²) on [-4, 4] (Eigen's generic_fast_erf_float coefficients);
    // max |error| about 3e-7 against the double erf. Outside [-4, 4] erf is ±1 in float.
    static final float ERF_A1 = -1.60960333262415e-02f, ERF_A3 = -2.95459980854025e-03f, ERF_A5 = -7.34990630326855e-04f,
            ERF_A7 = -5.69250639462346e-05f, ERF_A9 = -2.10102402082508e-06f, ERF_A11 = 2.77068142495902e-08f,
            ERF_A13 = -2.72614225801306e-10f;
    static final float ERF_B0 = -1.42647390514189e-02f, ERF_B2 = -7.37332916720468e-03f, ERF_B4 = -1.68282697438203e-03f,
            ERF_B6 = -2.13374055278905e-04f, ERF_B8 = -1.45660718464996e-05f;

    static float erfF(float x0) {
        float x = Math.max(-4f, Math.min(4f, x0));
        float x2 = x * x;
        float p = Math.fma(x2, ERF_A13, ERF_A11);
        p = Math.fma(x2, p, ERF_A9);
        p = Math.fma(x2, p, ERF_A7);
        p = Math.fma(x2, p, ERF_A5);
        p = Math.fma(x2, p, ERF_A3);
        p = Math.fma(x2, p, ERF_A1);
        float q = Math.fma(x2, ERF_B8, ERF_B6);
        q = Math.fma(x2, q, ERF_B4);
        q = Math.fma(x2, q, ERF_B2);
        q = Math.fma(x2, q, ERF_B0);
        return x * p / q;
    }

    static float geluF(float x) {
        return 0.5f * x * (1f + erfF(x * (float) SQRT1_2));
    }

    static float siluF(float x) {
        return x / (1f + VecMath.exp(-x));
    }

    /**
     * diffusers get_timestep_embedding in float32: exponent = −ln(10000)·arange(half)/(half − shift);
     * emb = t·exp(exponent); [sin, cos] (or [cos, sin] when flipped); odd dim gets a trailing zero column.
     */
    static float[] timestepEmbedding(float[] timesteps, int dim, boolean flipSinToCos, float freqShift) {
        int half = dim / 2;
        float[] freq = new float[half];
        float negLog = (float) -Math.log(10000.0);
        float denom = (float) (half - (double) freqShift);
        for (int i = 0; i < half; i++) {
            float exponent = (float) i * negLog / denom;
            freq[i] = (float) Math.exp(exponent);
        }
        float[] out = new float[timesteps.length * dim];
        for (int n = 0; n < timesteps.length; n++) {
            for (int i = 0; i < half; i++) {
                float arg = timesteps[n] * freq[i];
                float s = (float) Math.sin(arg), c = (float) Math.cos(arg);
                out[n * dim + i] = flipSinToCos ? c : s;
                out[n * dim + half + i] = flipSinToCos ? s : c;
            }
            // odd dim: the last column stays zero (torch.nn.functional.pad(emb, (0, 1)))
        }
        return out;
    }

    /** PyTorch nearest: scale = (float) in/out, src = min(floor(dst·scale), in − 1). */
    static int nearestSource(int dst, int in, int out) {
        float scale = (float) in / out;
        return Math.min((int) Math.floor(dst * scale), in - 1);
    }
}
