package dev.onestep.backend.cuda;

import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.engine.discovery.ClassNameFilter;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.TestPlan;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;
import org.junit.platform.launcher.listeners.TestExecutionSummary;

import java.io.PrintWriter;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectMethod;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectPackage;

/**
 * Runs JUnit tests without Maven, for the GPU machine (a carried JRE, no build tools; tools/gpu-check.sh):
 * {@code GpuTestMain [ClassName | ClassName#method ...]} runs the named classes (or methods) of this package, or the
 * whole package but {@link CudaBindingAbiTest} (a host-only header check that needs a jar the bundle leaves out).
 * Prints one line per test as it ends (PASS/FAIL/SKIP, milliseconds, the test's path, the reason or the failure's first
 * line), then each failure with its stack trace and a summary; exits 1 when anything failed or nothing ran.
 */
public final class GpuTestMain {
    private GpuTestMain() {}

    public static void main(String[] args) {
        LauncherDiscoveryRequestBuilder req = LauncherDiscoveryRequestBuilder.request();
        if (args.length == 0) {
            req.selectors(selectPackage("dev.onestep.backend.cuda"));
            // host-only: checks the binding against NVIDIA's headers through the JavaCPP presets jar, which CI has and the
            // GPU bundle leaves out (size); nothing in it needs a GPU
            req.filters(ClassNameFilter.excludeClassNamePatterns(".*\\.CudaBindingAbiTest"));
        }
        for (String a : args) {
            String name = a.contains(".") ? a : "dev.onestep.backend.cuda." + a;
            req.selectors(name.contains("#") ? selectMethod(name) : selectClass(name));
        }
        LauncherDiscoveryRequest request = req.build();
        Launcher launcher = LauncherFactory.create();
        SummaryGeneratingListener summary = new SummaryGeneratingListener();
        PrintWriter out = new PrintWriter(System.out, true);
        launcher.execute(request, summary, new Lines(out));
        TestExecutionSummary s = summary.getSummary();
        s.printFailuresTo(out, 40);
        s.printTo(out);
        System.exit(s.getTotalFailureCount() == 0 && s.getTestsSucceededCount() > 0 ? 0 : 1);
    }

    /** One line per finished or skipped test, flushed at once so a run cut short by a timeout still shows its progress. */
    static final class Lines implements TestExecutionListener {
        private final PrintWriter out;
        private final Map<String, Long> started = new ConcurrentHashMap<>();
        private TestPlan plan;

        Lines(PrintWriter out) { this.out = out; }

        @Override public void testPlanExecutionStarted(TestPlan testPlan) { plan = testPlan; }

        @Override
        public void executionStarted(TestIdentifier id) { started.put(id.getUniqueId(), System.nanoTime()); }

        @Override
        public void executionSkipped(TestIdentifier id, String reason) {
            if (id.isTest()) out.printf(Locale.ROOT, "SKIP %8s  %s  -- %s%n", "", path(id), reason);
        }

        @Override
        public void executionFinished(TestIdentifier id, TestExecutionResult result) {
            Long t0 = started.remove(id.getUniqueId());
            long ms = t0 == null ? 0 : (System.nanoTime() - t0) / 1_000_000;
            String why = result.getThrowable().map(t -> firstLine(t.toString())).orElse("");
            String status = switch (result.getStatus()) {
                case SUCCESSFUL -> "PASS";
                case ABORTED -> "SKIP"; // a failed assumption: the reason is the message
                case FAILED -> "FAIL";
            };
            // containers only when they fail (e.g. an exception in @BeforeAll/@AfterAll)
            if (id.isTest() || result.getStatus() == TestExecutionResult.Status.FAILED)
                out.printf(Locale.ROOT, "%s %6d ms  %s%s%n", status, ms, path(id), why.isEmpty() ? "" : "  -- " + why);
        }

        private String path(TestIdentifier id) {
            StringBuilder sb = new StringBuilder(id.getDisplayName());
            if (plan == null) return sb.toString();
            for (TestIdentifier p = plan.getParent(id).orElse(null); p != null && p.getParentId().isPresent(); p = plan.getParent(p).orElse(null))
                sb.insert(0, p.getDisplayName() + " > ");
            return sb.toString();
        }

        private static String firstLine(String s) {
            int nl = s.indexOf('\n');
            String line = nl < 0 ? s : s.substring(0, nl);
            return line.length() > 400 ? line.substring(0, 400) + "…" : line;
        }
    }
}
