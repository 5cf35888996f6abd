package dev.onestep.pipeline;

import dev.onestep.backend.Backend;
import dev.onestep.io.AtomicFiles;
import dev.onestep.io.Npy;
import dev.onestep.model.ActivationHook;
import dev.onestep.tensor.Layouts;
import dev.onestep.tensor.Tensor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Writes every recorded activation as float32 .npy under a folder, in the fixtures' layout and names
 * (NCHW; "unet/down_blocks.0" → DIR/activations/unet/down_blocks.0.npy), for --dump and mismatch hunting.
 */
public final class DumpHook implements ActivationHook {
    private final Backend backend;
    private final Path dir;

    public DumpHook(Backend backend, Path dir) {
        this.backend = backend;
        this.dir = dir;
    }

    /** The folder the stage tensors go to (activations go under its activations/ subfolder). */
    public Path dir() { return dir; }

    @Override
    public void record(String name, Tensor activation) {
        write(dir.resolve("activations").resolve(name + ".npy"), activation);
    }

    /** Writes a stage tensor (e.g. "rgb_latent") as DIR/name.npy in NCHW. */
    public void stage(String name, Tensor activation) {
        write(dir.resolve(name + ".npy"), activation);
    }

    private void write(Path file, Tensor t) {
        try (Tensor host = backend.download(t); Tensor nchw = Layouts.toNchw(host)) {
            Files.createDirectories(file.getParent());
            float[] values = nchw.toFloatArray();
            AtomicFiles.write(file, out -> Npy.write(out, values, nchw.shape()));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }
}
