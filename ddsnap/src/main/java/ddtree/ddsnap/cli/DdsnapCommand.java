package ddtree.ddsnap.cli;

import ddtree.ddlink.Protocol;
import ddtree.ddlink.cli.ControlCli;
import java.io.InputStream;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.IVersionProvider;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;

/**
 * {@code ddsnap}: snapshots of ddtree volumes, over the daemon's control socket. Exit codes as
 * ddsetup's, from {@link ControlCli}: 0 done, 1 refused or failed on this side (why, on stderr),
 * 2 usage error, 3 the daemon cannot be reached.
 */
@Command(
        name = "ddsnap",
        mixinStandardHelpOptions = true,
        versionProvider = DdsnapCommand.Version.class,
        sortOptions = false,
        usageHelpAutoWidth = true,
        description = "Volumes whose snapshots share one store: create, delete, list, revert, and replicate them as deltas.",
        subcommands = {Verbs.Init.class, Verbs.Create.class, Verbs.Delete.class, Verbs.ListVerb.class,
            Verbs.Status.class, Verbs.Revert.class, Verbs.Priority.class, Verbs.Reopen.class, Verbs.Delta.class,
            CommandLine.HelpCommand.class},
        footer = {
            "",
            "Exit codes: 0 done, 1 refused by the daemon, 2 usage error, 3 the daemon cannot be reached.",
            "Examples:",
            "  ddsnap init vm1 --origin file:/srv/vm1.img:20G --store file:/srv/vm1.snap:10G",
            "  ddsnap create vm1 monday          # exported read-only as vm1@monday",
            "  ddsnap list vm1",
            "  ddsnap delta create vm1 monday tuesday | ssh backup ddsnap delta apply vm1",
        })
public final class DdsnapCommand implements Runnable {
    /**
     * The verbs also read and write files and streams: a failure there is a
     * {@link ControlCli.LocalFailure} (exit 1), and any other I/O failure gives its reason alone.
     */
    private static final ControlCli CLI = new ControlCli("ddsnap", (socket, reason) -> reason);

    @Spec
    CommandSpec spec;

    @Option(names = "--control", paramLabel = "PATH", scope = ScopeType.INHERIT,
            description = "The daemon's control socket (default: $DDTREE_CONTROL, else " + ControlCli.DEFAULT_CONTROL + ").")
    String control;

    final Map<String, String> env;
    final InputStream stdin;
    final java.io.OutputStream stdout;

    DdsnapCommand(Map<String, String> env, InputStream stdin, java.io.OutputStream stdout) {
        this.env = env;
        this.stdin = stdin;
        this.stdout = stdout;
    }

    @Override
    public void run() {
        throw new ParameterException(spec.commandLine(), "missing verb (try 'ddsnap list VOLUME' or 'ddsnap --help')");
    }

    public static void main(String[] args) {
        // Binary output (a delta stream) goes straight to file descriptor 1: System.out, a
        // PrintStream, would swallow a full disk or a closed pipe and let the command claim success.
        System.exit(commandLine(System.getenv(), System.in, new java.io.FileOutputStream(java.io.FileDescriptor.out))
                .execute(args));
    }

    /** The command line with ddsnap's error reporting and exit codes. */
    public static CommandLine commandLine(Map<String, String> env, InputStream stdin, java.io.OutputStream stdout) {
        return CLI.commandLine(new DdsnapCommand(env, stdin, stdout));
    }

    /** Connects, runs {@code call}, and turns the outcome into an exit code with a message on stderr. */
    int call(CommandLine verb, ControlCli.Call call) {
        return CLI.call(verb, ControlCli.controlPath(spec.commandLine(), control, env), call);
    }

    /** The version Maven stamped into the jar. */
    public static final class Version implements IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"ddsnap " + ControlCli.version(DdsnapCommand.class) + " (ddlink protocol "
                    + Protocol.VERSION + ")"};
        }
    }
}
