package dev.onestep.model.clip;

import dev.onestep.backend.Backend;
import dev.onestep.io.WeightSource;
import dev.onestep.io.WeightsException;
import dev.onestep.io.config.ClipTextConfig;
import dev.onestep.model.ActivationHook;
import dev.onestep.model.WeightResolver;
import dev.onestep.nn.LayerNorm;
import dev.onestep.tensor.Tensor;

import java.util.List;

/**
 * transformers CLIPTextModel: token + position embeddings, causal encoder layers, final layer norm. Its
 * last_hidden_state for the empty prompt is the UNet's (constant) conditioning.
 */
public final class CLIPTextModel implements AutoCloseable {
    private final Backend backend;
    private final ClipTextConfig config;
    private final Tensor tokenEmbedding, positionEmbedding; // [V, C], [P, C]
    private final CLIPEncoderLayer[] layers;
    private final LayerNorm finalLayerNorm;
    private final List<AutoCloseable> prepared;

    private CLIPTextModel(WeightResolver w, ClipTextConfig c) {
        backend = w.backend();
        config = c;
        int hidden = c.hiddenSize();
        float eps = (float) c.layerNormEps();
        boolean quick = switch (c.hiddenAct()) {
            case "gelu" -> false;
            case "quick_gelu" -> true;
            default -> throw new WeightsException("text_encoder/config.json: hidden_act '" + c.hiddenAct() + "' is not supported (gelu, quick_gelu)");
        };
        WeightResolver m = w.child("text_model");
        tokenEmbedding = m.param("embeddings.token_embedding.weight", c.vocabSize(), hidden);
        positionEmbedding = m.param("embeddings.position_embedding.weight", c.maxPositionEmbeddings(), hidden);
        layers = new CLIPEncoderLayer[c.numHiddenLayers()];
        for (int i = 0; i < layers.length; i++)
            layers[i] = new CLIPEncoderLayer(m.child("encoder.layers." + i), hidden, c.intermediateSize(), c.numAttentionHeads(), eps, quick);
        finalLayerNorm = new LayerNorm(m, "final_layer_norm", hidden, eps);
        prepared = w.prepared();
    }

    /** Builds the text encoder from its config and weights; one error lists every weight that does not fit. */
    public static CLIPTextModel load(ClipTextConfig config, WeightSource weights, Backend backend) {
        return build(config, new WeightResolver(weights, backend));
    }

    /** Builds it against any resolver (real or {@link WeightResolver#synthetic synthetic} weights). */
    public static CLIPTextModel build(ClipTextConfig config, WeightResolver w) {
        return w.build("text encoder", r -> new CLIPTextModel(r, config));
    }

    public ClipTextConfig config() { return config; }

    /** last_hidden_state for token ids: [1, L, hidden]. */
    public Tensor forward(int[] ids, ActivationHook hook) {
        if (ids.length == 0 || ids.length > config.maxPositionEmbeddings())
            throw new IllegalArgumentException(ids.length + " tokens; the text encoder takes 1 to " + config.maxPositionEmbeddings());
        for (int id : ids)
            if (id < 0 || id >= config.vocabSize()) throw new IllegalArgumentException("token id " + id + " outside the vocabulary of " + config.vocabSize());
        int[] positions = new int[ids.length];
        for (int i = 0; i < positions.length; i++) positions[i] = i;
        Tensor h;
        try (Tensor tok = backend.embedding(tokenEmbedding, ids);        // [1, L, C]
             Tensor pos = backend.embedding(positionEmbedding, positions)) {
            h = backend.add(tok, pos);                                   // [1, L, C]
        }
        try (h) {
            hook.record("text_model.embeddings", h);
            for (int i = 0; i < layers.length; i++) {
                layers[i].forward(h);                                    // [1, L, C], in place
                hook.record("text_model.encoder.layers." + i, h);
            }
            return hook.recordOwned("text_model.final_layer_norm", finalLayerNorm.forward(h)); // [1, L, C]
        }
    }

    @Override
    public void close() {
        WeightResolver.release(prepared);
    }
}
