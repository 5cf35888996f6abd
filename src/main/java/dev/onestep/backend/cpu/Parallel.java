package dev.onestep.backend.cpu;

import java.util.concurrent.CancellationException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.IntConsumer;

/**
 * The CPU backend's only parallelism: {@link #parallelFor} over a fixed pool of daemon threads.
 *
 * <p>Thread count: system property {@code onestep.threads}, default {@link Runtime#availableProcessors()}.
 * The calling thread works too (the pool holds threads − 1 workers). Indices are claimed from a shared counter,
 * so uneven tasks balance themselves. Safe to call from several threads at once and from inside a body
 * (nested calls never wait for a queued helper to start: the caller can always finish the work alone).
 */
public final class Parallel {
    private Parallel() {}

    public static final int THREADS = Math.max(1, Integer.getInteger("onestep.threads", Runtime.getRuntime().availableProcessors()));

    /** A caller's own cap on the threads its loops use ({@link #withThreads}); 0 = {@link #THREADS}. */
    private static final ThreadLocal<int[]> CAP = ThreadLocal.withInitial(() -> new int[1]);

    /**
     * Runs {@code work} with this thread's parallel loops using at most {@code threads} threads (itself included;
     * 0 = all {@link #THREADS}); the previous cap is restored after. A library user's per-instance thread count.
     */
    public static <T> T withThreads(int threads, java.util.function.Supplier<T> work) {
        if (threads < 0 || threads > THREADS)
            throw new IllegalArgumentException("threads must be 0 (all) or 1.." + THREADS + " (this machine's CPU threads), got " + threads);
        int[] cap = CAP.get();
        int before = cap[0];
        cap[0] = threads;
        try {
            return work.get();
        } finally {
            cap[0] = before;
        }
    }

    /** The threads a parallel loop started on this thread may use. */
    static int threadsHere() {
        int c = CAP.get()[0];
        return c <= 0 ? THREADS : Math.min(c, THREADS);
    }

    private static final ExecutorService POOL = THREADS == 1 ? null : Executors.newFixedThreadPool(THREADS - 1, r -> {
        Thread t = new Thread(r, "onestep-cpu");
        t.setDaemon(true);
        return t;
    });

    /**
     * Runs body(i) for i in [0, n), spread over the pool; returns when all are done; rethrows the first failure.
     *
     * <p>Cancellation: an interrupted caller (flag set on entry, or set while the work runs) stops claiming
     * indices, waits for the chunks already running on helpers (they write into buffers the caller is about to
     * release, so it never returns before they are done), and throws {@link CancellationException} with an
     * {@link InterruptedException} cause; the interrupt flag stays set for the layers above.
     */
    public static void parallelFor(int n, IntConsumer body) {
        if (n <= 0) return;
        checkInterrupt();
        int threads = threadsHere();
        if (n == 1 || POOL == null || threads == 1) {
            for (int i = 0; i < n; i++) {
                if (i > 0) checkInterrupt();
                body.accept(i);
            }
            return;
        }
        Thread caller = Thread.currentThread();
        AtomicInteger next = new AtomicInteger();
        CountDownLatch done = new CountDownLatch(n);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Runnable drain = () -> {
            int i;
            while ((i = next.getAndIncrement()) < n) {
                try {
                    if (Thread.currentThread() == caller && caller.isInterrupted()) failure.compareAndSet(null, cancelled());
                    if (failure.get() == null) body.accept(i);
                } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                } finally {
                    done.countDown();
                }
            }
        };
        int helpers = Math.min(threads - 1, n - 1);
        for (int h = 0; h < helpers; h++) POOL.execute(drain);
        drain.run();
        boolean interrupted = false;
        while (true) {
            try {
                done.await();
                break;
            } catch (InterruptedException e) {
                // stop the helpers claiming more, then keep waiting for the chunks they are running
                interrupted = true;
                failure.compareAndSet(null, cancelled());
            }
        }
        if (interrupted) caller.interrupt();
        Throwable t = failure.get();
        if (t instanceof RuntimeException re) throw re;
        if (t instanceof Error er) throw er;
        if (t != null) throw new IllegalStateException(t);
    }

    /** Throws the cancellation {@link #parallelFor} documents when the current thread's interrupt flag is set (the flag stays set). */
    public static void checkInterrupt() {
        if (Thread.currentThread().isInterrupted()) throw cancelled();
    }

    private static CancellationException cancelled() {
        CancellationException e = new CancellationException("interrupted: the computation was cancelled");
        e.initCause(new InterruptedException());
        return e;
    }

    /** A body over a half-open range [start, end). */
    @FunctionalInterface
    public interface RangeBody {
        void run(long start, long end);
    }

    /**
     * Splits [0, total) into about 4 chunks per thread (none smaller than {@code minChunk}, except the last)
     * and runs them in parallel.
     */
    public static void parallelRange(long total, long minChunk, RangeBody body) {
        if (total <= 0) return;
        long chunks = Math.max(1, Math.min(4L * THREADS, total / Math.max(1, minChunk)));
        long size = (total + chunks - 1) / chunks;
        int n = (int) ((total + size - 1) / size);
        parallelFor(n, c -> body.run(c * size, Math.min(total, (c + 1) * size)));
    }
}
