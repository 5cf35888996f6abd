package dev.onestep.cli;

import dev.onestep.backend.Backend;
import dev.onestep.backend.Backends;
import dev.onestep.io.ModelFolder;
import dev.onestep.io.hub.DownloadListener;
import dev.onestep.tensor.DType;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

import java.util.function.Consumer;

/**
 * How a command loads and runs its model: --variant, --revision, --offline ({@link HubOptions}), --device, --dtype
 * (a picocli mixin of `depth`, `normals`, `marigold` and `eval`). --model itself stays with each command: its default (and whether it is
 * required) differs. A command may reword a description through its resource bundle (the option's
 * descriptionKey); names and defaults are the same everywhere.
 */
final class ModelOptions {
    @Spec(Spec.Target.MIXEE)
    CommandSpec spec;

    @Option(names = "--variant", paramLabel = "fp16|bf16", descriptionKey = "variant",
            description = "weight files to load (e.g. *.fp16.safetensors)")
    String variant;

    @Mixin
    HubOptions hubOptions;

    @Option(names = "--device", defaultValue = "auto", paramLabel = "auto|cpu|cuda", descriptionKey = "device",
            description = "compute device (default: ${DEFAULT-VALUE})")
    String device;

    @Option(names = "--dtype", defaultValue = "fp32", paramLabel = "fp32|bf16|fp16", descriptionKey = "dtype",
            description = "compute precision (default: ${DEFAULT-VALUE})")
    String dtype;

    @Option(names = "--no-weight-check", descriptionKey = "no-weight-check",
            description = "skip the scan of the weights for NaN/Inf at load (on by default: a corrupt checkpoint is refused by tensor name)")
    boolean noWeightCheck;

    /** Whether the weights are scanned for NaN/Inf at load (not --no-weight-check). */
    boolean weightCheck() { return !noWeightCheck; }

    /** The --dtype value; an unknown one is a usage error. */
    DType computeType() {
        try {
            return DType.parseCompute(dtype);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), "--dtype: " + e.getMessage());
        }
    }

    /** The model folder for a path or hub id (cached, else downloaded unless offline) at --revision, opened in --variant. */
    ModelFolder open(String modelOrId, DownloadListener listener) {
        return ModelFolder.open(hubOptions.locate(modelOrId, variant, listener).dir(), variant);
    }

    /** The compute backend for --device and --dtype; {@code log} gets its start-up lines and the CPU's fp32 note. */
    Backend backend(Consumer<String> log) {
        return Backends.create(device, computeType(), log); // it says, once, when the CPU computes in fp32 instead
    }
}
