package dev.onestep.io.config;

import dev.onestep.io.JsonFields;
import dev.onestep.io.WeightsException;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * unet/config.json of a diffusers UNet2DConditionModel, typed.
 *
 * <p>Shape-defining keys are required (a silent default would only surface later as a weight-shape
 * mismatch); behavioural options take diffusers' own defaults. Per-block options that diffusers accepts as
 * an int or a list are stored as one value per down block. {@link #load} parses and then {@link #validate}s
 * against what OneStep implements; {@link #fromJson} only parses (for `info`, which should describe an
 * unsupported model rather than refuse to read it).
 *
 * @param attentionHeadDim  as written in the config. In diffusers (≤ 0.30 and SD2's configs) this list is
 *                          the <em>number of heads</em> per block, not the head width; use {@link #headsPerBlock()}.
 * @param numAttentionHeads per block, or null when the config leaves it unset (the usual case)
 * @param timeEmbeddingDim  null means 4 × blockOutChannels[0]; see {@link #timeEmbedDim()}
 * @param unsupportedExtras problems with options outside these fields (SDXL/ControlNet-era features set to
 *                          non-default values), reported by {@link #validate()}
 */
public record UNetConfig(
        Path source,
        int inChannels,
        int outChannels,
        List<String> downBlockTypes,
        List<String> upBlockTypes,
        String midBlockType,
        int[] blockOutChannels,
        int[] layersPerBlock,
        int[] attentionHeadDim,
        int[] numAttentionHeads,
        int normNumGroups,
        double normEps,
        int crossAttentionDim,
        boolean useLinearProjection,
        boolean upcastAttention,
        boolean onlyCrossAttention,
        boolean flipSinToCos,
        int freqShift,
        int downsamplePadding,
        String actFn,
        int[] transformerLayersPerBlock,
        double midBlockScaleFactor,
        boolean centerInputSample,
        int convInKernel,
        int convOutKernel,
        Integer timeEmbeddingDim,
        String resnetTimeScaleShift,
        String timeEmbeddingType,
        String classEmbedType,
        String additionEmbedType,
        Integer encoderHidDim,
        Integer timeCondProjDim,
        Integer numClassEmbeds,
        boolean dualCrossAttention,
        List<String> unsupportedExtras) {

    public static final Set<String> DOWN_BLOCKS = Set.of("CrossAttnDownBlock2D", "DownBlock2D");
    public static final Set<String> UP_BLOCKS = Set.of("CrossAttnUpBlock2D", "UpBlock2D");
    public static final String MID_BLOCK = "UNetMidBlock2DCrossAttn";

    /**
     * Options outside the record whose only supported value is diffusers' default (which we state here, since
     * saved configs write these keys out explicitly). Value null = must be null/absent.
     */
    private static final Object[][] MUST_BE_DEFAULT = {
            {"attention_type", "default"},
            {"reverse_transformer_layers_per_block", null},
            {"encoder_hid_dim_type", null},
            {"time_embedding_act_fn", null},
            {"timestep_post_act", null},
            {"class_embeddings_concat", Boolean.FALSE},
            {"cross_attention_norm", null},
            {"resnet_skip_time_act", Boolean.FALSE},
            {"addition_time_embed_dim", null},
            {"projection_class_embeddings_input_dim", null},
    };

    /** Reads, parses and validates; errors name the file and key. */
    public static UNetConfig load(Path configJson) {
        UNetConfig c = fromJson(JsonFields.read(configJson).map(), configJson);
        c.validate();
        return c;
    }

    /** Parses without checking engine support (type and presence errors still throw). */
    public static UNetConfig fromJson(Map<String, Object> json, Path source) {
        JsonFields f = new JsonFields(json, String.valueOf(source));
        int[] channels = f.reqIntList("block_out_channels");
        int n = channels.length;
        return new UNetConfig(
                source,
                f.reqInt("in_channels"),
                f.reqInt("out_channels"),
                f.reqStringList("down_block_types"),
                f.reqStringList("up_block_types"),
                // diffusers treats an explicit null as "no mid block"; keep it null so validate() can say so.
                json.containsKey("mid_block_type") ? f.optString("mid_block_type", null) : MID_BLOCK,
                channels,
                f.reqIntOrList("layers_per_block", n),
                f.intOrList("attention_head_dim", n, 8),
                f.intOrList("num_attention_heads", n, null),
                f.optInt("norm_num_groups", 32),
                f.optDouble("norm_eps", 1e-5),
                f.reqInt("cross_attention_dim"),
                f.optBool("use_linear_projection", false),
                f.optBool("upcast_attention", false),
                boolOrAnyTrue(f, "only_cross_attention"),
                f.optBool("flip_sin_to_cos", true),
                f.optInt("freq_shift", 0),
                f.optInt("downsample_padding", 1),
                f.optString("act_fn", "silu"),
                f.intOrList("transformer_layers_per_block", n, 1),
                f.optDouble("mid_block_scale_factor", 1.0),
                f.optBool("center_input_sample", false),
                f.optInt("conv_in_kernel", 3),
                f.optInt("conv_out_kernel", 3),
                f.optIntOrNull("time_embedding_dim"),
                f.optString("resnet_time_scale_shift", "default"),
                f.optString("time_embedding_type", "positional"),
                f.optString("class_embed_type", null),
                f.optString("addition_embed_type", null),
                f.optIntOrNull("encoder_hid_dim"),
                f.optIntOrNull("time_cond_proj_dim"),
                f.optIntOrNull("num_class_embeds"),
                f.optBool("dual_cross_attention", false),
                extras(json));
    }

    /** only_cross_attention may be a bool or a per-block list of bools; any true means "some block has it". */
    private static boolean boolOrAnyTrue(JsonFields f, String key) {
        if (f.raw(key) instanceof List<?> l) {
            for (Object o : l) {
                if (!(o instanceof Boolean b)) throw f.error(key, "should be true/false or a list of them, got " + l);
                if (b) return true;
            }
            return false;
        }
        return f.optBool(key, false);
    }

    private static List<String> extras(Map<String, Object> json) {
        List<String> out = new ArrayList<>();
        for (Object[] d : MUST_BE_DEFAULT) {
            String key = (String) d[0];
            Object v = json.get(key);
            if (v != null && !v.equals(d[1]))
                out.add(key + " = " + v + " (only " + (d[1] == null ? "null" : d[1]) + " is supported)");
        }
        Object mboca = json.get("mid_block_only_cross_attention");
        if (Boolean.TRUE.equals(mboca)) out.add("mid_block_only_cross_attention = true (not supported)");
        Object scale = json.get("resnet_out_scale_factor");
        if (scale instanceof Number s && s.doubleValue() != 1.0) out.add("resnet_out_scale_factor = " + s + " (only 1.0 is supported)");
        return List.copyOf(out);
    }

    /** Heads per down block: num_attention_heads when set, else attention_head_dim (diffusers' naming quirk). */
    public int[] headsPerBlock() {
        return (numAttentionHeads != null ? numAttentionHeads : attentionHeadDim).clone();
    }

    /** Width of the time embedding MLP: time_embedding_dim, or 4 × block_out_channels[0] by default. */
    public int timeEmbedDim() {
        return timeEmbeddingDim != null ? timeEmbeddingDim : 4 * blockOutChannels[0];
    }

    /** Number of down (and up) blocks. */
    public int numBlocks() { return blockOutChannels.length; }

    /** Rejects configurations OneStep does not implement, listing every problem in one message. */
    public UNetConfig validate() {
        List<String> p = new ArrayList<>();
        int n = blockOutChannels.length;
        if (n == 0) p.add("block_out_channels is empty");
        if (n > Ranges.MAX_BLOCKS) p.add("block_out_channels has " + n + " blocks, more than " + Ranges.MAX_BLOCKS);
        Ranges.perBlock(p, "down_block_types", downBlockTypes.size(), n);
        Ranges.perBlock(p, "up_block_types", upBlockTypes.size(), n);
        Ranges.perBlock(p, "layers_per_block", layersPerBlock.length, n);
        Ranges.perBlock(p, "attention_head_dim", attentionHeadDim.length, n);
        if (numAttentionHeads != null) Ranges.perBlock(p, "num_attention_heads", numAttentionHeads.length, n);
        Ranges.perBlock(p, "transformer_layers_per_block", transformerLayersPerBlock.length, n);
        for (String t : downBlockTypes) if (!DOWN_BLOCKS.contains(t)) p.add("down block type " + t + " (supported: CrossAttnDownBlock2D, DownBlock2D)");
        for (String t : upBlockTypes) if (!UP_BLOCKS.contains(t)) p.add("up block type " + t + " (supported: CrossAttnUpBlock2D, UpBlock2D)");
        if (!MID_BLOCK.equals(midBlockType)) p.add("mid_block_type " + midBlockType + " (supported: " + MID_BLOCK + ")");
        Ranges.positive(p, "in_channels", inChannels, Ranges.MAX_CHANNELS);
        Ranges.positive(p, "out_channels", outChannels, Ranges.MAX_CHANNELS);
        Ranges.positive(p, "norm_num_groups", normNumGroups, Ranges.MAX_CHANNELS);
        Ranges.positive(p, "cross_attention_dim", crossAttentionDim, Ranges.MAX_CHANNELS);
        Ranges.finiteIn(p, "norm_eps", normEps, Double.MIN_VALUE, 1);
        int[] heads = headsPerBlock();
        for (int i = 0; i < n; i++) {
            Ranges.positive(p, "block_out_channels[" + i + "]", blockOutChannels[i], Ranges.MAX_CHANNELS);
            if (normNumGroups > 0 && blockOutChannels[i] % normNumGroups != 0)
                p.add("block_out_channels[" + i + "] = " + blockOutChannels[i] + " is not divisible by norm_num_groups " + normNumGroups);
            if (i < layersPerBlock.length) Ranges.positive(p, "layers_per_block[" + i + "]", layersPerBlock[i], Ranges.MAX_LAYERS);
            if (i < transformerLayersPerBlock.length)
                Ranges.positive(p, "transformer_layers_per_block[" + i + "]", transformerLayersPerBlock[i], Ranges.MAX_LAYERS);
            if (i < heads.length) {
                Ranges.positive(p, "heads[" + i + "]", heads[i], Math.max(1, blockOutChannels[i]));
                if (heads[i] > 0 && blockOutChannels[i] % heads[i] != 0)
                    p.add("block_out_channels[" + i + "] = " + blockOutChannels[i] + " is not divisible by " + heads[i] + " heads");
            }
        }
        // diffusers pads a stride-2 downsampling conv by 1 (0 = one row and column at the bottom right)
        Ranges.intIn(p, "downsample_padding", downsamplePadding, 0, 2);
        Ranges.intIn(p, "freq_shift", freqShift, 0, Ranges.MAX_CHANNELS);
        Ranges.factor(p, "mid_block_scale_factor", midBlockScaleFactor);
        if (!"silu".equals(actFn)) p.add("act_fn " + actFn + " (only silu)");
        if (!"default".equals(resnetTimeScaleShift)) p.add("resnet_time_scale_shift " + resnetTimeScaleShift + " (only default)");
        if (!"positional".equals(timeEmbeddingType)) p.add("time_embedding_type " + timeEmbeddingType + " (only positional)");
        if (classEmbedType != null) p.add("class_embed_type " + classEmbedType + " (class embeddings are not implemented)");
        if (additionEmbedType != null) p.add("addition_embed_type " + additionEmbedType + " (not implemented)");
        if (encoderHidDim != null) p.add("encoder_hid_dim " + encoderHidDim + " (not implemented)");
        if (timeCondProjDim != null) p.add("time_cond_proj_dim " + timeCondProjDim + " (not implemented)");
        if (numClassEmbeds != null) p.add("num_class_embeds " + numClassEmbeds + " (class embeddings are not implemented)");
        if (dualCrossAttention) p.add("dual_cross_attention (not implemented)");
        if (onlyCrossAttention) p.add("only_cross_attention (not implemented)");
        if (timeEmbeddingDim != null) Ranges.positive(p, "time_embedding_dim", timeEmbeddingDim, Ranges.MAX_CHANNELS);
        checkKernel(p, "conv_in_kernel", convInKernel);
        checkKernel(p, "conv_out_kernel", convOutKernel);
        p.addAll(unsupportedExtras);
        if (!p.isEmpty()) throw new WeightsException(source + ": unsupported UNet configuration: " + String.join("; ", p));
        return this;
    }

    private static void checkKernel(List<String> p, String key, int k) {
        if (k <= 0 || k % 2 == 0 || k > 31) p.add(key + " " + k + " should be a positive odd number up to 31");
    }

    // The record's own toString would print array identities; show the contents.
    @Override
    public String toString() {
        return "UNetConfig[in=" + inChannels + ", out=" + outChannels + ", down=" + downBlockTypes + ", mid=" + midBlockType
                + ", up=" + upBlockTypes + ", channels=" + Arrays.toString(blockOutChannels) + ", layers=" + Arrays.toString(layersPerBlock)
                + ", heads=" + Arrays.toString(headsPerBlock()) + ", transformerLayers=" + Arrays.toString(transformerLayersPerBlock)
                + ", groups=" + normNumGroups + ", eps=" + normEps + ", crossDim=" + crossAttentionDim
                + ", linearProj=" + useLinearProjection + ", upcast=" + upcastAttention + ", flipSinToCos=" + flipSinToCos
                + ", freqShift=" + freqShift + ", downPad=" + downsamplePadding + ", act=" + actFn + ", midScale=" + midBlockScaleFactor
                + ", centerInput=" + centerInputSample + ", convIn=" + convInKernel + ", convOut=" + convOutKernel
                + ", timeEmbedDim=" + timeEmbedDim() + ", source=" + Objects.toString(source) + "]";
    }
}
