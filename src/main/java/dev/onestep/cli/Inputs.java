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
        return List.copyOf(expandWithRoots(args, stdin).keySet());
    }

    /**
     * As {@link #expand}, each file with the folder argument it was found under (for --keep-tree), or null for a file
     * named directly (or on stdin).
     */
    static Map<Path, Path> expandWithRoots(List<String> args, InputStream stdin) throws IOException {
        Set<Path> seen = new LinkedHashSet<>();
        Map<Path, Path> out = new LinkedHashMap<>();
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

    private static void addPath(Path p, Map<Path, Path> out, Set<Path> seen) throws IOException {
        if (Files.isDirectory(p)) {
            try (Stream<Path> s = Files.walk(p)) {
                for (Path f : s.filter(Files::isRegularFile).filter(Inputs::isImageName).filter(x -> !isHidden(p, x)).sorted().toList())
                    if (seen.add(f.toAbsolutePath().normalize())) out.put(f, p);
            }
        } else if (seen.add(p.toAbsolutePath().normalize())) {
            out.put(p, null);
        }
    }

    /** Why {@code file} cannot be an input, found without reading it (so before any model loads), or null. */
    static String unusable(Path file) {
        if (!Files.exists(file)) return "no such file";
        if (Files.isDirectory(file)) return "a folder, not an image";
        if (!Files.isReadable(file)) return "not readable (permission denied)";
        return null;
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
        Map<Path, Path> noRoots = new LinkedHashMap<>();
        for (Path f : files) noRoots.put(f, null);
        return outputStems(noRoots, false, s -> {});
    }

    /**
     * The output stem of every input. With {@code keepTree}, a file found under a folder argument keeps its folders
     * below that argument (photos/a/x.png → a/x), so OUT_DIR mirrors the input tree; otherwise, and for files named
     * directly, the stem is the file's. Stems still shared get -2, -3, …, each such rename said on {@code notes}
     * with the input that got which name.
     */
    static Map<Path, String> outputStems(Map<Path, Path> filesAndRoots, boolean keepTree, java.util.function.Consumer<String> notes) {
        Map<String, Path> owner = new java.util.HashMap<>();
        Map<Path, String> out = new LinkedHashMap<>();
        for (var e : filesAndRoots.entrySet()) {
            Path f = e.getKey(), root = e.getValue();
            String base = stem(f);
            if (keepTree && root != null) {
                Path parent = root.relativize(f).getParent();
                if (parent != null) base = parent.toString().replace('\\', '/') + "/" + base;
            }
            String s = base;
            for (int n = 2; owner.containsKey(s); n++) s = base + "-" + n;
            if (!s.equals(base))
                notes.accept("note: " + owner.get(base) + " and " + f + " share the output name " + base + "; " + f + " is written as " + s + "_*");
            owner.put(s, f);
            out.put(f, s);
        }
        return out;
    }
}
