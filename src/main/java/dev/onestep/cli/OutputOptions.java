package dev.onestep.cli;

import dev.onestep.backend.Backend;
import dev.onestep.pipeline.DumpHook;
import dev.onestep.Task;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

/** Where results go and how much is said: -o, --format, --dump, -q (a mixin of `depth`, `normals` and `marigold`). */
final class OutputOptions {
    @Spec(Spec.Target.MIXEE)
    CommandSpec spec;

    @Option(names = {"-o", "--output"}, defaultValue = "out", paramLabel = "OUT_DIR", descriptionKey = "output",
            description = "output folder (default: ${DEFAULT-VALUE})")
    Path outDir;

    @Option(names = "--format", paramLabel = "LIST", split = ",", descriptionKey = "format",
            description = "outputs: depth npy,png16 (or png: the same 16-bit map),color; normals npy,png (default: all of the task's)")
    List<String> formats;

    @Option(names = "--colormap", defaultValue = "Spectral", paramLabel = "NAME", descriptionKey = "colormap",
            description = "colour map of the depth color PNG, as matplotlib names it: Spectral, gray, binary, viridis, magma, turbo (default: ${DEFAULT-VALUE})")
    String colormap;

    @Option(names = "--output-processing-res", descriptionKey = "output-processing-res",
            description = "write maps at the processing resolution (the decoder's size) instead of the input's (run.py's --output_processing_res)")
    boolean atProcessingRes;

    @Option(names = "--renormalize-normals", descriptionKey = "renormalize-normals",
            description = "re-normalise normals to unit length after the resize back, as diffusers does (E2E-FT does not: off by default)")
    boolean renormalizeNormals;

    @Option(names = "--dump", paramLabel = "DIR", descriptionKey = "dump",
            description = "write every stage and intermediate activation as .npy (fixture names, NCHW) under DIR")
    Path dump;

    @Option(names = {"-q", "--quiet"}, descriptionKey = "quiet", description = "print errors only")
    boolean quiet;

    /** Where maps end (--output-processing-res, --renormalize-normals). */
    dev.onestep.pipeline.PostProcess.Output mapOutput() {
        return new dev.onestep.pipeline.PostProcess.Output(!atProcessingRes, renormalizeNormals);
    }

    /** The --colormap table; a name matplotlib does not know here is a usage error naming the choices. */
    dev.onestep.image.ColorLut colorLut() {
        try {
            return dev.onestep.image.ColorLut.named(colormap);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), "--colormap: " + e.getMessage());
        }
    }

    /** The --format list checked against the task (all of its formats when not given); a wrong one is a usage error. */
    Set<String> formats(Task task) {
        try {
            return OutputFiles.formats(task, formats);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
    }

    /** Creates the output folder, or says plainly why it cannot be used. */
    void prepareFolder() throws IOException {
        if (Files.exists(outDir) && !Files.isDirectory(outDir))
            throw new IOException("output folder " + outDir + " is a file, not a folder");
        try {
            Files.createDirectories(outDir);
        } catch (IOException e) {
            throw new IOException("cannot create the output folder " + outDir + ": " + e.getMessage(), e);
        }
        if (!Files.isWritable(outDir)) throw new IOException("output folder " + outDir + " is not writable");
    }

    /** Creates the folders a stem names below OUT_DIR (--keep-tree's a/b/x), if any. */
    void prepareSubfolder(String stem) throws IOException {
        Path parent = outDir.resolve(stem).getParent();
        if (parent != null && !parent.equals(outDir)) Files.createDirectories(parent);
    }

    /** The --dump hook for one image (null without --dump): DIR itself for a single input, else DIR/STEM. */
    DumpHook dumpHook(Backend backend, int inputs, String stem) {
        return dump == null ? null : new DumpHook(backend, inputs == 1 ? dump : dump.resolve(stem));
    }
}
