package ddtree.ddsetup;

import ddtree.ddlink.ControlException;
import ddtree.ddlink.DdlinkClient;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * {@code ddsetup}: dmsetup for ddtree, talking to the daemon over its control socket. Exit
 * codes scripts can rely on: 0 done, 1 the daemon refused the request (why, on stderr), 2 a
 * usage error, 3 the daemon cannot be reached.
 */
@Command(
        name = "ddsetup",
        mixinStandardHelpOptions = true,
        versionProvider = Version.class,
        sortOptions = false,
        usageHelpAutoWidth = true,
        description = "Builds, changes and exports ddtree devices, as dmsetup does for device-mapper.",
        subcommands = {Verbs.Create.class, Verbs.Remove.class, Verbs.Ls.class, Verbs.Table.class, Verbs.Status.class,
            Verbs.Info.class, Verbs.Deps.class, Verbs.Suspend.class, Verbs.Resume.class, Verbs.Reload.class,
            Verbs.Clear.class, Verbs.Rename.class, Verbs.Message.class, Verbs.Targets.class, Verbs.VersionVerb.class,
            Verbs.Export.class, Verbs.Unexport.class, CommandLine.HelpCommand.class},
        footer = {
            "",
            "Exit codes: 0 done, 1 refused by the daemon, 2 usage error, 3 the daemon cannot be reached.",
            "Tables are dmsetup's: 'start length type args...' in 512-byte sectors, one line per target.",
            "Examples:",
            "  ddsetup create fast --table '0 2097152 striped 2 128 /srv/a.img 0 /srv/b.img 0'",
            "  ddsetup create part --table '0 204800 linear fast 2048'",
            "  ddsetup export part --as vm1",
            "  ddsetup ls --tree",
        })
public final class Ddsetup implements Runnable {
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

    @Option(names = "--json", scope = ScopeType.INHERIT, description = "Print the daemon's answer as JSON, for scripts.")
    boolean json;

    private final Map<String, String> env;
    final java.io.InputStream stdin;

    Ddsetup(Map<String, String> env, java.io.InputStream stdin) {
        this.env = env;
        this.stdin = stdin;
    }

    @Override
    public void run() {
        throw new ParameterException(spec.commandLine(), "missing verb (try 'ddsetup ls' or 'ddsetup --help')");
    }

    public static void main(String[] args) {
        System.exit(commandLine(System.getenv(), System.in).execute(args));
    }

    /** The command line with ddsetup's error reporting and exit codes. */
    public static CommandLine commandLine(Map<String, String> env, java.io.InputStream stdin) {
        CommandLine cmd = new CommandLine(new Ddsetup(env, stdin));
        cmd.setParameterExceptionHandler(Ddsetup::usageError);
        return cmd;
    }

    private static int usageError(ParameterException ex, String[] args) {
        CommandLine cmd = ex.getCommandLine();
        PrintWriter err = cmd.getErr();
        err.println("ddsetup: " + ex.getMessage());
        UnmatchedArgumentException.printSuggestions(ex, err);
        err.println("Try '" + cmd.getCommandSpec().qualifiedName() + " --help' for more information.");
        err.flush();
        return USAGE;
    }

    /** Where the control socket is: --control, else $DDTREE_CONTROL, else the serve default. */
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

    /** One call to the daemon: what a verb does with a connected client. */
    @FunctionalInterface
    interface Call {
        void run(DdlinkClient client, Printer out) throws IOException, ControlException;
    }

    /** Connects, runs {@code call}, and turns the outcome into an exit code with a message on stderr. */
    int call(CommandLine verb, Call call) {
        Path socket = controlPath();
        PrintWriter err = verb.getErr();
        DdlinkClient client;
        try {
            client = DdlinkClient.connect(socket, "ddsetup");
        } catch (IOException e) {
            err.println("ddsetup: cannot reach the daemon at " + socket + ": " + reason(e)
                    + " (is 'ddtree serve' running? --control or DDTREE_CONTROL name its socket)");
            err.flush();
            return UNREACHABLE;
        }
        Printer out = new Printer(verb.getOut(), json);
        try (client) {
            call.run(client, out);
            out.flush();
            return OK;
        } catch (ControlException e) {
            out.flush();
            err.println("ddsetup: " + e.getMessage());
            err.flush();
            return REFUSED;
        } catch (IOException e) {
            out.flush();
            err.println("ddsetup: lost the daemon at " + socket + ": " + reason(e));
            err.flush();
            return UNREACHABLE;
        }
    }

    private static String reason(IOException e) {
        String m = e.getMessage();
        if (e instanceof java.net.SocketException && m != null && m.contains("No such file")) {
            return "no socket there";
        }
        return m != null ? m : e.toString();
    }
}
