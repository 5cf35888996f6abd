package dev.onestep.io;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Reads a whole input file with a size cap, whatever kind of file it is. A regular file is checked against the cap
 * by its size before it is read. Anything else — a pipe ({@code /dev/stdin}), a FIFO, a character device — has no
 * size, may never end ({@code /dev/zero}) and may never start (a FIFO with no writer blocks in open): it is read on
 * a helper thread, chunk by chunk, up to the cap, and given up when no byte arrives for {@code stall}. A FIFO whose
 * open is stuck is released by opening it for writing (with no data) once we give up, so the helper thread ends.
 */
public final class BoundedRead {
    private BoundedRead() {}

    private static final int CHUNK = 1 << 16;
    private static final int S_IFMT = 0170000, S_IFIFO = 0010000;

    /**
     * The bytes of {@code file}.
     *
     * @throws IOException naming the file: missing, unreadable, larger than {@code maxBytes}, or silent for {@code stall}
     */
    public static byte[] readAll(Path file, long maxBytes, Duration stall) throws IOException {
        if (!Files.exists(file)) throw new NoSuchFileException(file.toString(), null, "no such file");
        if (Files.isDirectory(file)) throw new IOException(file + ": is a folder, not a file");
        if (Files.isRegularFile(file)) {
            long size = Files.size(file);
            if (size > maxBytes) throw new IOException(file + ": " + size + " bytes, more than the " + maxBytes + "-byte limit for an input file");
            return Files.readAllBytes(file);
        }
        return readStream(file, maxBytes, stall);
    }

    private static byte[] readStream(Path file, long maxBytes, Duration stall) throws IOException {
        BlockingQueue<Object> chunks = new ArrayBlockingQueue<>(4); // bounded: the reader waits for us, memory stays flat
        Thread reader = Thread.ofPlatform().daemon().name("onestep-read").start(() -> {
            try (InputStream in = Files.newInputStream(file)) {
                for (byte[] buf = new byte[CHUNK]; ; buf = new byte[CHUNK]) {
                    int n = in.read(buf);
                    if (n < 0) break;
                    if (!offer(chunks, java.util.Arrays.copyOf(buf, n))) return;
                }
                offer(chunks, Boolean.TRUE);
            } catch (IOException | RuntimeException e) {
                offer(chunks, e);
            }
        });
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            while (true) {
                Object next;
                try {
                    next = chunks.poll(stall.toNanos(), TimeUnit.NANOSECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new InterruptedIOException(file + ": interrupted while reading");
                }
                if (next == null)
                    throw new IOException(file + ": no data for " + stall.toSeconds() + " s (a pipe or FIFO that nobody writes to?)");
                if (next == Boolean.TRUE) return out.toByteArray();
                if (next instanceof IOException e) throw new IOException(file + ": cannot read: " + e.getMessage(), e);
                if (next instanceof RuntimeException e) throw new IOException(file + ": cannot read: " + e.getMessage(), e);
                byte[] b = (byte[]) next;
                if (out.size() + (long) b.length > maxBytes)
                    throw new IOException(file + ": more than the " + maxBytes + "-byte limit for an input file (a stream that does not end?)");
                out.write(b);
            }
        } finally {
            reader.interrupt();
            chunks.clear(); // a reader blocked on a full queue sees room, then the interrupt
            if (reader.isAlive() && isFifo(file)) unblockOpen(file);
        }
    }

    private static boolean offer(BlockingQueue<Object> q, Object o) {
        try {
            while (!q.offer(o, 100, TimeUnit.MILLISECONDS)) if (Thread.currentThread().isInterrupted()) return false;
            return true;
        } catch (InterruptedException e) {
            return false;
        }
    }

    private static boolean isFifo(Path file) {
        try {
            return ((int) Files.getAttribute(file, "unix:mode") & S_IFMT) == S_IFIFO;
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /** Our reader may be stuck in open() of a FIFO without a writer: be that writer for an instant (nothing written). */
    private static void unblockOpen(Path fifo) {
        Thread t = Thread.ofPlatform().daemon().start(() -> {
            try (OutputStream ignored = Files.newOutputStream(fifo)) {
                // opening is enough: the reader's open returns, it reads end of file and ends
            } catch (IOException | RuntimeException ignored) {
                // the reader was not stuck in open after all
            }
        });
        try {
            t.join(1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
