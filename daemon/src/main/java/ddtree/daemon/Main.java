package ddtree.daemon;

import ddtree.ddlink.cli.ControlCli;
import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.IVersionProvider;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * The {@code ddtree} command. Exit codes: 0 done (also after a clean stop by Ctrl-C or SIGTERM),
 * 1 failed while running (for example the address is in use), 2 bad arguments.
 */
@Command(
        name = "ddtree",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = "A storage server: virtual block devices exported over NBD.",
        subcommands = {ServeCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {

    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        throw new ParameterException(spec.commandLine(), "missing command (try 'ddtree serve')");
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the command line and returns the exit code, without exiting. */
    public static int run(String... args) {
        return commandLine().execute(args);
    }

    /** The {@code ddtree} command line with ddtree's error reporting. */
    public static CommandLine commandLine() {
        CommandLine cmd = new CommandLine(new Main());
        cmd.setParameterExceptionHandler(Main::usageError);
        return cmd;
    }

    private static int usageError(ParameterException ex, String[] args) {
        CommandLine cmd = ex.getCommandLine();
        PrintWriter err = cmd.getErr();
        err.println("ddtree: " + ex.getMessage());
        UnmatchedArgumentException.printSuggestions(ex, err);
        err.println("Try '" + cmd.getCommandSpec().qualifiedName() + " --help' for more information.");
        err.flush();
        return cmd.getCommandSpec().exitCodeOnInvalidInput();
    }

    /** The version Maven stamped into the jar. */
    public static final class Version implements IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"ddtree " + version(), "Java " + Runtime.version()};
        }

        static String version() {
            return ControlCli.version(Main.class);
        }
    }
}
