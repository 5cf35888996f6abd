package dev.onestep.io;

import java.nio.file.Path;

/** Opens a weights file of either kind, chosen by its name: a single .safetensors or a sharded index. */
public final class Weights {
    private Weights() {}

    /** {@code *.safetensors.index.json} (or diffusers' variant form {@code *.safetensors.index.fp16.json}) → sharded; {@code *.safetensors} → single file. */
    public static WeightSource openAny(Path file) {
        String name = file.getFileName().toString();
        if (isIndex(name)) return ShardedSafetensors.open(file);
        if (name.endsWith(".safetensors")) return SafetensorsFile.open(file);
        throw new WeightsException(file + ": not a weights file (expected *.safetensors or *.safetensors.index.json)"
                + (name.endsWith(".bin") || name.endsWith(".ckpt") || name.endsWith(".pt")
                ? "; PyTorch pickles are not supported, convert to safetensors" : ""));
    }

    /** True for sharded-index file names. */
    static boolean isIndex(String name) {
        return name.endsWith(".safetensors.index.json") || name.matches(".*\\.safetensors\\.index\\.[A-Za-z0-9_-]+\\.json");
    }
}
