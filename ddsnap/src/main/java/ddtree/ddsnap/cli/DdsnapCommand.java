package ddtree.ddsnap.cli;

import ddtree.ddlink.ControlException;
import ddtree.ddlink.DdlinkClient;
import ddtree.ddlink.Protocol;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.IVersionProvider;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * {@code ddsnap}: snapshots of ddtree volumes, over the daemon's control socket. Exit codes as
 * ddsetup's: 0 done, 1 refused (why, on stderr), 2 usage error, 3 the daemon cannot be reached.
 */
@Command(
        name = "ddsnap",
        mixinStandardHelpOptions = true,
        versionProvider = DdsnapCommand.Version.class,
        sortOptions = false,
        usageHelpAutoWidth = true,
        description = "Volumes whose snapshots share one store: create, delete, list, revert, and replicate them as deltas.",
        subcommands = {Verbs.Init.class, Verbs.Create.class, Verbs.Delete.class, Verbs.ListVerb.class,
            Verbs.Status.class, Verbs.Revert.class, Verbs.Priority.class, Verbs.Delta.class,
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
    public static final int OK = 0;
    public static final int REFUSED = 1;
    public static final int USAGE = 2;
    public static final int UNREACHABLE = 3;
    static final String DEFAULT_CONTROL = "./var/control.sock";

    @Spec
    CommandSpec spec;

    @Option(names = "--control", paramLabel = "PATH", scope = ScopeType.INHERIT,
            description = "The daemon's control socket (default: $DDTREE_CONTROL, else " + DEFAULT_CONTROL + ").")
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
        CommandLine cmd = new CommandLine(new DdsnapCommand(env, stdin, stdout));
        cmd.setParameterExceptionHandler(DdsnapCommand::usageError);
        return cmd;
    }

    private static int usageError(ParameterException ex, String[] args) {
        CommandLine cmd = ex.getCommandLine();
        PrintWriter err = cmd.getErr();
        err.println("ddsnap: " + ex.getMessage());
        UnmatchedArgumentException.printSuggestions(ex, err);
        err.println("Try '" + cmd.getCommandSpec().qualifiedName() + " --help' for more information.");
        err.flush();
        return USAGE;
    }

    Path controlPath() {
        String p = control != null ? control : env.getOrDefault("DDTREE_CONTROL", "");
        if (p.isEmpty()) {
            p = DEFAULT_CONTROL;
        }
        try {
            return Path.of(p);
        } catch (InvalidPathException e) {
            throw new ParameterException(spec.commandLine(), "--control " + p + ": " + e.getReason());
        }
    }

    /** What a verb does with a connected client. */
    @FunctionalInterface
    interface Call {
        void run(DdlinkClient client, PrintWriter out) throws IOException, ControlException;
    }

    /** Connects, runs {@code call}, and turns the outcome into an exit code with a message on stderr. */
    int call(CommandLine verb, Call call) {
        Path socket = controlPath();
        PrintWriter err = verb.getErr();
        DdlinkClient client;
        try {
            client = DdlinkClient.connect(socket, "ddsnap");
        } catch (IOException e) {
            err.println("ddsnap: cannot reach the daemon at " + socket + ": " + reason(e)
                    + " (is 'ddtree serve' running? --control or DDTREE_CONTROL name its socket)");
            err.flush();
            return UNREACHABLE;
        }
        PrintWriter out = verb.getOut();
        try (client) {
            call.run(client, out);
            out.flush();
            return OK;
        } catch (ControlException e) {
            out.flush();
            err.println("ddsnap: " + e.getMessage());
            err.flush();
            return REFUSED;
        } catch (IOException e) {
            out.flush();
            err.println("ddsnap: " + reason(e));
            err.flush();
            return e instanceof Verbs.LocalException ? REFUSED : UNREACHABLE;
        }
    }

    private static String reason(IOException e) {
        String m = e.getMessage();
        if (e instanceof java.net.SocketException && m != null && m.contains("No such file")) {
            return "no socket there";
        }
        return m != null ? m : e.toString();
    }

    /** The version Maven stamped into the jar. */
    public static final class Version implements IVersionProvider {
        @Override
        public String[] getVersion() {
            Properties p = new Properties();
            try (InputStream in = DdsnapCommand.class.getResourceAsStream("version.properties")) {
                if (in != null) {
                    p.load(in);
                }
            } catch (IOException e) {
                // fall through to "unknown"
            }
            String v = p.getProperty("version", "");
            return new String[] {"ddsnap " + (v.isEmpty() || v.startsWith("${") ? "unknown" : v) + " (ddlink protocol "
                    + Protocol.VERSION + ")"};
        }
    }
}
