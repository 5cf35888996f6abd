package dev.onestep.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The `onestep` command line: depth, normals, marigold, eval, info, bench. */
@Command(name = "onestep", mixinStandardHelpOptions = true, versionProvider = Main.VersionProvider.class,
        description = "One-step diffusion depth and surface normals (E2E-FT Marigold / Stable Diffusion 2), in Java.",
        subcommands = {DepthCommand.class, NormalsCommand.class, MarigoldCommand.class, EvalCommand.class, InfoCommand.class, BenchCommand.class})
public final class Main implements Runnable {
    /** "OneStep VERSION (commit …)", the library's {@link dev.onestep.OneStep#version()}. */
    static final class VersionProvider implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() { return new String[] {"OneStep " + dev.onestep.OneStep.version()}; }
    }

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "a command is required (depth, normals, marigold, eval, info, bench)");
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the CLI and returns its exit code (0 success, 1 failure, 2 usage error); tests call this. */
    public static int run(String... args) {
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler((e, cmd, parse) -> {
            cmd.getErr().println("onestep: " + message(e));
            if (System.getenv("ONESTEP_DEBUG") != null) e.printStackTrace(cmd.getErr());
            return 1;
        });
        try {
            return cl.execute(args);
        } catch (OutOfMemoryError e) {
            cl.getErr().println("onestep: " + message(e));
            return 1;
        }
    }

    static String message(Throwable e) {
        if (e instanceof OutOfMemoryError)
            return "out of memory (" + e.getMessage() + "): use a lower --processing-res, or give the JVM more memory "
                    + "with ONESTEP_JAVA_OPTS=-Xmx…";
        String m = e.getMessage();
        return m != null && !m.isBlank() ? m : "an internal error with no message (a bug: please report it; ONESTEP_DEBUG=1 prints its stack trace)";
    }
}
