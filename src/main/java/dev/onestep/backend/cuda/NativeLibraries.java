package dev.onestep.backend.cuda;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Finds and opens the CUDA math libraries (cuBLAS, cuDNN) for the java.lang.foreign bindings.
 *
 * <p>Search order, first hit wins; inside each place the newer soname first (libcublas.so.13, then .12):
 * <ol>
 *   <li>directories in {@code ONESTEP_CUDA_LIB_PATH} (colon-separated), so a user can force a copy;
 *   <li>the bare soname through the system loader (LD_LIBRARY_PATH as the process started, ldconfig's cache);
 *   <li>directories in {@code LD_LIBRARY_PATH}, searched explicitly (so the error message lists them);
 *   <li>CUDA toolkit folders: $CUDA_HOME/lib64, /usr/local/cuda/lib64, /usr/local/cuda/targets/x86_64-linux/lib,
 *       /usr/lib/x86_64-linux-gnu;
 *   <li>NVIDIA's Python wheels (PyTorch brings them): site-packages/nvidia/cu13/lib, nvidia/cu12/lib (CUDA 13
 *       wheels put every library in one folder), then nvidia/{cublas,cudnn,...}/lib, under the usual
 *       site/dist-packages roots, /opt/*&#47;.venv, $VIRTUAL_ENV, $CONDA_PREFIX and ~/.local.
 * </ol>
 * Companion libraries are opened first from the same folder (libcublasLt beside libcublas; cuDNN 9's
 * sub-libraries beside libcudnn), so the dynamic linker resolves the main library's dependencies and its own
 * dlopen()s to the same copy instead of searching again. The path logic is pure and tested with a fake tree.
 */
final class NativeLibraries {
    private NativeLibraries() {}

    /** A library to find: sonames in order of preference, and companions by soname major suffix. */
    record Spec(String what, List<String> sonames, List<String> companionStems) {
        /** Companion sonames for a chosen soname: same ".so.N" suffix (libcublas.so.13 → libcublasLt.so.13). */
        List<String> companionsFor(String soname) {
            String suffix = soname.substring(soname.indexOf(".so"));
            return companionStems.stream().map(s -> s + suffix).toList();
        }
    }

    static final Spec CUBLAS = new Spec("cuBLAS", List.of("libcublas.so.13", "libcublas.so.12"), List.of("libcublasLt"));

    // cuDNN 9's libcudnn.so.9 is a shim that dlopens these on first use; order is dependency order.
    static final Spec CUDNN = new Spec("cuDNN", List.of("libcudnn.so.9"), List.of("libcudnn_graph", "libcudnn_engines_precompiled",
            "libcudnn_engines_runtime_compiled", "libcudnn_heuristic", "libcudnn_ops", "libcudnn_cnn"));

    /**
     * NVRTC, which cuDNN 9's runtime-compiled engines dlopen() by soname on first use. NVIDIA's CUDA 13 wheels keep it
     * in nvidia/cu13/lib, not beside libcudnn (nvidia/cudnn/lib), and nothing puts that folder on the loader's path
     * outside PyTorch (which preloads it). Opened beforehand by {@link #preload}, its soname is already in the process
     * when cuDNN asks, so the loader returns this copy.
     */
    static final Spec NVRTC = new Spec("NVRTC", List.of("libnvrtc.so.13", "libnvrtc.so.12"), List.of());

    /** Where one attempt looks: a file in a folder, or a bare soname for the system loader (dir == null). */
    record Candidate(Path dir, String soname) {
        String describe() { return dir == null ? soname + " (system loader)" : dir.resolve(soname).toString(); }
    }

    /** A library that opened: its symbols and where it came from. */
    record Loaded(SymbolLookup lookup, String soname, String location) {}

    /** Search folders in order (existing or not; candidates() keeps only files that exist). */
    static List<Path> searchDirectories(Map<String, String> env, Path root, Path home) {
        Set<Path> dirs = new LinkedHashSet<>();
        addPathList(dirs, env.get("ONESTEP_CUDA_LIB_PATH"));
        dirs.add(null); // marker: the system loader goes here
        addPathList(dirs, env.get("LD_LIBRARY_PATH"));
        String cudaHome = env.getOrDefault("CUDA_HOME", env.get("CUDA_PATH"));
        if (cudaHome != null && !cudaHome.isBlank()) dirs.add(Path.of(cudaHome, "lib64"));
        dirs.add(root.resolve("usr/local/cuda/lib64"));
        dirs.add(root.resolve("usr/local/cuda/targets/x86_64-linux/lib"));
        dirs.add(root.resolve("usr/lib/x86_64-linux-gnu"));
        for (Path sp : sitePackages(env, root, home)) {
            dirs.add(sp.resolve("nvidia/cu13/lib"));
            dirs.add(sp.resolve("nvidia/cu12/lib"));
            dirs.addAll(glob(sp.resolve("nvidia"), "*", "lib"));
        }
        if (env.get("CONDA_PREFIX") != null) dirs.add(Path.of(env.get("CONDA_PREFIX"), "lib"));
        return new ArrayList<>(dirs);
    }

