package dev.onestep.backend;

import dev.onestep.tensor.DType;
import dev.onestep.tensor.Tensor;

/**
 * The op set the three networks (UNet, VAE, CLIP text encoder) need, implemented once per device.
 *
 * <p>Model code calls only these ops on tensors the backend handed out and never touches bytes, so one
 * code path serves every backend. Conventions:
 * <ul>
 *   <li>Activations are channels-last: images [N, H, W, C], token sequences [N, L, C]; every op that
 *       "works over channels" works over the LAST dimension and treats all middle dimensions as positions.
 *   <li>Every op returns a NEW tensor owned by the caller (close it when done); inputs are not modified
 *       unless the method name ends in {@code InPlace}.
 *   <li>Weights are prepared once at load ({@code prepare*}), from host tensors of any floating dtype
 *       (F32/F16/BF16 views of the mmapped checkpoint), into whatever layout and dtype the kernels want.
 *   <li>Accumulation is fp32 whatever the storage dtype (GEMMs, convolutions, norms, softmax).
 * </ul>
 */
public interface Backend extends AutoCloseable {

    /** Short name: "cpu", "cuda". */
    String name();

    /** One line for logs, e.g. "CPU: 2 threads, 512-bit vectors (16 floats)". */
    String describe();

    /** The dtype activations are computed in. */
    DType computeType();

    // ---------------------------------------------------------------- memory

    /** A backend tensor holding {@code host}'s values (any floating dtype) in the compute dtype. */
    Tensor upload(Tensor host);

    /** A host F32 tensor holding {@code t}'s values. */
    Tensor download(Tensor t);

    /** A zero-filled backend tensor in the compute dtype. */
    Tensor zeros(int... shape);

    /** Blocks until all queued work is done (no-op on synchronous backends). */
    default void synchronize() {}

    /** Peak bytes of activation memory this backend has held at once, or -1 when unknown. */
    default long peakMemoryBytes() { return -1; }

    /**
     * Bytes of activation memory held by tensors this backend handed out and that are not closed yet, or -1 when
     * unknown. Between calls it returns to what the caller still holds: a failed or cancelled op or forward pass leaves
     * nothing behind (the leak check of the cancellation tests).
     */
    default long liveMemoryBytes() { return -1; }

    /** A device backend: the most device memory held from its driver (weights, activations, allocator cache); -1 on the host. */
    default long peakDeviceMemoryBytes() { return -1; }

    /** A device backend: device memory it could still use (free on the device plus its allocator's cache); -1 on the host. */
    default long deviceMemoryAvailableBytes() { return -1; }

    /** The device's dense peak in TFLOP/s for the compute dtype (for "achieved vs peak" reports), or -1 when unknown. */
    default double peakTflops() { return -1; }

    /**
     * A timer for {@link ProfilingBackend}: the wall clock by default (ops done when they return); a backend that
     * queues work returns one that times the device. The caller closes it.
     */
    default OpTimer opTimer() { return OpTimer.wallClock(); }

    // ---------------------------------------------------------------- weights

    /** Convolution weights: {@code weight} [O, I, kh, kw], {@code bias} [O] or null. */
    Conv2dWeights prepareConv2d(Tensor weight, Tensor bias);

    /** Linear weights: {@code weight} [out, in] (PyTorch layout, y = x·Wᵀ + b), {@code bias} [out] or null. */
    LinearWeights prepareLinear(Tensor weight, Tensor bias);

    /** A 1-D or 2-D parameter (norm gamma/beta, embedding table) as a backend tensor in F32. */
    Tensor prepareParameter(Tensor host);

    // ---------------------------------------------------------------- ops

    /** 2-D convolution: x [N, H, W, I] → [N, H', W', O], H' = (H + top + bottom − kh) / stride + 1. Zero padding. */
    Tensor conv2d(Tensor x, Conv2dWeights w, int stride, Padding pad);

    /**
     * conv2d(x, w, stride, pad) + residual: y = (conv(x) + bias) + residual, in that order, accumulated in fp32 — the
     * residual add at the end of a ResnetBlock2D. Backends may fuse the add into the convolution's epilogue (CUDA:
     * cuDNN's conv-bias-add, or one bias+residual kernel after the GEMM) so the output is written once.
     *
     * <p>Aliasing rules: {@code residual} must have the output's shape [N, H', W', O] and the compute dtype; it is only
     * read, never modified, and may be any live tensor of that shape, including {@code x} itself (a shape-preserving
     * convolution). The result is always a new tensor, never {@code residual} or {@code x}. This default runs
     * conv2d and then addInPlace on the new output.
     */
    default Tensor conv2dAdd(Tensor x, Conv2dWeights w, int stride, Padding pad, Tensor residual) {
        OpChecks.require(residual != null, "conv2dAdd", "residual is null");
        Tensor y = conv2d(x, w, stride, pad);
        try {
            OpChecks.sameShape("conv2dAdd", y, residual);
            return addInPlace(y, residual);
        } catch (RuntimeException | Error e) {
            y.close();
            throw e;
        }
    }

