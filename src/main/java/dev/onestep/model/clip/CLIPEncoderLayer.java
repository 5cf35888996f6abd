package dev.onestep.model.clip;

import dev.onestep.backend.Backend;
import dev.onestep.model.WeightResolver;
import dev.onestep.nn.LayerNorm;
import dev.onestep.nn.Linear;
import dev.onestep.tensor.Tensor;

/**
 * transformers CLIPEncoderLayer: x + self_attn(layer_norm1(x)) with a causal mask, then
 * x + fc2(act(fc1(layer_norm2(x)))).
 */
final class CLIPEncoderLayer {
    private final Backend backend;
    private final LayerNorm layerNorm1, layerNorm2;
    private final Linear qProj, kProj, vProj, outProj, fc1, fc2;
    private final int heads;
    private final float scale;
    private final boolean quickGelu;

    CLIPEncoderLayer(WeightResolver w, int hidden, int intermediate, int heads, float eps, boolean quickGelu) {
        this.backend = w.backend();
        this.heads = heads;
        this.scale = (float) Math.pow(hidden / heads, -0.5);
        this.quickGelu = quickGelu;
        layerNorm1 = new LayerNorm(w, "layer_norm1", hidden, eps);
        WeightResolver a = w.child("self_attn");
        qProj = new Linear(a, "q_proj", hidden, hidden, true);
        kProj = new Linear(a, "k_proj", hidden, hidden, true);
        vProj = new Linear(a, "v_proj", hidden, hidden, true);
        outProj = new Linear(a, "out_proj", hidden, hidden, true);
        layerNorm2 = new LayerNorm(w, "layer_norm2", hidden, eps);
        fc1 = new Linear(w.child("mlp"), "fc1", hidden, intermediate, true);
        fc2 = new Linear(w.child("mlp"), "fc2", intermediate, hidden, true);
    }

    /** x [N, L, hidden], updated in place and returned. */
    Tensor forward(Tensor x) {
        Tensor attn;
        try (Tensor n1 = layerNorm1.forward(x);                 // [N, L, hidden]
             Tensor q = qProj.forward(n1);
             Tensor k = kProj.forward(n1);
             Tensor v = vProj.forward(n1);
             Tensor o = backend.attention(q, k, v, heads, scale, true)) { // [N, L, hidden]
            attn = outProj.forward(o);
        }
        try (attn) {
            backend.addInPlace(x, attn);
        }
        Tensor act;
        try (Tensor n2 = layerNorm2.forward(x);                 // [N, L, hidden]
             Tensor f1 = fc1.forward(n2)) {                     // [N, L, intermediate]
            act = quickGelu ? quickGelu(f1) : backend.gelu(f1);
        }
        try (act; Tensor f2 = fc2.forward(act)) {               // [N, L, hidden]
            backend.addInPlace(x, f2);
        }
        return x;
    }

    // quick_gelu(x) = x·σ(1.702x) = silu(1.702x) / 1.702 (SD1's text encoder; SD2 uses exact GELU)
    private Tensor quickGelu(Tensor x) {
        try (Tensor s = backend.axpby(1.702f, x, 0f, null); Tensor a = backend.silu(s)) {
            return backend.axpby(1f / 1.702f, a, 0f, null);
        }
    }
}
