package ddtree.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import ddtree.ddlink.Json;
import ddtree.ddsetup.Ddsetup;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Runs ddsetup in-process against a daemon's control socket, as a user would on the command line. */
final class DdsetupCli {
    record Result(List<String> args, int code, String out, String err) {
        Result ok() {
            assertThat(code).as(this.toString()).isZero();
            assertThat(err).as(this.toString()).isEmpty();
            return this;
        }

        JsonNode json() {
            try {
                return Json.MAPPER.readTree(out);
            } catch (IOException e) {
                throw new AssertionError("not JSON: " + out, e);
            }
        }

        @Override
        public String toString() {
            return "ddsetup " + String.join(" ", args) + "\n  exit " + code + "\n  stdout: " + out.strip() + "\n  stderr: " + err.strip();
        }
    }

    private final Path control;

    DdsetupCli(Path control) {
        this.control = control;
    }

    DdsetupCli(Daemon daemon) {
        this(daemon.controlSocket());
    }

    Result run(String... args) {
        return runWithInput("", args);
    }

    Result runWithInput(String stdin, String... args) {
        List<String> all = new ArrayList<>(List.of("--control", control.toString()));
        all.addAll(List.of(args));
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Ddsetup.commandLine(Map.of(), new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)))
                .setOut(new PrintWriter(out)).setErr(new PrintWriter(err))
                .execute(all.toArray(String[]::new));
        return new Result(List.of(args), code, out.toString(), err.toString());
    }

    /** Runs a verb that must succeed. */
    Result ok(String... args) {
        return run(args).ok();
    }
}
