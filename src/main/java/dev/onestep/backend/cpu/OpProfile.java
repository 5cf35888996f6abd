package dev.onestep.backend.cpu;

import java.util.Comparator;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A per-op wall-clock profile of the CPU backend: {@code -Donestep.cpu.profile=true} times every op (grouped by op and
 * shape) and prints the table to stderr at exit. Off by default; costs one branch per op when off.
 */
final class OpProfile {
    private OpProfile() {}

    static final boolean ON = Boolean.getBoolean("onestep.cpu.profile");
    private static final Map<String, long[]> TABLE = new ConcurrentHashMap<>();

    static {
        if (ON) Runtime.getRuntime().addShutdownHook(new Thread(OpProfile::print, "onestep-profile"));
    }

    static long start() { return ON ? System.nanoTime() : 0; }

    static void stop(long t0, String key) {
        if (!ON) return;
        long dt = System.nanoTime() - t0;
        long[] e = TABLE.computeIfAbsent(key, k -> new long[2]);
        synchronized (e) {
            e[0]++;
            e[1] += dt;
        }
    }

    static void print() {
        long total = TABLE.values().stream().mapToLong(e -> e[1]).sum();
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "onestep cpu profile: %.1f s in ops%n", total / 1e9));
        TABLE.entrySet().stream().sorted(Comparator.comparingLong((Map.Entry<String, long[]> e) -> -e.getValue()[1])).limit(60)
                .forEach(e -> sb.append(String.format(Locale.ROOT, "%8.0f ms %5.1f%% %6d×  %s%n",
                        e.getValue()[1] / 1e6, 100.0 * e.getValue()[1] / Math.max(1, total), e.getValue()[0], e.getKey())));
        System.err.print(sb);
    }
}
