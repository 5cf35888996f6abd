package dev.onestep;

import dev.onestep.testutil.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import java.io.ByteArrayOutputStream;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The README's library example, as printed there, compiled against this build and run: only the model id, the
 * input and output paths and the processing resolution are swapped for the test model's (so it needs no download).
 */
class ReadmeExampleTest {
    @TempDir Path tmp;

    @Test
    void theReadmeExampleCompilesAndRuns() throws Exception {
        String readme = Files.readString(Path.of("README.md"));
        Matcher m = Pattern.compile("```java\\n(.*?)```", Pattern.DOTALL).matcher(readme);
        assertTrue(m.find(), "README has a ```java block");
        String example = m.group(1);
        Path out = tmp.resolve("photo_depth.png");
        String body = replace(example, "\"GonzaloMG/marigold-e2e-ft-depth\"", quote(Fixtures.model().toString()));
        body = replace(body, "OneStep.Options.defaults()", "OneStep.Options.defaults().withDevice(\"cpu\").withProcessingRes(64)");
        body = replace(body, "Path.of(\"photo.jpg\")", "Path.of(" + quote(Fixtures.caseDir("case1_80x60").resolve("input.png").toString()) + ")");
        body = replace(body, "Path.of(\"photo_depth.png\")", "Path.of(" + quote(out.toString()) + ")");
        String source = "import dev.onestep.*;\nimport java.awt.image.BufferedImage;\nimport java.nio.file.Path;\n"
                + "public class ReadmeExample {\n    public static Object run() throws Exception {\n" + body
                + "\n        return null;\n    }\n}\n";
        Path src = Files.writeString(Files.createDirectories(tmp.resolve("src")).resolve("ReadmeExample.java"), source);
        Path classes = Files.createDirectories(tmp.resolve("classes"));
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int rc = javac.run(null, null, err, "--add-modules", "jdk.incubator.vector", "-d", classes.toString(),
                "-cp", System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")), src.toString());
        assertEquals(0, rc, "the README example does not compile:\n" + err + "\n" + source);
        try (URLClassLoader cl = new URLClassLoader(new URL[] {classes.toUri().toURL()}, getClass().getClassLoader())) {
            cl.loadClass("ReadmeExample").getMethod("run").invoke(null);
        }
        assertTrue(Files.size(out) > 0, "the example wrote its PNG");
    }

    private static String replace(String s, String what, String with) {
        assertTrue(s.contains(what), "the README example no longer contains " + what + "; update this test with it");
        return s.replace(what, with);
    }

    private static String quote(String s) { return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\""; }
}
