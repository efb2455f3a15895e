package ddtree.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import ddtree.ddlink.Json;
import ddtree.ddsnap.cli.DdsnapCommand;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Runs ddsnap in-process against a daemon's control socket, as a user would on the command line.
 * Standard output is kept as bytes (a delta stream is binary) and as text.
 */
final class DdsnapCli {
    record Result(List<String> args, int code, byte[] stdout, String out, String err) {
        Result ok() {
            assertThat(code).as(this.toString()).isZero();
            return this;
        }

        JsonNode json() {
            try {
                return Json.MAPPER.readTree(stdout);
            } catch (IOException e) {
                throw new AssertionError("not JSON: " + out, e);
            }
        }

        @Override
        public String toString() {
            return "ddsnap " + String.join(" ", args) + "\n  exit " + code + "\n  stdout: "
                    + (stdout.length > 2000 ? stdout.length + " bytes" : out.strip()) + "\n  stderr: " + err.strip();
        }
    }

    private final Path control;

    DdsnapCli(Daemon daemon) {
        this(daemon.controlSocket());
    }

    /** Against the daemon whose control socket is {@code control} (one in another process, say). */
    DdsnapCli(Path control) {
        this.control = control;
    }

    Result run(String... args) {
        return runWithInput(new byte[0], args);
    }

    /** Runs with {@code stdin} as standard input (a delta stream for {@code delta apply}). */
    Result runWithInput(byte[] stdin, String... args) {
        List<String> all = new ArrayList<>(List.of("--control", control.toString()));
        all.addAll(List.of(args));
        ByteArrayOutputStream raw = new ByteArrayOutputStream();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = DdsnapCommand.commandLine(Map.of(), new ByteArrayInputStream(stdin), raw)
                .setOut(new PrintWriter(out)).setErr(new PrintWriter(err))
                .execute(all.toArray(String[]::new));
        byte[] bytes = raw.size() > 0 ? raw.toByteArray() : out.toString().getBytes(StandardCharsets.UTF_8);
        return new Result(List.of(args), code, bytes, out.toString(), err.toString());
    }

    /** Runs a verb that must succeed. */
    Result ok(String... args) {
        return run(args).ok();
    }
}
