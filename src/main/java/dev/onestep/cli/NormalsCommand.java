package dev.onestep.cli;

import dev.onestep.Task;
import picocli.CommandLine.Command;

/** `onestep normals`: surface-normal maps. */
@Command(name = "normals", mixinStandardHelpOptions = true,
        description = "Predict surface-normal maps (camera-facing = +Z, floor = +Y) with one forward pass.")
final class NormalsCommand extends PredictCommand {
    NormalsCommand() { super(Task.NORMALS, "GonzaloMG/marigold-e2e-ft-normals"); }
}
