package dev.onestep.io.config;

import dev.onestep.io.JsonFields;
import dev.onestep.io.WeightsException;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * vae/config.json of a diffusers AutoencoderKL, typed. Shape-defining keys are required; the rest take
 * diffusers' defaults. {@link #load} parses and validates; {@link #fromJson} only parses.
 *
 * @param scalingFactor latent = mean · scalingFactor on encode, z / scalingFactor on decode (SD: 0.18215)
 * @param shiftFactor   subtracted before scaling by newer VAEs (SD3/Flux); null for SD2
 */
public record VaeConfig(
        Path source,
        int inChannels,
        int outChannels,
        int latentChannels,
        int[] blockOutChannels,
        int layersPerBlock,
        int normNumGroups,
        double scalingFactor,
        Double shiftFactor,
        List<String> downBlockTypes,
        List<String> upBlockTypes,
        boolean midBlockAddAttention,
        boolean useQuantConv,
        boolean usePostQuantConv,
        String actFn) {

    public static final String DOWN_BLOCK = "DownEncoderBlock2D";
    public static final String UP_BLOCK = "UpDecoderBlock2D";

    /** Reads, parses and validates; errors name the file and key. */
    public static VaeConfig load(Path configJson) {
        VaeConfig c = fromJson(JsonFields.read(configJson).map(), configJson);
        c.validate();
        return c;
    }

    /** Parses without checking engine support. */
    public static VaeConfig fromJson(Map<String, Object> json, Path source) {
        JsonFields f = new JsonFields(json, String.valueOf(source));
        return new VaeConfig(
                source,
                f.reqInt("in_channels"),
                f.reqInt("out_channels"),
                f.reqInt("latent_channels"),
                f.reqIntList("block_out_channels"),
                f.reqInt("layers_per_block"),
                f.optInt("norm_num_groups", 32),
                f.optDouble("scaling_factor", 0.18215),
                f.optDoubleOrNull("shift_factor"),
                f.reqStringList("down_block_types"),
                f.reqStringList("up_block_types"),
                f.optBool("mid_block_add_attention", true),
                f.optBool("use_quant_conv", true),
                f.optBool("use_post_quant_conv", true),
                f.optString("act_fn", "silu"));
    }

    /** Rejects configurations OneStep does not implement, listing every problem in one message. */
    public VaeConfig validate() {
        List<String> p = new ArrayList<>();
        int n = blockOutChannels.length;
        if (n == 0) p.add("block_out_channels is empty");
        if (n > Ranges.MAX_BLOCKS) p.add("block_out_channels has " + n + " blocks, more than " + Ranges.MAX_BLOCKS);
        Ranges.perBlock(p, "down_block_types", downBlockTypes.size(), n);
        Ranges.perBlock(p, "up_block_types", upBlockTypes.size(), n);
        for (String t : downBlockTypes) if (!DOWN_BLOCK.equals(t)) p.add("down block type " + t + " (supported: " + DOWN_BLOCK + ")");
        for (String t : upBlockTypes) if (!UP_BLOCK.equals(t)) p.add("up block type " + t + " (supported: " + UP_BLOCK + ")");
        Ranges.positive(p, "in_channels", inChannels, Ranges.MAX_CHANNELS);
        Ranges.positive(p, "out_channels", outChannels, Ranges.MAX_CHANNELS);
        Ranges.positive(p, "latent_channels", latentChannels, Ranges.MAX_CHANNELS);
        Ranges.positive(p, "layers_per_block", layersPerBlock, Ranges.MAX_LAYERS);
        Ranges.positive(p, "norm_num_groups", normNumGroups, Ranges.MAX_CHANNELS);
        for (int i = 0; i < n; i++) {
            Ranges.positive(p, "block_out_channels[" + i + "]", blockOutChannels[i], Ranges.MAX_CHANNELS);
            if (normNumGroups > 0 && blockOutChannels[i] % normNumGroups != 0)
                p.add("block_out_channels[" + i + "] = " + blockOutChannels[i] + " is not divisible by norm_num_groups " + normNumGroups);
        }
        Ranges.factor(p, "scaling_factor", scalingFactor);
        if (shiftFactor != null) Ranges.finiteIn(p, "shift_factor", shiftFactor, -Ranges.MAX_FACTOR, Ranges.MAX_FACTOR);
        if (!"silu".equals(actFn)) p.add("act_fn " + actFn + " (only silu)");
        if (!p.isEmpty()) throw new WeightsException(source + ": unsupported VAE configuration: " + String.join("; ", p));
        return this;
    }

    @Override
    public String toString() {
        return "VaeConfig[in=" + inChannels + ", out=" + outChannels + ", latent=" + latentChannels
                + ", channels=" + Arrays.toString(blockOutChannels) + ", layers=" + layersPerBlock + ", groups=" + normNumGroups
                + ", scaling=" + scalingFactor + ", shift=" + shiftFactor + ", midAttention=" + midBlockAddAttention
                + ", quantConv=" + useQuantConv + ", postQuantConv=" + usePostQuantConv + ", act=" + actFn + ", source=" + source + "]";
    }
}
