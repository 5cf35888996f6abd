package dev.onestep.bench;

import dev.onestep.backend.Backend;
import dev.onestep.backend.Conv2dWeights;
import dev.onestep.backend.LinearWeights;
import dev.onestep.backend.Padding;
import dev.onestep.backend.cpu.CpuBackend;
import dev.onestep.tensor.DType;
import dev.onestep.tensor.Tensor;

import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * A roofline model of the one-step pipeline on a GPU, from the real op sequence: runs the full-size SD2 pipeline
 * once (on the CPU backend, which executes the same Backend calls as CUDA) through a ledger that records, per op,
 * the FLOPs (2 per multiply-accumulate, as CountingBackend) and the DRAM bytes the CUDA backend's kernels move
 * for it in a 16-bit compute dtype (inputs read once, outputs written once, group norm reading its input twice,
 * the separate bias kernel after cuBLAS (and after cuDNN unless fused), the materialised nearest up-sampling before a
 * conv, the padding copy before the VAE's asymmetric stride-2 convs). Each op's time is
 * max(FLOPs / (peak · e_c), bytes / (BW · e_m)). A model, not a measurement: it bounds what the design can reach and
 * ranks what fusion would buy.
 *
 * <p>By default it models the fused convolution epilogue (cuDNN's conv-bias-add: a k×k convolution adds its bias for
 * free and {@code conv2dAdd} reads the residual in the convolution; 1×1 convolutions on cuBLAS keep a bias kernel, or one
 * bias + residual kernel in conv2dAdd); {@code -Donestep.roofline.unfused=true} models the earlier design (bias kernel
 * after every conv, residual add as its own pass).
 *
 * <pre>java ... dev.onestep.bench.RooflineEstimate [H W] [peakTflops bandwidthTBs]   (defaults: 768 768, H100 SXM 989 / 3.35)</pre>
 */
public final class RooflineEstimate {
    private RooflineEstimate() {}

    /** Per category: ops, FLOPs, bytes, and the bytes that fusing the separate epilogues would save. */
    static final class Ledger extends dev.onestep.backend.ForwardingBackend {
        final int e; // bytes per element of the modelled compute dtype
        final Map<String, double[]> rows = new TreeMap<>(); // category → {ops, flops, bytes, fusable bytes}
        double peakFlops, bandwidth, effCompute, effAttention, effMemory;
        final Map<String, Double> seconds = new TreeMap<>();
        final boolean fusedConv; // cuDNN conv-bias(-add): no bias pass after a k×k conv, the residual read inside it

        Ledger(Backend inner, int bytesPerElement, boolean fusedConv) {
            super(inner);
            this.e = bytesPerElement;
            this.fusedConv = fusedConv;
        }

        void note(String cat, double flops, double bytes, double fusable) {
            double[] r = rows.computeIfAbsent(cat, k -> new double[4]);
            r[0]++;
            r[1] += flops;
            r[2] += bytes;
            r[3] += fusable;
            if (peakFlops > 0) {
                double eff = cat.startsWith("attention") ? effAttention : effCompute;
                double t = Math.max(flops / (peakFlops * eff), bytes / (bandwidth * effMemory));
                seconds.merge(cat, t, Double::sum);
            }
        }

        double b(Tensor t) { return (double) t.numel() * e; }

        /** A convolution (+ residual when {@code residual}): cuDNN for k×k (bias and residual fused when modelled), cuBLAS for 1×1. */
        private void conv(String cat, Tensor x, Conv2dWeights w, Tensor y, int stride, Padding pad, boolean residual) {
            double flops = 2.0 * y.numel() * w.inChannels() * w.kernelH() * w.kernelW();
            double wBytes = (double) w.outChannels() * w.inChannels() * w.kernelH() * w.kernelW() * e;
            boolean asymmetric = pad.top() != pad.bottom() || pad.left() != pad.right();
            boolean gemm = w.kernelH() == 1 && w.kernelW() == 1 && stride == 1 && !asymmetric;
            boolean fused = fusedConv && !gemm;
            if (asymmetric) note("pad copy (VAE downsample)", 0, 2 * b(x), 0);
            note(cat + (w.kernelH() == 1 ? " 1x1" : " 3x3"), flops, b(x) + wBytes + b(y) + (fused && residual ? b(y) : 0), 0);
            if (fused) return;
            if (residual && fusedConv) {
                note("bias + residual epilogue (1x1 GEMM)", 0, 3 * b(y), 0);
                return;
            }
            note("bias epilogue (separate kernel)", 0, 2 * b(y), 2 * b(y));
            if (residual) note("residual add", 0, 3 * b(y), 3 * b(y));
        }

        @Override
        public Tensor conv2d(Tensor x, Conv2dWeights w, int stride, Padding pad) {
            Tensor y = inner.conv2d(x, w, stride, pad);
            conv("conv", x, w, y, stride, pad, false);
            return y;
        }

        @Override
        public Tensor conv2dAdd(Tensor x, Conv2dWeights w, int stride, Padding pad, Tensor residual) {
            Tensor y = inner.conv2dAdd(x, w, stride, pad, residual);
            conv("conv", x, w, y, stride, pad, true);
            return y;
        }

        @Override
        public Tensor upsampleNearestConv2d(Tensor x, int outH, int outW, Conv2dWeights w, int stride, Padding pad) {
            Tensor y = inner.upsampleNearestConv2d(x, outH, outW, w, stride, pad);
            double up = (double) x.dim(0) * outH * outW * x.dim(3) * e;
            note("nearest upsample (materialised)", 0, b(x) + up, 2 * up); // write + re-read by the conv
            double flops = 2.0 * y.numel() * w.inChannels() * w.kernelH() * w.kernelW();
            double wBytes = (double) w.outChannels() * w.inChannels() * w.kernelH() * w.kernelW() * e;
            note("conv 3x3", flops, up + wBytes + b(y), 0);
            if (!fusedConv) note("bias epilogue (separate kernel)", 0, 2 * b(y), 2 * b(y));
            return y;
        }

        @Override
        public Tensor linear(Tensor x, LinearWeights w) {
            Tensor y = inner.linear(x, w);
            double rows = (double) x.numel() / w.inFeatures();
            note("linear", 2 * rows * w.inFeatures() * w.outFeatures(), b(x) + (double) w.inFeatures() * w.outFeatures() * e + b(y), 0);
            note("bias epilogue (separate kernel)", 0, 2 * b(y), 2 * b(y));
            return y;
        }

        @Override
        public Tensor attention(Tensor q, Tensor k, Tensor v, int heads, float scale, boolean causal) {
            Tensor o = inner.attention(q, k, v, heads, scale, causal);
            double flops = 2.0 * q.dim(0) * q.dim(1) * k.dim(1) * (q.dim(2) + v.dim(2));
            note("attention (flash)" + (k.dim(1) <= 77 ? " cross" : " self"), flops, b(q) + b(k) + b(v) + b(o), 0);
            return o;
        }

        @Override
        public Tensor groupNorm(Tensor x, int groups, Tensor gamma, Tensor beta, float eps, boolean silu) {
            Tensor y = inner.groupNorm(x, groups, gamma, beta, eps, silu);
            note("group norm" + (silu ? " + SiLU" : ""), 0, 3 * b(x), 0); // statistics pass + normalise pass (read, write)
            return y;
        }

        @Override
        public Tensor layerNorm(Tensor x, Tensor gamma, Tensor beta, float eps) {
            Tensor y = inner.layerNorm(x, gamma, beta, eps);
            note("layer norm", 0, 2 * b(x), 0);
            return y;
        }

        private Tensor unary(String cat, Tensor x, Tensor y) {
            note(cat, 0, b(x) + b(y), 0);
            return y;
        }

        @Override public Tensor silu(Tensor x) { return unary("elementwise", x, inner.silu(x)); }
        @Override public Tensor gelu(Tensor x) { return unary("elementwise", x, inner.gelu(x)); }
        @Override public Tensor geglu(Tensor x) { return unary("elementwise", x, inner.geglu(x)); }
        @Override public Tensor upsampleNearest(Tensor x, int outH, int outW) { return unary("layout", x, inner.upsampleNearest(x, outH, outW)); }

        @Override
        public Tensor concatChannels(Tensor a, Tensor b) {
            Tensor y = inner.concatChannels(a, b);
            note("layout", 0, b(a) + b(b) + b(y), 0);
            return y;
        }

        @Override
        public Tensor sliceChannels(Tensor x, int start, int count) {
            Tensor y = inner.sliceChannels(x, start, count);
            return unary("layout", y, y);
        }

        @Override
        public Tensor add(Tensor a, Tensor b) {
            Tensor y = inner.add(a, b);
            note("residual add", 0, b(a) + b(b) + b(y), 3 * b(y));
            return y;
        }

        @Override
        public Tensor addInPlace(Tensor a, Tensor b) {
            note("residual add", 0, 3 * b(a), 3 * b(a));
            return inner.addInPlace(a, b);
        }

        @Override
        public Tensor addPerChannel(Tensor x, Tensor v) {
            Tensor y = inner.addPerChannel(x, v);
            note("elementwise", 0, b(x) + b(y), 0);
            return y;
        }

        @Override
        public Tensor axpby(float alpha, Tensor x, float beta, Tensor y) {
            Tensor o = inner.axpby(alpha, x, beta, y);
            note("elementwise", 0, b(x) + (y != null ? b(y) : 0) + b(o), 0);
            return o;
        }

    }

    public static void main(String[] args) {
        int h = args.length >= 2 ? Integer.parseInt(args[0]) : 768, w = args.length >= 2 ? Integer.parseInt(args[1]) : 768;
        double peak = args.length >= 4 ? Double.parseDouble(args[2]) : 989.4, bw = args.length >= 4 ? Double.parseDouble(args[3]) : 3.35;
        boolean unfused = Boolean.getBoolean("onestep.roofline.unfused");
        Ledger ledger = new Ledger(new CpuBackend(), 2, !unfused);
        ledger.peakFlops = peak * 1e12;
        ledger.bandwidth = bw * 1e12;
        ledger.effCompute = 0.6;
        ledger.effAttention = 0.35;
        ledger.effMemory = 0.8;
        try (PipelineBenchmark bench = new PipelineBenchmark(ledger, Sd2Configs.unet(), Sd2Configs.vae(), h, w, 1)) {
            // build-time ops (weight preparation) are not in the ledger; one whole pass is
            ledger.rows.clear();
            ledger.seconds.clear();
            // run() times encode, UNet and decode on their own, then the whole pass: keep only the whole pass
            bench.run(0, 1, s -> {
                if (s.contains("vae_decode #1")) {
                    ledger.rows.clear();
                    ledger.seconds.clear();
                }
            });
            System.out.printf(Locale.ROOT, "Roofline model of one %dx%d pipeline pass (VAE encode + UNet + VAE decode), 16-bit compute,%n"
                    + "peak %.1f TFLOP/s, %.2f TB/s; time = max(FLOP / (peak·%.2f [attention %.2f]), bytes / (BW·%.2f)); %s%n%n", h, w, peak, bw,
                    ledger.effCompute, ledger.effAttention, ledger.effMemory,
                    unfused ? "bias kernel after every conv, residual adds as passes" : "conv bias/residual fused into cuDNN's conv-bias-add");
            System.out.printf(Locale.ROOT, "| %-34s | %6s | %9s | %9s | %9s | %11s |%n", "op category", "ops", "TFLOP", "GB moved", "model ms",
                    "fusable GB");
            System.out.println("|" + "-".repeat(36) + "|" + "-".repeat(8) + "|" + "-".repeat(11) + "|" + "-".repeat(11) + "|" + "-".repeat(11) + "|"
                    + "-".repeat(13) + "|");
            double totalMs = 0, totalFlops = 0, totalBytes = 0, totalOps = 0;
            for (Map.Entry<String, double[]> en : ledger.rows.entrySet()) {
                double[] r = en.getValue();
                double ms = ledger.seconds.getOrDefault(en.getKey(), 0.0) * 1e3;
                System.out.printf(Locale.ROOT, "| %-34s | %6.0f | %9.3f | %9.2f | %9.2f | %11.2f |%n", en.getKey(), r[0], r[1] / 1e12, r[2] / 1e9, ms,
                        r[3] / 1e9);
                totalMs += ms;
                totalFlops += r[1];
                totalBytes += r[2];
                totalOps += r[0];
            }
            System.out.printf(Locale.ROOT, "| %-34s | %6.0f | %9.3f | %9.2f | %9.2f | %11s |%n", "total", totalOps, totalFlops / 1e12, totalBytes / 1e9,
                    totalMs, "");
        }
    }
}
