package dev.onestep.backend;

import java.util.HashMap;
import java.util.Map;

/**
 * Times a backend's ops for {@link ProfilingBackend}. A backend whose ops are done when they return (the CPU) is
 * timed by the wall clock ({@link #wallClock}); one that queues its work (CUDA) supplies a timer that marks its stream
 * instead, so the times are the device's, read when drained.
 */
public interface OpTimer extends AutoCloseable {
    /** Marks the start of an op; the mark goes to {@link #stop}. */
    long start();

    /** Marks the end of the op started at {@code mark}; its time is added under {@code key}, now or at the next drain. */
    void stop(long mark, String key);

    /** Waits for every pending mark and adds the times to {@code into}: key → {calls, milliseconds}. */
    void drainInto(Map<String, double[]> into);

    @Override
    default void close() {}

    /** Adds {@code calls} calls taking {@code ms} in all under {@code key} (the table's row: {calls, milliseconds}). */
    static void add(Map<String, double[]> into, String key, double calls, double ms) {
        double[] e = into.computeIfAbsent(key, k -> new double[2]);
        e[0] += calls;
        e[1] += ms;
    }

    /** System.nanoTime around each op: right for backends whose ops finish before they return. */
    static OpTimer wallClock() {
        return new OpTimer() {
            private final Map<String, double[]> pending = new HashMap<>();

            @Override public long start() { return System.nanoTime(); }

            @Override public void stop(long mark, String key) { add(pending, key, 1, (System.nanoTime() - mark) / 1e6); }

            @Override
            public void drainInto(Map<String, double[]> into) {
                pending.forEach((k, v) -> add(into, k, v[0], v[1]));
                pending.clear();
            }
        };
    }
}
