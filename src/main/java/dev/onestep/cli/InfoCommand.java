package dev.onestep.cli;

import dev.onestep.io.ModelFolder;
import dev.onestep.io.ModelLocator;
import dev.onestep.io.TensorInfo;
import dev.onestep.io.WeightScan;
import dev.onestep.io.WeightSource;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;

/** `onestep info --model DIR|ORG/NAME[@REV]`: where the model is (and its commit), the components of a model folder, their configs, parameter counts and dtypes. */
@Command(name = "info", mixinStandardHelpOptions = true,
        description = "Print a model folder's components, configs, parameter counts and dtypes.")
final class InfoCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "DIR|ORG/NAME",
            description = "diffusers model folder, or a Hugging Face id, ORG/NAME[@REV] (cache, else downloaded)")
    String model;

    @Option(names = "--variant", paramLabel = "fp16|bf16", description = "weight file variant to inspect")
    String variant;

    @picocli.CommandLine.Mixin
    HubOptions hub;

    @Option(names = "--no-weight-check", description = "skip the scan of every weight for NaN/Inf")
    boolean noWeightCheck;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        ModelLocator.Location where = hub.locate(model, variant, new Progress(spec.commandLine().getErr(), Progress.isTerminal(), false));
        Path dir = where.dir();
        ModelFolder folder = ModelFolder.open(dir, variant);
        out.println("model: " + dir.toAbsolutePath());
        if (where.isHub()) out.println("revision: " + where.repo() + "@" + where.revision() + " = commit " + where.commit());
        String task = dev.onestep.io.TaskHint.guess(dir) instanceof dev.onestep.io.TaskHint.Guess g ? g.task().suffix() + " (" + g.evidence() + ")" : "not stated";
        out.println("task: " + task);
        for (String w : folder.warnings()) out.println("warning: " + w);
        out.println();
        out.println("unet: " + folder.unet());
        boolean finite = component(out, folder, "unet", !noWeightCheck);
        out.println("vae: " + folder.vae());
        finite &= component(out, folder, "vae", !noWeightCheck);
        out.println("text_encoder: " + folder.textEncoder());
        finite &= component(out, folder, "text_encoder", !noWeightCheck);
        out.println("scheduler: " + folder.scheduler());
        out.println("empty prompt token ids: " + java.util.Arrays.toString(folder.emptyPromptTokenIds()));
        out.flush();
        if (!finite) spec.commandLine().getErr().println("onestep: the checkpoint holds non-finite weights (listed above); predictions with it would be NaN");
        return finite ? 0 : 1;
    }

    /** Prints a component's weights summary and, when {@code scan}, its non-finite tensors; false when it has any. */
    private static boolean component(PrintWriter out, ModelFolder folder, String name, boolean scan) {
        try (WeightSource w = folder.openWeights(name)) {
            long params = 0, bytes = 0;
            Map<String, Long> byDtype = new TreeMap<>();
            for (String k : w.keys()) {
                TensorInfo t = w.info(k);
                params += t.numel();
                bytes += t.length();
                byDtype.merge(t.dtype().name(), t.numel(), Long::sum);
            }
            out.printf("  weights: %s%n  tensors: %d, parameters: %,d (%.1f M), %,d bytes, dtypes: %s%n",
                    w.description(), w.keys().size(), params, params / 1e6, bytes, byDtype);
            List<WeightScan.Finding> bad = scan ? WeightScan.scan(w) : List.of();
            if (!scan) out.println("  values: not scanned (--no-weight-check)");
            else if (bad.isEmpty()) out.println("  values: all finite");
            else for (WeightScan.Finding f : bad) out.println("  NON-FINITE: " + f);
            out.println();
            return bad.isEmpty();
        }
    }
}
