package dev.onestep.io;

import dev.onestep.OneStep;
import dev.onestep.testutil.Fixtures;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.zip.CRC32;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Input files that are not regular files (pipes, FIFOs, devices) are read with a size cap and a stall limit. */
@Timeout(60)
class BoundedReadTest {
    @TempDir
    Path tmp;

    private Path fifo(String name) throws Exception {
        Path f = tmp.resolve(name);
        Process p;
        try {
            p = new ProcessBuilder("mkfifo", f.toString()).start();
        } catch (IOException e) {
            Assumptions.abort("no mkfifo on this machine: " + e.getMessage());
            return null;
        }
        Assumptions.assumeTrue(p.waitFor() == 0, "mkfifo failed");
        return f;
    }

    private static Thread writer(Path fifo, byte[] bytes) {
        return Thread.ofPlatform().daemon().start(() -> {
            try (OutputStream o = Files.newOutputStream(fifo)) {
                o.write(bytes);
            } catch (IOException ignored) {
                // the reader gave up
            }
        });
    }

    @Test
    void aRegularFileOverTheCapIsRefusedByItsSize() throws IOException {
        Path f = Files.write(tmp.resolve("big.png"), new byte[1000]);
        IOException e = assertThrows(IOException.class, () -> BoundedRead.readAll(f, 999, Duration.ofSeconds(1)));
        assertTrue(e.getMessage().contains("1000 bytes, more than the 999-byte limit"), e.getMessage());
        assertArrayEquals(new byte[1000], BoundedRead.readAll(f, 1000, Duration.ofSeconds(1)));
    }

    @Test
    void aFifoIsReadWholeFromItsWriter() throws Exception {
        Path f = fifo("in.png");
        byte[] png = Files.readAllBytes(Fixtures.caseDir("case1_80x60").resolve("input.png"));
        writer(f, png);
        assertArrayEquals(png, BoundedRead.readAll(f, 1 << 20, Duration.ofSeconds(20)));
    }

    @Test
    void aFifoWithoutAWriterGivesUpAndLeavesNoThreadBehind() throws Exception {
        Path f = fifo("nobody.png");
        long t0 = System.nanoTime();
        IOException e = assertThrows(IOException.class, () -> BoundedRead.readAll(f, 1 << 20, Duration.ofMillis(500)));
        assertTrue(e.getMessage().contains("no data for") && e.getMessage().contains(f.toString()), e.getMessage());
        assertTrue(System.nanoTime() - t0 < 10e9, "gave up in bounded time");
        Thread.sleep(200);
        assertFalse(Thread.getAllStackTraces().keySet().stream().anyMatch(t -> t.getName().equals("onestep-read") && t.isAlive()),
                "the reader thread still runs");
    }

    @Test
    void aStreamThatDoesNotEndIsCutAtTheCap() throws IOException {
        Path zero = Path.of("/dev/zero");
        Assumptions.assumeTrue(Files.isReadable(zero), "no /dev/zero");
        IOException e = assertThrows(IOException.class, () -> BoundedRead.readAll(zero, 1 << 20, Duration.ofSeconds(5)));
        assertTrue(e.getMessage().contains("more than the 1048576-byte limit"), e.getMessage());
    }

    /** A PNG header claiming a huge size through a FIFO (as /dev/stdin is): refused by the budget before decoding. */
    @Test
    void aHugeImageThroughAPipeIsRefusedBeforeItIsDecoded() throws Exception {
        Path f = fifo("huge.png");
        writer(f, pngHeader(30000, 30000));
        try (OneStep model = OneStep.load(Fixtures.model(), OneStep.Options.defaults().withDevice("cpu").withProcessingRes(64))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> model.predictDepth(f));
            assertTrue(e.getMessage().contains("30000×30000 is too large to decode"), e.getMessage());
        }
    }

    /** The PNG signature and an IHDR chunk (8-bit RGB), enough for a reader to tell the size, then IEND. */
    static byte[] pngHeader(int w, int h) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        DataOutputStream d = new DataOutputStream(b);
        d.write(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'});
        ByteArrayOutputStream ihdr = new ByteArrayOutputStream();
        DataOutputStream i = new DataOutputStream(ihdr);
        i.writeInt(w);
        i.writeInt(h);
        i.write(new byte[] {8, 2, 0, 0, 0});
        chunk(d, "IHDR", ihdr.toByteArray());
        chunk(d, "IEND", new byte[0]);
        return b.toByteArray();
    }

    private static void chunk(DataOutputStream d, String type, byte[] data) throws IOException {
        byte[] t = type.getBytes(StandardCharsets.US_ASCII);
        d.writeInt(data.length);
        d.write(t);
        d.write(data);
        CRC32 crc = new CRC32();
        crc.update(t);
        crc.update(data);
        d.writeInt((int) crc.getValue());
    }
}
