package dev.onestep.backend.cpu;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Both GEMM micro-kernels against their scalar twin, bit for bit, whichever one this machine's {@link Gemm#MR} picks
 * (the 12-row row-major kernel for 32 vector registers, the 4-row k-major one for 16), the k-major repacking, and the
 * choice itself.
 */
class GemmKernelTest {

    private static float[] random(Random r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = r.nextFloat() * 2 - 1;
        return v;
    }

    @Test
    void bothKernelsMatchTheirScalarTwinBitForBit() {
        Random r = new Random(5);
        for (int kc : new int[] {1, 7, 256}) {
            float[] b = random(r, kc * Gemm.NR + 3);
            // 12 rows, row-major, at an offset inside a larger block
            float[] a12 = random(r, 2 * 12 * kc);
            float[] got = new float[12 * Gemm.NR], want = new float[12 * Gemm.NR];
            Gemm.kernel12(a12, 12 * kc, kc, b, 3, got);
            Gemm.kernelScalar(12, false, a12, 12 * kc, kc, b, 3, want);
            assertArrayEquals(want, got, "kernel12 kc=" + kc);
            // 4 rows, k-major micro-panel, at an offset
            float[] a4 = random(r, 2 * 4 * kc);
            float[] got4 = new float[4 * Gemm.NR], want4 = new float[4 * Gemm.NR];
            Gemm.kernel4(a4, 4 * kc, kc, b, 3, got4);
            Gemm.kernelScalar(4, true, a4, 4 * kc, kc, b, 3, want4);
            assertArrayEquals(want4, got4, "kernel4 kc=" + kc);
        }
    }

    @Test
    void kMajorRepackingKeepsEveryValueAndTheKernelsAgreeAcrossLayouts() {
        Random r = new Random(6);
        int kc = 37, rows = 12;
        float[] rowMajor = random(r, rows * kc), kMajor = new float[rows * kc];
        for (int g = 0; g < rows; g += 4) Gemm.toKMajor(Arrays.copyOfRange(rowMajor, g * kc, (g + 4) * kc), kMajor, g * kc, kc);
        for (int i = 0; i < rows; i++)
            for (int k = 0; k < kc; k++) assertEquals(rowMajor[i * kc + k], kMajor[(i / 4) * 4 * kc + k * 4 + i % 4], "A[" + i + "][" + k + "]");
        // the vector transpose (8 columns at a time, then the scalar tail) is the same permutation
        for (int kcv : new int[] {kc, 8, 7, 384}) {
            float[] src = random(r, 4 * kcv), viaScalar = new float[4 * kcv + 5], viaVector = new float[4 * kcv + 5];
            Gemm.toKMajor(src, viaScalar, 5, kcv);
            Gemm.toKMajorVector(src, viaVector, 5, kcv);
            assertArrayEquals(viaScalar, viaVector, "toKMajorVector kc=" + kcv);
        }
        // the same 12 rows through three 4-row k-major tiles = one 12-row row-major tile, bit for bit
        float[] b = random(r, kc * Gemm.NR);
        float[] t12 = new float[12 * Gemm.NR], t4 = new float[4 * Gemm.NR];
        Gemm.kernel12(rowMajor, 0, kc, b, 0, t12);
        for (int g = 0; g < 3; g++) {
            Gemm.kernel4(kMajor, g * 4 * kc, kc, b, 0, t4);
            assertArrayEquals(Arrays.copyOfRange(t12, g * 4 * Gemm.NR, (g + 1) * 4 * Gemm.NR), t4, "rows " + 4 * g + "..");
        }
    }

    @Test
    void microRowsFollowTheRegisterFile() {
        assertEquals(4, Gemm.microRows(null, "amd64", 8), "AVX2: 16 registers");
        assertEquals(4, Gemm.microRows(null, "amd64", 4), "SSE");
        assertEquals(12, Gemm.microRows(null, "amd64", 16), "AVX-512: 32 registers");
        assertEquals(12, Gemm.microRows(null, "aarch64", 4), "NEON: 32 registers");
        assertEquals(12, Gemm.microRows("12", "amd64", 8));
        assertEquals(4, Gemm.microRows(" 4 ", "aarch64", 4));
        assertThrows(IllegalArgumentException.class, () -> Gemm.microRows("6", "amd64", 8));
        assertEquals(Gemm.MR == 4, Gemm.K_MAJOR);
    }
}
