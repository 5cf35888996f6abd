package dev.onestep.cli;

import dev.onestep.Task;
import picocli.CommandLine.Command;

/** `onestep depth`: affine-invariant depth maps. */
@Command(name = "depth", mixinStandardHelpOptions = true,
        description = "Predict depth maps (relative, larger = farther) with one forward pass.")
final class DepthCommand extends PredictCommand {
    DepthCommand() { super(Task.DEPTH, "GonzaloMG/marigold-e2e-ft-depth"); }
}
