package dev.onestep.io;

import dev.onestep.tensor.DType;

import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Child JVM for {@link WeightScanTest}: maps a file, warms the scan until the JIT has compiled its reads, truncates
 * the file and scans the vanished pages. Prints "fault: InternalError" when the fault surfaces as the JVM's error;
 * an unguarded read kills this process with SIGBUS instead.
 */
public final class WeightScanTruncationChild {
    public static void main(String[] args) throws Exception {
        Path f = Path.of(args[0]);
        long bytes = 1L << 20;
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(bytes);
        }
        try (Arena arena = Arena.ofShared(); FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
            MemorySegment seg = ch.map(FileChannel.MapMode.READ_ONLY, 0, bytes, arena);
            for (int i = 0; i < 3000; i++) WeightScan.anyNonFinite(seg.asSlice(0, 64 << 10), i % 2 == 0 ? DType.F32 : DType.BF16);
            try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
                raf.setLength(4096);
            }
            try {
                WeightScan.anyNonFinite(seg.asSlice(bytes / 2), DType.F32);
                System.out.println("no fault");
            } catch (InternalError e) {
                System.out.println("fault: InternalError");
            }
        }
    }
}
