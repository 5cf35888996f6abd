package dev.onestep.io.config;

import dev.onestep.io.JsonFields;
import dev.onestep.io.WeightsException;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * text_encoder/config.json of a transformers CLIPTextModel (CLIPTextConfig), typed. Sizes are required;
 * options take transformers' defaults — note that its default activation is quick_gelu, while SD2's
 * OpenCLIP-H config says "gelu" explicitly. A full CLIPConfig with a nested "text_config" is read too.
 *
 * @param bosTokenId informational: SD2's config says 0 but the tokenizer's BOS is 49406; token ids come from
 *                   the tokenizer (see ModelFolder.emptyPromptTokenIds), never from here
 */
public record ClipTextConfig(
        Path source,
        int vocabSize,
        int hiddenSize,
        int intermediateSize,
        int numHiddenLayers,
        int numAttentionHeads,
        int maxPositionEmbeddings,
        String hiddenAct,
        double layerNormEps,
        int bosTokenId,
        int eosTokenId,
        int padTokenId) {

    public static final Set<String> ACTIVATIONS = Set.of("gelu", "quick_gelu");
    /** Bounds on the embedding tables (CLIP: 49 408 tokens, 77 positions). */
    static final int MAX_VOCAB = 1 << 20, MAX_POSITIONS = 1 << 16;

    /** Reads, parses and validates; errors name the file and key. */
    public static ClipTextConfig load(Path configJson) {
        ClipTextConfig c = fromJson(JsonFields.read(configJson).map(), configJson);
        c.validate();
        return c;
    }

    /** Parses without checking engine support. */
    @SuppressWarnings("unchecked")
    public static ClipTextConfig fromJson(Map<String, Object> json, Path source) {
        if (!json.containsKey("hidden_size") && json.get("text_config") instanceof Map<?, ?> tc) json = (Map<String, Object>) tc;
        JsonFields f = new JsonFields(json, String.valueOf(source));
        return new ClipTextConfig(
                source,
                f.reqInt("vocab_size"),
                f.reqInt("hidden_size"),
                f.reqInt("intermediate_size"),
                f.reqInt("num_hidden_layers"),
                f.reqInt("num_attention_heads"),
                f.optInt("max_position_embeddings", 77),
                f.optString("hidden_act", "quick_gelu"),
                f.optDouble("layer_norm_eps", 1e-5),
                f.optInt("bos_token_id", 49406),
                f.optInt("eos_token_id", 49407),
                f.optInt("pad_token_id", 1));
    }

    public int headDim() { return hiddenSize / numAttentionHeads; }

    /** Rejects configurations OneStep does not implement, listing every problem in one message. */
    public ClipTextConfig validate() {
        List<String> p = new ArrayList<>();
        Ranges.positive(p, "vocab_size", vocabSize, MAX_VOCAB);
        Ranges.positive(p, "hidden_size", hiddenSize, Ranges.MAX_CHANNELS);
        Ranges.positive(p, "intermediate_size", intermediateSize, 4L * Ranges.MAX_CHANNELS);
        Ranges.positive(p, "num_hidden_layers", numHiddenLayers, Ranges.MAX_LAYERS);
        Ranges.positive(p, "num_attention_heads", numAttentionHeads, Math.max(1, hiddenSize));
        Ranges.positive(p, "max_position_embeddings", maxPositionEmbeddings, MAX_POSITIONS);
        if (numAttentionHeads > 0 && hiddenSize % numAttentionHeads != 0)
            p.add("hidden_size " + hiddenSize + " is not divisible by num_attention_heads " + numAttentionHeads);
        if (!ACTIVATIONS.contains(hiddenAct)) p.add("hidden_act " + hiddenAct + " (supported: gelu, quick_gelu)");
        Ranges.finiteIn(p, "layer_norm_eps", layerNormEps, Double.MIN_VALUE, 1);
        if (!p.isEmpty()) throw new WeightsException(source + ": unsupported CLIP text configuration: " + String.join("; ", p));
        return this;
    }
}
