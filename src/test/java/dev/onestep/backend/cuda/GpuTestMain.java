package dev.onestep.backend.cuda;

import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;
import org.junit.platform.launcher.listeners.TestExecutionSummary;

import java.io.PrintWriter;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectPackage;

/**
 * Runs JUnit tests without Maven, for the GPU machine (a carried JRE, no build tools; tools/gpu-check.sh):
 * {@code GpuTestMain [ClassName ...]} runs the named classes of this package, or the whole package. Prints each
 * failure with its stack trace and a summary; exits 1 when anything failed.
 */
public final class GpuTestMain {
    private GpuTestMain() {}

    public static void main(String[] args) {
        LauncherDiscoveryRequestBuilder req = LauncherDiscoveryRequestBuilder.request();
        if (args.length == 0) req.selectors(selectPackage("dev.onestep.backend.cuda"));
        for (String a : args) req.selectors(selectClass(a.contains(".") ? a : "dev.onestep.backend.cuda." + a));
        LauncherDiscoveryRequest request = req.build();
        Launcher launcher = LauncherFactory.create();
        SummaryGeneratingListener listener = new SummaryGeneratingListener();
        launcher.execute(request, listener);
        TestExecutionSummary s = listener.getSummary();
        PrintWriter out = new PrintWriter(System.out, true);
        s.printFailuresTo(out, 40);
        s.printTo(out);
        System.exit(s.getTotalFailureCount() == 0 && s.getTestsFoundCount() > 0 ? 0 : 1);
    }
}
