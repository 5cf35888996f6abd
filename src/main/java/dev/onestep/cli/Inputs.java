package dev.onestep.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Expands the INPUT arguments: files as given (a missing or unreadable one is kept, to be reported per image),
 * folders searched recursively for image extensions (sorted, hidden files skipped), "-" reads one path per line
 * from stdin (blank lines and # comments skipped). The same file named twice is processed once.
 */
final class Inputs {
    private Inputs() {}

    static final Set<String> IMAGE_EXTENSIONS = Set.of("png", "jpg", "jpeg", "bmp", "gif", "tif", "tiff", "wbmp");

    static List<Path> expand(List<String> args, InputStream stdin) throws IOException {
        Set<Path> seen = new LinkedHashSet<>();
        List<Path> out = new ArrayList<>();
        for (String a : args) {
            if (a.equals("-")) {
                BufferedReader r = new BufferedReader(new InputStreamReader(stdin, StandardCharsets.UTF_8));
                for (String line; (line = r.readLine()) != null; ) {
                    String s = line.strip();
                    if (!s.isEmpty() && !s.startsWith("#")) addPath(Path.of(s), out, seen);
                }
            } else {
                addPath(Path.of(a), out, seen);
            }
        }
        return out;
    }

    private static void addPath(Path p, List<Path> out, Set<Path> seen) throws IOException {
        if (Files.isDirectory(p)) {
            try (Stream<Path> s = Files.walk(p)) {
                for (Path f : s.filter(Files::isRegularFile).filter(Inputs::isImageName).filter(x -> !isHidden(p, x)).sorted().toList())
                    if (seen.add(f.toAbsolutePath().normalize())) out.add(f);
            }
        } else if (seen.add(p.toAbsolutePath().normalize())) {
            out.add(p);
        }
    }

    private static boolean isHidden(Path root, Path f) {
        for (Path part : root.relativize(f)) if (part.toString().startsWith(".")) return true;
        return false;
    }

    static boolean isImageName(Path p) {
        String n = p.getFileName().toString();
        int dot = n.lastIndexOf('.');
        return dot > 0 && IMAGE_EXTENSIONS.contains(n.substring(dot + 1).toLowerCase(Locale.ROOT));
    }

    /** The file name without its extension. */
    static String stem(Path p) {
        String n = p.getFileName().toString();
        int dot = n.lastIndexOf('.');
        return dot > 0 ? n.substring(0, dot) : n;
    }

    /**
     * The output stem of every input: its file stem, made unique where two inputs share one (a/x.png and b/x.jpg
     * become x and x-2) so no output overwrites another.
     */
    static Map<Path, String> outputStems(List<Path> files) {
        Set<String> taken = new java.util.HashSet<>();
        Map<Path, String> out = new LinkedHashMap<>();
        for (Path f : files) {
            String base = stem(f), s = base;
            for (int n = 2; !taken.add(s); n++) s = base + "-" + n;
            out.put(f, s);
        }
        return out;
    }
}
