package dev.onestep;

import org.junit.jupiter.api.Test;

import java.util.Properties;

import static org.junit.jupiter.api.Assertions.*;

class VersionTest {
    @Test
    void theBuildKnowsItsVersionAndCommit() {
        String v = OneStep.version();
        assertTrue(v.matches("\\d+\\.\\d+\\.\\d+(-SNAPSHOT)? \\(commit ([0-9a-f]{12}(, with uncommitted changes)?|unknown)\\)"), v);
        assertFalse(v.startsWith("unknown"), "the version resource is filtered by the build: " + v);
    }

    @Test
    void describeSaysWhatIsUnknown() {
        Properties version = new Properties(), git = new Properties();
        version.setProperty("version", "1.2.3");
        assertEquals("1.2.3 (commit unknown)", Version.describe(version, git));
        git.setProperty("git.commit.id.full", "0123456789abcdef0123456789abcdef01234567");
        git.setProperty("git.dirty", "false");
        assertEquals("1.2.3 (commit 0123456789ab)", Version.describe(version, git));
        git.setProperty("git.dirty", "true");
        assertEquals("1.2.3 (commit 0123456789ab, with uncommitted changes)", Version.describe(version, git));
        version.setProperty("version", "${project.version}");
        git.setProperty("git.commit.id.full", "not a hash");
        assertEquals("unknown (commit unknown)", Version.describe(version, git));
    }
}
