package dev.onestep;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;

/**
 * The build this code came from: the project version (dev/onestep/version.properties, filled in by Maven) and the
 * git commit (dev/onestep/git.properties, written by the git-commit-id plugin; absent when built from a copy
 * without .git). {@link OneStep#version()} and {@code onestep --version} print it.
 */
final class Version {
    private Version() {}

    static final String TEXT = describe(read("version.properties"), read("git.properties"));

    static String describe(Properties version, Properties git) {
        String v = version.getProperty("version", "unknown");
        if (v.startsWith("${")) v = "unknown"; // an unfiltered copy (an IDE build)
        String commit = git.getProperty("git.commit.id.full", "");
        if (!commit.matches("[0-9a-f]{40}")) return v + " (commit unknown)";
        return v + " (commit " + commit.substring(0, 12) + ("true".equals(git.getProperty("git.dirty")) ? ", with uncommitted changes" : "") + ")";
    }

    private static Properties read(String name) {
        Properties p = new Properties();
        try (InputStream in = Version.class.getResourceAsStream(name)) {
            if (in != null) p.load(in);
        } catch (IOException | IllegalArgumentException e) {
            // unreadable: reported as unknown
        }
        return p;
    }
}
