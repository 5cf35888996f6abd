package dev.onestep.nn;

import dev.onestep.backend.Backend;
import dev.onestep.model.WeightResolver;
import dev.onestep.tensor.Tensor;

/**
 * diffusers ResnetBlock2D ("default" time-embedding norm): norm1 → SiLU → conv1 (+ time_emb_proj(temb)) →
 * norm2 → SiLU → conv2, plus the input (through a 1×1 conv_shortcut when the width changes).
 */
public final class ResnetBlock2D {
    private final Backend backend;
    private final GroupNorm norm1, norm2;
    private final Conv2d conv1, conv2;
    private final Linear timeEmbProj;   // null without a time embedding (VAE)
    private final Linear convShortcut;  // 1×1 conv as a channel linear; null when in == out
    private final float outputScaleFactor;

    /** {@code tembChannels} 0 for blocks without a time embedding. */
    public ResnetBlock2D(WeightResolver w, int in, int out, int tembChannels, int groups, float eps, float outputScaleFactor) {
        this.backend = w.backend();
        this.norm1 = new GroupNorm(w, "norm1", groups, in, eps);
        this.conv1 = Conv2d.same(w, "conv1", in, out, 3);
        this.timeEmbProj = tembChannels > 0 ? new Linear(w, "time_emb_proj", tembChannels, out, true) : null;
        this.norm2 = new GroupNorm(w, "norm2", groups, out, eps);
        this.conv2 = Conv2d.same(w, "conv2", out, out, 3);
        this.convShortcut = in != out ? Linear.fromConv1x1(w, "conv_shortcut", in, out) : null;
        this.outputScaleFactor = outputScaleFactor;
    }

    /**
     * @param x       [N, H, W, in]
     * @param tembAct silu(time embedding) [N, tembChannels], or null
     * @return [N, H, W, out]
     */
    public Tensor forward(Tensor x, Tensor tembAct) {
        Tensor h;
        try (Tensor a = norm1.forwardSilu(x)) {           // [N, H, W, in]
            h = conv1.forward(a);                           // [N, H, W, out]
        }
        try {
            if (timeEmbProj != null && tembAct != null) {
                Tensor old = h;
                h = null;
                try (old; Tensor t = timeEmbProj.forward(tembAct)) { // t: [N, out]
                    h = backend.addPerChannel(old, t);      // [N, H, W, out] + t[:, None, None, :]
                }
            }
            return outputScaleFactor == 1f ? fusedTail(x, h) : scaledTail(x, h);
        } finally {
            if (h != null) h.close();
        }
    }

    /** SD2's VAE and UNet: the residual add fused into conv2, (conv2 + bias) + residual in fp32. h is not consumed. */
    private Tensor fusedTail(Tensor x, Tensor h) {
        Tensor s = null;
        try {
            s = convShortcut != null ? convShortcut.forward(x) : null; // [N, H, W, out], or null: x is the residual
            try (Tensor a = norm2.forwardSilu(h)) {           // [N, H, W, out]
                return conv2.forwardAdd(a, s != null ? s : x); // [N, H, W, out] + residual
            }
        } finally {
            if (s != null) s.close();
        }
    }

    /** (conv2 + residual) / output_scale_factor. h is not consumed. */
    private Tensor scaledTail(Tensor x, Tensor h) {
        Tensor h2;
        try (Tensor a = norm2.forwardSilu(h)) {               // [N, H, W, out]
            h2 = conv2.forward(a);                              // [N, H, W, out]
        }
        try (h2) {
            if (convShortcut != null) {
                try (Tensor s = convShortcut.forward(x)) {      // [N, H, W, out]
                    backend.addInPlace(h2, s);
                }
            } else {
                backend.addInPlace(h2, x);
            }
            return backend.axpby(1f / outputScaleFactor, h2, 0f, null);
        }
    }
}
