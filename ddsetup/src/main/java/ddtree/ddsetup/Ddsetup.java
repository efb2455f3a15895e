package ddtree.ddsetup;

import ddtree.ddlink.ControlException;
import ddtree.ddlink.DdlinkClient;
import ddtree.ddlink.cli.ControlCli;
import java.io.IOException;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;

/**
 * {@code ddsetup}: dmsetup for ddtree, talking to the daemon over its control socket. Exit
 * codes scripts can rely on, as {@link ControlCli}'s: 0 done, 1 the daemon refused the request
 * (why, on stderr), 2 a usage error, 3 the daemon cannot be reached.
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
    /** Every verb only talks to the daemon, so any I/O failure after connecting is losing it. */
    private static final ControlCli CLI =
            new ControlCli("ddsetup", (socket, reason) -> "lost the daemon at " + socket + ": " + reason);

    @Spec
    CommandSpec spec;

    @Option(names = "--control", paramLabel = "PATH", scope = ScopeType.INHERIT,
            description = "The daemon's control socket (default: $DDTREE_CONTROL, else " + ControlCli.DEFAULT_CONTROL + ").")
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
        return CLI.commandLine(new Ddsetup(env, stdin));
    }

    /** One call to the daemon: what a verb does with a connected client. */
    @FunctionalInterface
    interface Call {
        void run(DdlinkClient client, Printer out) throws IOException, ControlException;
    }

    /** Connects, runs {@code call} with the verb's output as --json asks, and returns the exit code. */
    int call(CommandLine verb, Call call) {
        return CLI.call(verb, ControlCli.controlPath(spec.commandLine(), control, env),
                (client, out) -> call.run(client, new Printer(out, json)));
    }
}
