package dev.onestep.bench;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The process's minor page faults and user/system CPU time from {@code /proc/self/stat} (Linux), to show what a pass
 * costs the OS: fresh memory faulted in and zeroed, which is expensive in VMs (docs/PERF.md, "Activation memory and the young generation").
 *
 * @param minorFaults faults served without I/O (fresh anonymous pages, page-cache hits)
 * @param userSeconds CPU time in user mode, all threads
 * @param systemSeconds CPU time in the kernel, all threads
 */
record ProcessCounters(long minorFaults, double userSeconds, double systemSeconds) {
    /** Clock ticks per second of /proc's times (USER_HZ, 100 on Linux). */
    private static final double TICKS = 100.0;

    /** Now, or null where /proc/self/stat is not there (not Linux). */
    static ProcessCounters now() {
        try {
            String s = Files.readString(Path.of("/proc/self/stat"));
            // fields after "(comm)": state is field 3, minflt 10, utime 14, stime 15 (proc(5))
            String[] f = s.substring(s.lastIndexOf(')') + 2).trim().split(" ");
            return new ProcessCounters(Long.parseLong(f[10 - 3]), Long.parseLong(f[14 - 3]) / TICKS, Long.parseLong(f[15 - 3]) / TICKS);
        } catch (java.io.IOException | RuntimeException e) {
            return null;
        }
    }

    /** ", N page faults, S s system time" since {@code before}, or "" when either is null. */
    static String since(ProcessCounters before, ProcessCounters after) {
        if (before == null || after == null) return "";
        return String.format(java.util.Locale.ROOT, " (%d page faults, %.1f s system time)",
                after.minorFaults - before.minorFaults, after.systemSeconds - before.systemSeconds);
    }
}