    /** Python package roots that may hold NVIDIA's wheels. */
    static List<Path> sitePackages(Map<String, String> env, Path root, Path home) {
        List<Path> out = new ArrayList<>();
        for (String venvVar : new String[] {"VIRTUAL_ENV", "CONDA_PREFIX"}) {
            String v = env.get(venvVar);
            if (v != null && !v.isBlank()) out.addAll(glob(Path.of(v, "lib"), "python3*", "site-packages"));
        }
        out.addAll(glob(root.resolve("usr/local/lib"), "python3*", "dist-packages"));
        out.addAll(glob(root.resolve("usr/local/lib"), "python3*", "site-packages"));
        out.add(root.resolve("usr/lib/python3/dist-packages"));
        out.addAll(glob(root.resolve("usr/lib"), "python3*", "site-packages"));
        for (Path opt : glob(root.resolve("opt"), "*", ".venv/lib")) out.addAll(glob(opt, "python3*", "site-packages"));
        out.addAll(glob(root.resolve("opt/conda/lib"), "python3*", "site-packages"));
        if (home != null) out.addAll(glob(home.resolve(".local/lib"), "python3*", "site-packages"));
        return out;
    }

    /** parent/<entries matching pattern>/suffix that exist, sorted by name (python3.12 before python3.9 is fine). */
    private static List<Path> glob(Path parent, String pattern, String suffix) {
        List<Path> out = new ArrayList<>();
        if (!Files.isDirectory(parent)) return out;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(parent, pattern)) {
            for (Path p : ds) {
                Path c = p.resolve(suffix);
                if (Files.isDirectory(c)) out.add(c);
            }
        } catch (IOException | RuntimeException e) {
            // unreadable folder: nothing to find there
        }
        out.sort(null);
        return out;
    }

    private static void addPathList(Set<Path> dirs, String list) {
        if (list == null) return;
        for (String s : list.split(":")) if (!s.isBlank()) dirs.add(Path.of(s));
    }

    /** Every attempt in order: per folder, each soname whose file exists; at the system-loader marker, each bare soname. */
    static List<Candidate> candidates(Spec spec, List<Path> dirs) {
        List<Candidate> out = new ArrayList<>();
        for (Path d : dirs) {
            for (String so : spec.sonames()) {
                if (d == null) out.add(new Candidate(null, so));
                else if (Files.exists(d.resolve(so))) out.add(new Candidate(d, so));
            }
        }
        return out;
    }

    /** Opens the first candidate that loads, or throws naming every place tried and why each failed. */
    static Loaded load(Spec spec) {
        List<Path> dirs = searchDirectories(System.getenv(), Path.of("/"), Path.of(System.getProperty("user.home", "/root")));
        List<String> failures = new ArrayList<>();
        for (Candidate c : candidates(spec, dirs)) {
            try {
                for (String comp : spec.companionsFor(c.soname())) {
                    try {
                        open(c.dir(), comp);
                    } catch (RuntimeException ignored) {
                        // optional: absent companions are found (or not) by the main library itself
                    }
                }
                return new Loaded(open(c.dir(), c.soname()), c.soname(), c.describe());
            } catch (RuntimeException e) {
                failures.add(c.describe() + ": " + e.getMessage());
            }
        }
        List<String> searched = dirs.stream().map(d -> d == null ? "(system loader)" : d.toString()).toList();
        throw new IllegalStateException(spec.what() + " not found: tried " + spec.sonames() + (failures.isEmpty() ? "" : "; failures: " + failures)
                + "; searched " + searched + ". Set ONESTEP_CUDA_LIB_PATH to the folder holding " + spec.sonames().getFirst());
    }

    /** Opens {@code spec} where {@link #load} would, or returns null (a library that is only needed by some paths). */
    static Loaded preload(Spec spec) {
        try {
            return load(spec);
        } catch (RuntimeException e) {
            return null;
        }
    }

    private static SymbolLookup open(Path dir, String soname) {
        if (dir == null) return SymbolLookup.libraryLookup(soname, Arena.global());
        Path p = dir.resolve(soname);
        if (!Files.exists(p)) throw new IllegalArgumentException("no such file " + p);
        return SymbolLookup.libraryLookup(p, Arena.global());
    }
}
