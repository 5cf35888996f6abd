package dev.onestep.backend.cuda;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The GPU machine gets this repository through the device tool, which carries the tracked (and untracked, not
 * ignored) files plus the GPU bundle within 64 MiB (docs/CUDA.md, "Running on the GPU machine"). The bundle
 * (stripped JRE, classes, runtime jars, the PyTorch peer's script and diffusers source) measures 17.78 MB; this test
 * keeps the tree small enough that tree + a 17.8 MB bundle still fits, so a new fixture or kernel build that would get the next GPU session's run
 * refused fails here first. `tools/gpu-check.sh bundle` checks the exact total.
 */
class DeviceTransferBudgetTest {
    static final long LIMIT = 64L << 20;
    static final long BUNDLE_ALLOWANCE = 17_800_000L;

    @Test
    void trackedTreePlusTheGpuBundleFitsTheDeviceToolsTransferLimit() throws IOException, InterruptedException {
        Path root = Path.of("").toAbsolutePath();
        assumeTrue(Files.isDirectory(root.resolve(".git")) || Files.isRegularFile(root.resolve(".git")), "not a git checkout: " + root);
        byte[] listing;
        Process p;
        try {
            p = new ProcessBuilder("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard").directory(root.toFile())
                    .redirectErrorStream(false).start();
        } catch (IOException e) {
            assumeTrue(false, "git is not available: " + e.getMessage());
            return;
        }
        try (InputStream in = p.getInputStream(); ByteArrayOutputStream out = new ByteArrayOutputStream()) {
            in.transferTo(out);
            listing = out.toByteArray();
        }
        assumeTrue(p.waitFor() == 0, "git ls-files failed");
        long tree = 0;
        for (String name : new String(listing, StandardCharsets.UTF_8).split("\0")) {
            if (name.isEmpty()) continue;
            Path f = root.resolve(name);
            if (Files.isRegularFile(f)) tree += Files.size(f);
        }
        assertTrue(tree + BUNDLE_ALLOWANCE <= LIMIT, String.format("tracked tree %,d bytes + GPU bundle allowance %,d = %,d bytes, over the device "
                + "tool's %,d-byte transfer limit: the next GPU session's runs would be refused (shrink fixtures or kernel outputs)",
                tree, BUNDLE_ALLOWANCE, tree + BUNDLE_ALLOWANCE, LIMIT));
    }
}