    /** Linear layer over the last dimension: x [..., in] → [..., out]. */
    Tensor linear(Tensor x, LinearWeights w);

    /**
     * Group normalisation over x [N, ..., C]: channels split into {@code groups} contiguous groups, statistics
     * per (sample, group) over every position and the group's channels, biased variance; then
     * y = (x − mean) / sqrt(var + eps) · gamma[c] + beta[c], followed by SiLU when {@code silu}.
     */
    Tensor groupNorm(Tensor x, int groups, Tensor gamma, Tensor beta, float eps, boolean silu);

    /** Layer normalisation over the last dimension (biased variance), y = (x − mean)/sqrt(var + eps)·gamma + beta. */
    Tensor layerNorm(Tensor x, Tensor gamma, Tensor beta, float eps);

    /** x · sigmoid(x). */
    Tensor silu(Tensor x);

    /** Exact GELU: x · Φ(x) = 0.5 · x · (1 + erf(x / √2)). */
    Tensor gelu(Tensor x);

    /** GEGLU as diffusers: x [..., 2F] → [..., F], hidden = x[..., :F], gate = x[..., F:], out = hidden · gelu(gate). */
    Tensor geglu(Tensor x);

    /**
     * Scaled dot-product attention with head split. q [N, Lq, heads·d], k [N, Lk, heads·d], v [N, Lk, heads·dv]
     * → [N, Lq, heads·dv]; head h uses channels [h·d, (h+1)·d). softmax(q·kᵀ · scale) in fp32, with a causal
     * mask (key j > query i masked) when {@code causal}.
     */
    Tensor attention(Tensor q, Tensor k, Tensor v, int heads, float scale, boolean causal);

    /** Nearest-neighbour resize as PyTorch's F.interpolate(mode="nearest"): x [N, H, W, C] → [N, outH, outW, C], src = floor(dst · H / outH). */
    Tensor upsampleNearest(Tensor x, int outH, int outW);

    /**
     * conv2d(upsampleNearest(x, outH, outW), w, stride, pad) — the decoder's up-sampling conv. Backends may fuse it so
     * the up-sampled tensor (4× the input) never exists; this default does the two ops.
     */
    default Tensor upsampleNearestConv2d(Tensor x, int outH, int outW, Conv2dWeights w, int stride, Padding pad) {
        try (Tensor up = upsampleNearest(x, outH, outW)) {
            return conv2d(up, w, stride, pad);
        }
    }

    /**
     * Sinusoidal timestep features as diffusers' get_timestep_embedding: [timesteps.length, dim].
     * half = dim/2, freq_i = exp(−ln(10000) · i / (half − freqShift)), features = [sin(t·freq), cos(t·freq)],
     * swapped to [cos, sin] when {@code flipSinToCos}; computed in fp32.
     */
    Tensor timestepEmbedding(float[] timesteps, int dim, boolean flipSinToCos, float freqShift);

    /** Row lookup: table [V, C] (a prepared parameter), ids → [1, ids.length, C]. */
    Tensor embedding(Tensor table, int[] ids);

    /** Concatenation along the last (channel) dimension: [..., Ca] ++ [..., Cb] → [..., Ca + Cb]. */
    Tensor concatChannels(Tensor a, Tensor b);

    /** Channels [start, start + count) of x [..., C] → [..., count]. */
    Tensor sliceChannels(Tensor x, int start, int count);

    /** a + b, same shapes. */
    Tensor add(Tensor a, Tensor b);

    /** a += b in place (same shapes); returns a. */
    Tensor addInPlace(Tensor a, Tensor b);

    /** x [N, ..., C] + v [N, C] broadcast over positions (the resnet time-embedding add). */
    Tensor addPerChannel(Tensor x, Tensor v);

    /** alpha · x + beta · y (same shapes); y may be null (then alpha · x). */
    Tensor axpby(float alpha, Tensor x, float beta, Tensor y);

    @Override
    void close();
}
