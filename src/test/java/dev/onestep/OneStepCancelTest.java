package dev.onestep;

import dev.onestep.testutil.Fixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.util.SplittableRandom;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Cancelling predictions at random moments, through {@link OneStep#cancel()} and {@code Future.cancel(true)}: each
 * either completes with the same map as an undisturbed run or ends in a {@link CancellationException}; the backend's
 * memory is back at its baseline after each, and the instance keeps working.
 */
class OneStepCancelTest {
    static OneStep model;
    static BufferedImage image;

    @BeforeAll
    static void load() throws IOException {
        model = OneStep.load(Fixtures.model().toString(), OneStep.Options.defaults().withDevice("cpu").withProcessingRes(64).withExif(false));
        image = javax.imageio.ImageIO.read(Fixtures.caseDir(Fixtures.cases().get(0)).resolve("input.png").toFile());
    }

    @AfterAll
    static void close() { model.close(); }

    @Test
    void randomCancellationsEndCleanlyAndLeaveNothingBehind() throws Exception {
        float[] expected = model.predictDepth(image).data();
        long baseline = model.liveMemoryBytes();
        assertTrue(baseline >= 0, "the CPU backend reports its memory");
        long t0 = System.nanoTime();
        model.predictDepth(image);
        long passNanos = System.nanoTime() - t0;
        SplittableRandom rnd = new SplittableRandom(15);
        ExecutorService pool = Executors.newSingleThreadExecutor();
        int cancelled = 0, completed = 0;
        try {
            for (int i = 0; i < 24; i++) {
                boolean viaFuture = i % 2 == 1;
                CompletableFuture<Object> outcome = new CompletableFuture<>();
                java.util.concurrent.CountDownLatch running = new java.util.concurrent.CountDownLatch(1);
                Future<?> f = pool.submit(() -> {
                    running.countDown();
                    try {
                        outcome.complete(model.predictDepth(image));
                    } catch (Throwable t) {
                        outcome.complete(t);
                    }
                });
                running.await(); // a Future cancelled before its task starts never runs it: nothing to observe
                long delay = rnd.nextLong(passNanos + 1);
                TimeUnit.NANOSECONDS.sleep(delay);
                if (viaFuture) f.cancel(true);
                else model.cancel();
                Object r = outcome.get(60, TimeUnit.SECONDS);
                if (r instanceof DepthMap d) {
                    assertArrayEquals(expected, d.data(), "run " + i + ": a prediction that was not stopped gives the same map");
                    completed++;
                } else if (r instanceof CancellationException c) {
                    assertTrue(c.getMessage().contains("cancelled"), c.getMessage());
                    cancelled++;
                } else {
                    fail("run " + i + " (" + (viaFuture ? "Future.cancel" : "OneStep.cancel") + " after " + delay / 1000 + " µs) ended in "
                            + r, r instanceof Throwable t ? t : null);
                }
                assertEquals(baseline, model.liveMemoryBytes(), "run " + i + ": memory back to the baseline");
            }
        } finally {
            pool.shutdownNow();
        }
        assertTrue(cancelled > 0, "some runs were stopped (" + completed + " completed)");
        assertArrayEquals(expected, model.predictDepth(image).data(), "the instance still works and gives the same map");
        assertFalse(Thread.currentThread().isInterrupted());
    }

    @Test
    void cancelWithNothingRunningSaysSo() { assertFalse(model.cancel()); }
}
