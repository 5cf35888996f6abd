package dev.onestep.io.config;

import dev.onestep.io.JsonFields;
import dev.onestep.io.WeightsException;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * scheduler/scheduler_config.json (diffusers DDIMScheduler / DDPMScheduler), typed. Every key is optional
 * and defaults to DDIMScheduler.__init__'s default (diffusers v0.30): these defaults are NOT SD2's values
 * (SD2: scaled_linear 0.00085–0.012, v_prediction, set_alpha_to_one false, steps_offset 1), which is why
 * the schedule must always be read from the file.
 *
 * @param className    "_class_name"; "DDIMScheduler" when absent
 * @param trainedBetas explicit betas overriding the schedule, or null
 */
public record SchedulerConfig(
        Path source,
        String className,
        int numTrainTimesteps,
        double betaStart,
        double betaEnd,
        String betaSchedule,
        double[] trainedBetas,
        String predictionType,
        boolean setAlphaToOne,
        int stepsOffset,
        String timestepSpacing,
        boolean clipSample,
        double clipSampleRange,
        boolean thresholding,
        boolean rescaleBetasZeroSnr) {

    public static final Set<String> BETA_SCHEDULES = Set.of("linear", "scaled_linear", "squaredcos_cap_v2");
    public static final Set<String> PREDICTION_TYPES = Set.of("epsilon", "v_prediction", "sample");
    public static final Set<String> SPACINGS = Set.of("leading", "trailing", "linspace");
    /** The schedule's arrays have one entry per train timestep (SD: 1 000). */
    static final int MAX_TRAIN_TIMESTEPS = 1_000_000;

    /** Reads, parses and validates; errors name the file and key. */
    public static SchedulerConfig load(Path configJson) {
        SchedulerConfig c = fromJson(JsonFields.read(configJson).map(), configJson);
        c.validate();
        return c;
    }

    /** Parses without checking engine support. */
    public static SchedulerConfig fromJson(Map<String, Object> json, Path source) {
        JsonFields f = new JsonFields(json, String.valueOf(source));
        return new SchedulerConfig(
                source,
                f.optString("_class_name", "DDIMScheduler"),
                f.optInt("num_train_timesteps", 1000),
                f.optDouble("beta_start", 0.0001),
                f.optDouble("beta_end", 0.02),
                f.optString("beta_schedule", "linear"),
                f.optDoubleListOrNull("trained_betas"),
                f.optString("prediction_type", "epsilon"),
                f.optBool("set_alpha_to_one", true),
                f.optInt("steps_offset", 0),
                f.optString("timestep_spacing", "leading"),
                f.optBool("clip_sample", true),
                f.optDouble("clip_sample_range", 1.0),
                f.optBool("thresholding", false),
                f.optBool("rescale_betas_zero_snr", false));
    }

    /** Rejects values the scheduler cannot compute with, listing every problem in one message. */
    public SchedulerConfig validate() {
        List<String> p = new ArrayList<>();
        Ranges.positive(p, "num_train_timesteps", numTrainTimesteps, MAX_TRAIN_TIMESTEPS);
        if (trainedBetas != null) {
            if (trainedBetas.length != numTrainTimesteps)
                p.add("trained_betas has " + trainedBetas.length + " values but num_train_timesteps is " + numTrainTimesteps);
            for (double b : trainedBetas) if (!(b > 0 && b < 1)) { p.add("trained_betas contains " + b + " (betas must be in (0, 1))"); break; }
        } else {
            if (!BETA_SCHEDULES.contains(betaSchedule)) p.add("beta_schedule " + betaSchedule + " (supported: linear, scaled_linear, squaredcos_cap_v2)");
            if (!(betaStart > 0 && betaStart < 1) || !(betaEnd > 0 && betaEnd < 1))
                p.add("beta_start " + betaStart + " / beta_end " + betaEnd + " should be in (0, 1)");
        }
        if (!PREDICTION_TYPES.contains(predictionType)) p.add("prediction_type " + predictionType + " (supported: epsilon, v_prediction, sample)");
        if (!SPACINGS.contains(timestepSpacing)) p.add("timestep_spacing " + timestepSpacing + " (supported: leading, trailing, linspace)");
        Ranges.intIn(p, "steps_offset", stepsOffset, 0, Math.max(0, numTrainTimesteps - 1));
        if (clipSample) Ranges.finiteIn(p, "clip_sample_range", clipSampleRange, Double.MIN_VALUE, Ranges.MAX_FACTOR);
        if (thresholding) p.add("thresholding (dynamic thresholding is not implemented)");
        if (!p.isEmpty()) throw new WeightsException(source + ": unsupported scheduler configuration: " + String.join("; ", p));
        return this;
    }

    @Override
    public String toString() {
        return "SchedulerConfig[" + className + ", steps=" + numTrainTimesteps + ", betas=" + betaSchedule + " " + betaStart + ".." + betaEnd
                + (trainedBetas != null ? ", trainedBetas[" + trainedBetas.length + "]" : "") + ", prediction=" + predictionType
                + ", setAlphaToOne=" + setAlphaToOne + ", stepsOffset=" + stepsOffset + ", spacing=" + timestepSpacing
                + ", clipSample=" + clipSample + ", thresholding=" + thresholding + ", rescaleZeroSnr=" + rescaleBetasZeroSnr
                + ", source=" + source + "]";
    }
}
