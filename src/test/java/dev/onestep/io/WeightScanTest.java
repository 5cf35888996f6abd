package dev.onestep.io;

import dev.onestep.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

class WeightScanTest {
    @TempDir Path tmp;

    /** Every dtype, every position (vector body, buffer edges, scalar tail): a single NaN or Inf is found; finite values never flag. */
    @Test
    void aSingleNonFiniteValueIsFoundWhereverItIs() {
        int[] sizes = {1, 7, 33, 16_383, 16_384 + 5, 40_000}; // values: below one vector, across a 64 KiB buffer edge
        for (DType d : new DType[] {DType.F32, DType.F16, DType.BF16}) {
            int width = d == DType.F32 ? 4 : 2;
            int inf = WeightScan.exponentMask(d), nan = inf | 1, big = inf - 1; // big: the largest finite pattern below Inf's exponent
            for (int n : sizes) {
                MemorySegment seg = Arena.ofAuto().allocate((long) n * width);
                for (int i = 0; i < n; i++) put(seg, d, i, big ^ (i & 1)); // finite, exponent one below all-ones
                assertFalse(WeightScan.anyNonFinite(seg, d), d + " n=" + n + " all finite");
                for (int at : new int[] {0, n / 2, n - 1}) {
                    for (int bad : new int[] {inf, nan, inf | (d == DType.F32 ? 0x80000000 : 0x8000)}) {
                        put(seg, d, at, bad);
                        assertTrue(WeightScan.anyNonFinite(seg, d), d + " n=" + n + " at=" + at + " bits=" + Integer.toHexString(bad));
                        put(seg, d, at, big);
                    }
                }
            }
        }
    }

    /**
     * A mapped file truncated under the scan faults the read. After the vector loop is compiled (the warm-up), the
     * fault must still surface as the JVM's InternalError, never as SIGBUS taking the process down: the scan reads
     * the mapping only through guarded copies.
     */
    @Test
    void aMappingTruncatedUnderTheScanFaultsAsAnErrorNotACrash() throws Exception {
        Path f = tmp.resolve("w.bin");
        long bytes = 8L << 20;
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(bytes);
        }
        try (Arena arena = Arena.ofShared(); FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
            MemorySegment seg = ch.map(FileChannel.MapMode.READ_ONLY, 0, bytes, arena);
            for (int i = 0; i < 300; i++) assertFalse(WeightScan.anyNonFinite(seg, i % 2 == 0 ? DType.F32 : DType.BF16));
            try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
                raf.setLength(4096);
            }
            MemorySegment gone = seg.asSlice(1 << 20);
            assertThrows(InternalError.class, () -> WeightScan.anyNonFinite(gone, DType.F32));
            assertThrows(InternalError.class, () -> WeightScan.anyNonFinite(gone, DType.F16));
        }
    }

    /**
     * The same with the JIT steered to the shape that crashed a test JVM: the scan loop left interpreted and the
     * vector load compiled on its own (C2, synchronously). Runs in a child JVM, since a crash would take this one down.
     */
    @Test
    void aTruncatedMappingNeverCrashesTheJvmWhateverTheJitCompiled() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        Process p = new ProcessBuilder(java, "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xbatch",
                "-XX:CompileCommand=quiet", "-XX:CompileCommand=exclude,dev.onestep.io.WeightScan::anyNonFinite*",
                "-XX:ErrorFile=" + tmp.resolve("hs_err.log"),
                "-cp", cp, WeightScanTruncationChild.class.getName(), tmp.resolve("w.bin").toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("fault: InternalError"), out);
    }

    private static void put(MemorySegment seg, DType d, long i, int bits) {
        if (d == DType.F32) seg.set(ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), i * 4, bits);
        else seg.set(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), i * 2, (short) bits);
    }
}
