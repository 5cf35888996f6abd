package dev.onestep.bench;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** /proc/self/stat read at the right fields: touching fresh memory shows up as minor faults. */
class ProcessCountersTest {
    @Test
    void freshMemoryCountsAsPageFaults() {
        ProcessCounters before = ProcessCounters.now();
        Assumptions.assumeTrue(before != null, "no /proc/self/stat (not Linux)");
        assertTrue(before.minorFaults() > 0 && before.userSeconds() > 0 && before.systemSeconds() >= 0, before.toString());
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment m = arena.allocate(64L << 20); // zero-filled: every page touched
            m.set(java.lang.foreign.ValueLayout.JAVA_BYTE, m.byteSize() - 1, (byte) 1);
            ProcessCounters after = ProcessCounters.now();
            // 64 MB is at least 32 faults even in 2 MB huge pages, 16 384 in 4 KB ones
            assertTrue(after.minorFaults() - before.minorFaults() >= 32, before + " → " + after);
            assertTrue(ProcessCounters.since(before, after).matches(" \\(\\d+ page faults, \\d+\\.\\d s system time\\)"),
                    ProcessCounters.since(before, after));
        }
        assertEquals("", ProcessCounters.since(null, before));
    }
}
