package dev.onestep.testutil;

import dev.onestep.io.Npy;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;

/**
 * The goldens of diffusers' own Marigold pipelines (../shared/fixtures/diffusers-marigold, copied into
 * src/test/resources/fixtures/diffusers-marigold; its README is the reference for every file). The flavours' model
 * folders are stored as they are (unet/vae/text_encoder are symlinks to the tiny-sd2 model); the cases travel as
 * {@code cases.zip}, byte for byte the shared cases/ folder, because the repository goes to the GPU machine within
 * a 64 MiB transfer limit (DeviceTransferBudgetTest). The zip is unpacked once, next to it, on first use (each
 * entry's CRC-32 checked by the unpacking; atomic, so parallel test JVMs agree).
 */
public final class MarigoldFixtures {
    private MarigoldFixtures() {}

    /** The folder with README.md, models/, cases/ and the ᾱ tables. */
    public static Path root() { return Fixtures.root().resolve("diffusers-marigold"); }

    /**
     * A flavour's pipeline folder: depth-v1-1, normals-v1-1, depth-lcm-v1-0, depth-v1-0. Its unet, vae and
     * text_encoder are links to the tiny-sd2 model's (made here when the build copied the folder without them).
     */
    public static synchronized Path model(String flavour) {
        Path dir = root().resolve("models").resolve(flavour);
        for (String part : List.of("unet", "vae", "text_encoder")) {
            Path link = dir.resolve(part);
            if (Files.exists(link)) continue;
            try {
                Files.deleteIfExists(link); // a dangling or empty leftover
                Files.createSymbolicLink(link, dir.relativize(Fixtures.model().resolve(part)));
            } catch (FileAlreadyExistsException raced) {
                // another test JVM made it
            } catch (IOException e) {
                throw new UncheckedIOException("linking " + link, e);
            }
        }
        return dir;
    }

    /** The case names (depth_v11_s1, …), sorted. */
    public static List<String> cases() {
        try (Stream<Path> s = Files.list(casesRoot())) {
            return s.filter(Files::isDirectory).map(p -> p.getFileName().toString()).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static Path caseDir(String name) { return casesRoot().resolve(name); }

    /** A case's tensor as floats (int64 files too, as Npy reads them). */
    public static float[] floats(String caseName, String file) {
        try {
            return Npy.readFloats(caseDir(caseName).resolve(file));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A table at the root, e.g. alphas_cumprod_zero_snr.npy. */
    public static float[] table(String file) {
        try {
            return Npy.readFloats(root().resolve(file));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** cases/, unpacked from cases.zip the first time it is asked for. */
    public static synchronized Path casesRoot() {
        Path dir = root().resolve("cases");
        if (Files.isDirectory(dir)) return dir;
        Path zip = root().resolve("cases.zip");
        Path tmp = root().resolve("cases.unpacking-" + ProcessHandle.current().pid());
        try {
            deleteTree(tmp);
            try (InputStream in = Files.newInputStream(zip); ZipInputStream z = new ZipInputStream(in)) {
                for (ZipEntry e; (e = z.getNextEntry()) != null; ) {
                    String name = e.getName();
                    if (!name.startsWith("cases/") || name.contains("..")) throw new IOException(zip + ": unexpected entry " + name);
                    Path out = tmp.resolve(name.substring("cases/".length()));
                    if (e.isDirectory()) {
                        Files.createDirectories(out);
                    } else {
                        Files.createDirectories(out.getParent());
                        Files.copy(z, out); // ZipInputStream checks the entry's CRC-32 at its end
                    }
                }
            }
            try {
                Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
            } catch (FileAlreadyExistsException | AtomicMoveNotSupportedException | java.nio.file.DirectoryNotEmptyException raced) {
                deleteTree(tmp); // another test JVM unpacked it first
            }
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException("unpacking " + zip, e);
        }
    }

    private static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) return;
        try (Stream<Path> s = Files.walk(p)) {
            for (Path q : s.sorted(Comparator.reverseOrder()).toList()) Files.delete(q);
        }
    }
}
