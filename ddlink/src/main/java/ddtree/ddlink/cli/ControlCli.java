package ddtree.ddlink.cli;

import ddtree.ddlink.ControlException;
import ddtree.ddlink.DdlinkClient;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.net.SocketException;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import java.util.function.BiFunction;
import picocli.CommandLine;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * The plumbing of a command line that talks to the daemon over its control socket, so that
 * {@code ddsetup} and {@code ddsnap} report errors and exit alike: 0 done, 1 refused (why, on
 * stderr), 2 usage error, 3 the daemon cannot be reached. Every message starts with the program's
 * name, as {@code ddsetup: ...}.
 */
public final class ControlCli {
    public static final int OK = 0;
    public static final int REFUSED = 1;
    public static final int USAGE = 2;
    public static final int UNREACHABLE = 3;
    /** Where {@code ddtree serve} puts the socket when run from the same directory. */
    public static final String DEFAULT_CONTROL = "./var/control.sock";

    private final String program;
    private final BiFunction<Path, String, String> lost;

    /**
     * @param program the name messages start with
     * @param lost the message for an I/O failure after connecting, from the socket and the reason:
     *     ddsetup's verbs only talk to the daemon, so it names the daemon; ddsnap's also read and
     *     write streams, so it gives the reason alone
     */
    public ControlCli(String program, BiFunction<Path, String, String> lost) {
        this.program = program;
        this.lost = lost;
    }

    /** What a verb does with a connected client; {@code out} is the verb's standard output. */
    @FunctionalInterface
    public interface Call {
        void run(DdlinkClient client, PrintWriter out) throws IOException, ControlException;
    }

    /**
     * A failure on this side, before or without the daemon (a file that cannot be read, a bad
     * option value found late): exit code 1 like a refusal, as the daemon is not at fault.
     */
    public static final class LocalFailure extends IOException {
        public LocalFailure(String message) {
            super(message);
        }
    }

    /** {@code command}'s command line, with this program's usage errors. */
    public CommandLine commandLine(Object command) {
        CommandLine cmd = new CommandLine(command);
        cmd.setParameterExceptionHandler(this::usageError);
        return cmd;
    }

    private int usageError(ParameterException ex, String[] args) {
        CommandLine cmd = ex.getCommandLine();
        PrintWriter err = cmd.getErr();
        err.println(program + ": " + ex.getMessage());
        UnmatchedArgumentException.printSuggestions(ex, err);
        err.println("Try '" + cmd.getCommandSpec().qualifiedName() + " --help' for more information.");
        err.flush();
        return USAGE;
    }

    /**
     * Where the control socket is: {@code control} (the --control option), else
     * $DDTREE_CONTROL, else the serve default. A path that is no path is a usage error of
     * {@code cmd}.
     */
    public static Path controlPath(CommandLine cmd, String control, Map<String, String> env) {
        String p = control != null ? control : env.getOrDefault("DDTREE_CONTROL", "");
        if (p.isEmpty()) {
            p = DEFAULT_CONTROL;
        }
        try {
            return Path.of(p);
        } catch (InvalidPathException e) {
            throw new ParameterException(cmd, "--control " + p + ": " + e.getReason());
        }
    }

    /** Connects to {@code socket}, runs {@code call}, and turns the outcome into an exit code, why on stderr. */
    public int call(CommandLine verb, Path socket, Call call) {
        PrintWriter err = verb.getErr();
        DdlinkClient client;
        try {
            client = DdlinkClient.connect(socket, program);
        } catch (IOException e) {
            return fail(err, "cannot reach the daemon at " + socket + ": " + reason(e)
                    + " (is 'ddtree serve' running? --control or DDTREE_CONTROL name its socket)", UNREACHABLE);
        }
        PrintWriter out = verb.getOut();
        try (client) {
            call.run(client, out);
            out.flush();
            return OK;
        } catch (ControlException e) {
            out.flush();
            return fail(err, e.getMessage(), REFUSED);
        } catch (LocalFailure e) {
            out.flush();
            return fail(err, reason(e), REFUSED);
        } catch (IOException e) {
            out.flush();
            return fail(err, lost.apply(socket, reason(e)), UNREACHABLE);
        }
    }

    private int fail(PrintWriter err, String message, int code) {
        err.println(program + ": " + message);
        err.flush();
        return code;
    }

    private static String reason(IOException e) {
        String m = e.getMessage();
        if (e instanceof SocketException && m != null && m.contains("No such file")) {
            return "no socket there";
        }
        return m != null ? m : e.toString();
    }

    /** The version Maven stamped into {@code anchor}'s jar (version.properties beside it), or "unknown". */
    public static String version(Class<?> anchor) {
        Properties p = new Properties();
        try (InputStream in = anchor.getResourceAsStream("version.properties")) {
            if (in != null) {
                p.load(in);
            }
        } catch (IOException e) {
            // fall through to "unknown"
        }
        String v = p.getProperty("version", "");
        return v.isEmpty() || v.startsWith("${") ? "unknown" : v;
    }
}
