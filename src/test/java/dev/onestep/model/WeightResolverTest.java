package dev.onestep.model;

import dev.onestep.backend.Backend;
import dev.onestep.backend.cpu.CpuBackend;
import dev.onestep.io.ModelFolder;
import dev.onestep.io.TensorInfo;
import dev.onestep.io.WeightSource;
import dev.onestep.io.WeightsException;
import dev.onestep.model.unet.UNet2DConditionModel;
import dev.onestep.model.vae.AutoencoderKL;
import dev.onestep.tensor.DType;
import dev.onestep.tensor.Tensor;
import dev.onestep.testutil.Fixtures;
import org.junit.jupiter.api.Test;

import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Loading checks every tensor against the config and reports all problems at once; synthetic weights build any config. */
class WeightResolverTest {

    /** The fixture VAE's weights with one tensor hidden, one renamed to an unexpected key and one given a wrong shape. */
    static final class Tampered implements WeightSource {
        final WeightSource inner;

        Tampered(WeightSource inner) { this.inner = inner; }

        @Override public String description() { return "tampered " + inner.description(); }

        @Override public Set<String> keys() {
            Set<String> k = new TreeSet<>(inner.keys());
            k.remove("decoder.conv_out.bias");
            k.remove("quant_conv.bias");
            k.add("quant_conv.bias_renamed");
            return k;
        }

        @Override public TensorInfo info(String name) {
            if (name.equals("decoder.conv_out.bias") || name.equals("quant_conv.bias")) return null;
            if (name.equals("quant_conv.bias_renamed")) return inner.info("quant_conv.bias");
            TensorInfo i = inner.info(name);
            if (i != null && name.equals("encoder.conv_in.weight"))
                return new TensorInfo(name, i.dtype(), new int[]{16, 3, 1, 9}, i.file(), i.offset(), i.length());
            return i;
        }

        @Override public Tensor tensor(String name) { return inner.tensor(name.equals("quant_conv.bias_renamed") ? "quant_conv.bias" : name); }

        @Override public void close() { inner.close(); }
    }

    @Test
    void everyMissingWrongAndUnexpectedTensorIsListedInOneError() {
        ModelFolder folder = ModelFolder.open(Fixtures.model(), null);
        try (Backend b = new CpuBackend(); WeightSource w = new Tampered(folder.openWeights("vae"))) {
            WeightsException e = assertThrows(WeightsException.class, () -> AutoencoderKL.load(folder.vae(), w, b));
            String m = e.getMessage();
            assertTrue(m.contains("tampered"), m);
            assertTrue(m.contains("missing (2)") && m.contains("decoder.conv_out.bias [3]") && m.contains("quant_conv.bias [8]"), m);
            assertTrue(m.contains("wrong shape (1)") && m.contains("encoder.conv_in.weight: [16, 3, 1, 9], expected [16, 3, 3, 3]"), m);
            assertTrue(m.contains("unexpected (1)") && m.contains("quant_conv.bias_renamed"), m);
        }
    }

    @Test
    void aUNetCheckpointDoesNotLoadAsAVae() {
        ModelFolder folder = ModelFolder.open(Fixtures.model(), null);
        try (Backend b = new CpuBackend(); WeightSource w = folder.openWeights("unet")) {
            WeightsException e = assertThrows(WeightsException.class, () -> AutoencoderKL.load(folder.vae(), w, b));
            assertTrue(e.getMessage().contains("missing") && e.getMessage().contains("unexpected"), e.getMessage());
        }
    }

    @Test
    void syntheticWeightsBuildAndRunTheFixtureUNetDeterministically() {
        ModelFolder folder = ModelFolder.open(Fixtures.model(), null);
        float[] first = null;
        for (int run = 0; run < 2; run++) {
            try (Backend b = new CpuBackend();
                 UNet2DConditionModel unet = UNet2DConditionModel.build(folder.unet(), WeightResolver.synthetic(b, 42, DType.F16));
                 Tensor x = b.zeros(1, 5, 8, 8); Tensor ctx = b.zeros(1, 2, 32);
                 Tensor v = unet.forward(x, 999f, ctx, ActivationHook.NONE);
                 Tensor host = b.download(v)) {
                assertArrayEquals(new int[]{1, 5, 8, 4}, v.shape());
                float[] out = host.toFloatArray();
                for (float f : out) assertTrue(Float.isFinite(f));
                if (first == null) first = out;
                else assertArrayEquals(first, out, "same seed, same weights, same output");
            }
        }
        assertEquals(160, first.length);
    }
}
