package dev.onestep;

import dev.onestep.image.Resize;
import dev.onestep.pipeline.DdimScheduler;
import dev.onestep.pipeline.MarigoldPipeline;

import java.util.Locale;
import java.util.Objects;

/**
 * How a prediction is computed. {@link #oneStep()} (the default) is the E2E-FT recipe: one UNet evaluation at
 * t = 999 (trailing spacing) from a zero latent, x0 decoded. {@link #marigold()} is the original multi-step
 * Marigold recipe: n DDIM steps (eta 0) from seeded Gaussian noise, the scheduler's own spacing, K ensemble members
 * aligned and merged, with an uncertainty map for K > 1. Each setter returns a new recipe:
 *
 * <pre>{@code
 * DepthMap d = model.predictDepth(image, Recipe.marigold().steps(4).ensemble(5).seed(0));
 * float[] spread = d.uncertainty().orElseThrow();
 * }</pre>
 */
public final class Recipe {
    private final int steps, ensemble;
    private final String spacing; // null = the scheduler config's
    private final long seed;
    private final float[] noise;
    private final boolean zeros, finalPrev;

    private Recipe(int steps, int ensemble, String spacing, long seed, float[] noise, boolean zeros, boolean finalPrev) {
        if (steps < 1 || steps > 1000) throw new IllegalArgumentException("steps must be 1..1000, got " + steps);
        if (ensemble < 1 || ensemble > 100) throw new IllegalArgumentException("ensemble must be 1..100, got " + ensemble);
        this.steps = steps;
        this.ensemble = ensemble;
        this.spacing = spacing;
        this.seed = seed;
        this.noise = noise;
        this.zeros = zeros;
        this.finalPrev = finalPrev;
    }

    private static final Recipe ONE_STEP = new Recipe(1, 1, "trailing", 0, null, true, false);

    /** E2E-FT's one step: t = 999 (trailing), zero latent, x0. The default of every predict method. */
    public static Recipe oneStep() { return ONE_STEP; }

    /**
     * Original Marigold: 10 DDIM steps, 10 members, the scheduler config's spacing, Gaussian noise from seed 0, the
     * last step's x0 decoded (as diffusion-e2e-ft's pipeline; {@link #finalLatent} "prev" for Marigold's prev_sample).
     */
    public static Recipe marigold() { return new Recipe(10, 10, null, 0, null, false, false); }

    /** DDIM steps (1..1000). */
    public Recipe steps(int n) { return new Recipe(n, ensemble, spacing, seed, noise, zeros, finalPrev); }

    /** Ensemble members (1..100); K > 1 gives {@link DepthMap#uncertainty()} / {@link NormalMap#uncertainty()}. */
    public Recipe ensemble(int k) { return new Recipe(steps, k, spacing, seed, noise, zeros, finalPrev); }

    /** The seed of the members' Gaussian noise (member k uses its own stream of this seed). */
    public Recipe seed(long s) { return new Recipe(steps, ensemble, spacing, s, noise, false, finalPrev); }

    /** Timestep spacing: "leading", "trailing" or "linspace". */
    public Recipe spacing(String s) {
        DdimScheduler.Spacing.parse(Objects.requireNonNull(s, "spacing"));
        return new Recipe(steps, ensemble, s.toLowerCase(Locale.ROOT), seed, noise, zeros, finalPrev);
    }

    /** Explicit initial latents, channels-first [K, 4, h/8, w/8] for the processed size (overrides the seed). */
    public Recipe noise(float[] latents) {
        return new Recipe(steps, ensemble, spacing, seed, Objects.requireNonNull(latents, "latents").clone(), false, finalPrev);
    }

    /** Start every member from a zero latent instead of noise. */
    public Recipe zeroNoise() { return new Recipe(steps, ensemble, spacing, seed, null, true, finalPrev); }

    /** Which latent of the last step is decoded: "x0" (E2E-FT, default) or "prev" (original Marigold). */
    public Recipe finalLatent(String which) {
        boolean prev = MarigoldPipeline.FinalLatent.parse(Objects.requireNonNull(which, "which")) == MarigoldPipeline.FinalLatent.PREV;
        return new Recipe(steps, ensemble, spacing, seed, noise, zeros, prev);
    }

    public int steps() { return steps; }

    public int ensemble() { return ensemble; }

    /** Whether this is exactly the one-step E2E-FT recipe (run by the one-step pipeline). */
    boolean isOneStep() { return steps == 1 && ensemble == 1 && zeros && !finalPrev && "trailing".equals(spacing); }

    /** The multi-step pipeline's options for this recipe. */
    MarigoldPipeline.Options toOptions(int processingRes, Resize.Mode resample, DdimScheduler.Spacing schedulerDefault) {
        DdimScheduler.Spacing sp = spacing == null ? schedulerDefault : DdimScheduler.Spacing.parse(spacing);
        MarigoldPipeline.Options o = MarigoldPipeline.Options.of(steps, ensemble, sp, processingRes).withSeed(seed).withResample(resample)
                .withFinal(finalPrev ? MarigoldPipeline.FinalLatent.PREV : MarigoldPipeline.FinalLatent.X0);
        if (zeros) o = o.withInit(MarigoldPipeline.Init.ZEROS);
        if (noise != null) o = o.withNoise(noise);
        return o;
    }

    @Override
    public String toString() {
        if (isOneStep()) return "Recipe[one step]";
        return "Recipe[" + steps + " step(s) × " + ensemble + " member(s), " + (spacing == null ? "scheduler's" : spacing) + " spacing, "
                + (noise != null ? "explicit noise" : zeros ? "zero latent" : "seed " + seed) + ", final " + (finalPrev ? "prev" : "x0") + "]";
    }
}
