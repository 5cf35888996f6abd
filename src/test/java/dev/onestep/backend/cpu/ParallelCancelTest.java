package dev.onestep.backend.cpu;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.concurrent.CancellationException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** An interrupted caller of {@link Parallel#parallelFor} stops, waits for running chunks, and throws CancellationException. */
@Timeout(60)
class ParallelCancelTest {
    @AfterEach
    void clearInterrupt() {
        Thread.interrupted();
    }

    @Test
    void interruptedOnEntryRunsNothing() {
        AtomicInteger ran = new AtomicInteger();
        Thread.currentThread().interrupt();
        CancellationException e = assertThrows(CancellationException.class, () -> Parallel.parallelFor(64, i -> ran.incrementAndGet()));
        assertInstanceOf(InterruptedException.class, e.getCause());
        assertTrue(Thread.currentThread().isInterrupted(), "the interrupt flag stays set");
        assertEquals(0, ran.get());
    }

    @Test
    void interruptedMidwayStopsClaimingAndNoChunkRunsAfterTheThrow() {
        int n = 10_000;
        AtomicInteger running = new AtomicInteger(), ran = new AtomicInteger();
        Thread caller = Thread.currentThread();
        CountDownLatch started = new CountDownLatch(1);
        assertThrows(CancellationException.class, () -> Parallel.parallelFor(n, i -> {
            running.incrementAndGet();
            started.countDown();
            if (i == 5) caller.interrupt();
            try {
                Thread.sleep(0, 200_000);
            } catch (InterruptedException ignored) {
                Thread.currentThread().interrupt(); // keep the flag for the caller's own check
            }
            ran.incrementAndGet();
            running.decrementAndGet();
        }));
        assertEquals(0, running.get(), "every chunk finished before parallelFor threw");
        int after = ran.get();
        assertTrue(after < n, "stopped early: " + after + " of " + n);
        assertEquals(after, ran.get(), "nothing runs after the throw");
        assertTrue(Thread.currentThread().isInterrupted());
    }
}
