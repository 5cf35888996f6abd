package dev.onestep.model.vae;

import dev.onestep.backend.Backend;
import dev.onestep.backend.cpu.CpuBackend;
import dev.onestep.io.ModelFolder;
import dev.onestep.io.WeightSource;
import dev.onestep.model.ActivationHook;
import dev.onestep.tensor.Tensor;
import dev.onestep.testutil.Compare;
import dev.onestep.testutil.Fixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** AutoencoderKL.decodeTiled on the tiny fixture VAE: one covering tile is exactly decode; seams are convex blends. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TiledDecodeTest {
    Backend backend;
    ModelFolder folder;
    WeightSource weights;
    AutoencoderKL vae;

    @BeforeAll
    void load() {
        backend = new CpuBackend();
        folder = ModelFolder.open(Fixtures.model(), null);
        weights = folder.openWeights("vae");
        vae = AutoencoderKL.load(folder.vae(), weights, backend);
    }

    @AfterAll
    void close() {
        vae.close();
        weights.close();
        backend.close();
    }

    private Tensor latent(long seed, int h, int w) {
        Random r = new Random(seed);
        float[] v = new float[h * w * 4];
        for (int i = 0; i < v.length; i++) v[i] = (float) r.nextGaussian();
        return Tensor.of(v, 1, h, w, 4);
    }

    @Test
    void tileStartsCoverTheAxisAndEndAtTheBorder() {
        assertArrayEquals(new int[] {0}, AutoencoderKL.tileStarts(5, 8, 2));
        assertArrayEquals(new int[] {0, 6, 10}, AutoencoderKL.tileStarts(18, 8, 2));
        assertArrayEquals(new int[] {0, 2, 4}, AutoencoderKL.tileStarts(8, 4, 2));
    }

    @Test
    void coveringTileIsExactlyUntiled() {
        try (Tensor z = latent(1, 5, 6);
             Tensor plain = vae.decode(z, ActivationHook.NONE);
             Tensor tiled = vae.decodeTiled(z, 6, 2)) {
            assertArrayEquals(plain.shape(), tiled.shape());
            Compare.assertClose("covering tile", plain.toFloatArray(), tiled.toFloatArray(), 0);
        }
    }

    @Test
    void seamsAreBlendedBetweenNeighbouringTiles() {
        int h = 4, w = 7, tile = 4, overlap = 2, f = vae.scaleFactor(), oc = 3;
        try (Tensor z = latent(2, h, w); Tensor tiled = vae.decodeTiled(z, tile, overlap)) {
            assertArrayEquals(new int[] {1, h * f, w * f, oc}, tiled.shape());
            int[] xs = AutoencoderKL.tileStarts(w, tile, overlap); // 0, 2, 3
            assertArrayEquals(new int[] {0, 2, 3}, xs);
            // decode the tiles on their own
            float[] zf = z.toFloatArray();
            float[][] dec = new float[xs.length][];
            for (int t = 0; t < xs.length; t++) {
                float[] crop = new float[h * tile * 4];
                for (int y = 0; y < h; y++) System.arraycopy(zf, (y * w + xs[t]) * 4, crop, y * tile * 4, tile * 4);
                try (Tensor zt = Tensor.of(crop, 1, h, tile, 4); Tensor d = vae.decode(zt, ActivationHook.NONE)) {
                    dec[t] = d.toFloatArray();
                }
            }
            float[] out = tiled.toFloatArray();
            int ow = w * f, tw = tile * f;
            int blended = 0;
            for (int y = 0; y < h * f; y++)
                for (int x = 0; x < ow; x++)
                    for (int k = 0; k < oc; k++) {
                        float lo = Float.MAX_VALUE, hi = -Float.MAX_VALUE;
                        int covering = 0;
                        float only = 0;
                        for (int t = 0; t < xs.length; t++) {
                            int lx = x - xs[t] * f;
                            if (lx < 0 || lx >= tw) continue;
                            float v = dec[t][(y * tw + lx) * oc + k];
                            lo = Math.min(lo, v);
                            hi = Math.max(hi, v);
                            covering++;
                            only = v;
                        }
                        float got = out[(y * ow + x) * oc + k];
                        if (covering == 1) assertEquals(only, got, 1e-5f * Math.max(1f, Math.abs(only)), "single-tile pixel " + x + "," + y);
                        else {
                            assertTrue(got >= lo - 1e-5f && got <= hi + 1e-5f, "seam pixel " + x + "," + y + " is a convex blend");
                            if (hi - lo > 1e-3f && got > lo + 1e-6f && got < hi - 1e-6f) blended++;
                        }
                    }
            assertTrue(blended > 0, "overlaps mix both tiles");
        }
    }
}
