package dev.onestep.io.hub;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The lock held while one blob is fetched, as huggingface_hub's {@code .locks/models--ORG--NAME/ETAG.lock}: an OS
 * file lock ({@link FileChannel#lock()}) for other processes, which the OS drops if the holder dies, so there is
 * never a stale lock to clear. File locks belong to the whole JVM (a second lock on the same file from this JVM
 * throws), so threads of this process first queue on an in-process lock per file.
 */
final class BlobLock implements AutoCloseable {
    private static final ConcurrentMap<Path, ReentrantLock> IN_PROCESS = new ConcurrentHashMap<>();

    private final ReentrantLock local;
    private final FileChannel channel;
    private final FileLock lock;

    private BlobLock(ReentrantLock local, FileChannel channel, FileLock lock) {
        this.local = local;
        this.channel = channel;
        this.lock = lock;
    }

    /** Waits until this run may fetch the blob; says so once through {@code listener} when it has to wait. */
    static BlobLock acquire(Path lockFile, String what, DownloadListener listener) throws IOException {
        Path key = lockFile.toAbsolutePath().normalize();
        ReentrantLock local = IN_PROCESS.computeIfAbsent(key, k -> new ReentrantLock());
        if (!local.tryLock()) {
            listener.downloadNote(what + ": another download of this file is in progress; waiting for it");
            try {
                local.lockInterruptibly();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted while waiting for the lock " + lockFile);
            }
        }
        FileChannel channel = null;
        try {
            Files.createDirectories(lockFile.getParent());
            channel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock lock = channel.tryLock();
            if (lock == null) {
                listener.downloadNote(what + ": another process is downloading this file (lock " + lockFile + "); waiting for it");
                lock = channel.lock();
            }
            return new BlobLock(local, channel, lock);
        } catch (IOException | RuntimeException | Error e) {
            if (channel != null) {
                try {
                    channel.close();
                } catch (IOException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            local.unlock();
            if (e instanceof IOException io)
                throw new IOException("cannot lock " + lockFile + " for " + what + ": " + io.getMessage(), io);
            throw e;
        }
    }

    @Override
    public void close() throws IOException {
        try {
            if (lock.isValid()) lock.release();
        } finally {
            try {
                channel.close();
            } finally {
                local.unlock();
            }
        }
    }
}
