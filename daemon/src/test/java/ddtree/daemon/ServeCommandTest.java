package ddtree.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The command line in-process: bad arguments exit 2 with a message naming the problem. */
class ServeCommandTest {
    @TempDir
    Path dir;

    record Run(int code, String out, String err) {}

    static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.commandLine().setOut(new PrintWriter(out)).setErr(new PrintWriter(err)).execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "--device x=ram:12Q|--device x=ram:12Q: size '12Q': unknown suffix 'Q' (use K, M, G or T)",
        "--device disk1=file:|--device disk1=file:: missing path",
        "--device a=ram:1M --device a=ram:2M|device name 'a' is given twice",
        "--device a=ram:1M --read-only b|--read-only b: no such device (devices: a)",
        "--read-only disk1|--read-only disk1: no such device (devices: disk0)",
        "--listen 127.0.0.1|--listen 127.0.0.1: expected HOST:PORT",
        "--listen 127.0.0.1:70000|port 70000 is not between 0 and 65535",
        "--listen [::1:10809|missing ']'",
        "--buffer-budget 16M|--buffer-budget 16.0 MiB is too small",
        "--buffer-budget lots|--buffer-budget lots: size 'lots': not a number",
        "--max-connections 0|--max-connections 0: must be at least 1",
        "--busy-poll -1|--busy-poll -1: must be between 0 and 1000 microseconds",
        "--busy-poll 5000|--busy-poll 5000: must be between 0 and 1000 microseconds",
        "--device d=tape:1M|unknown kind 'tape'",
        "--frobnicate|Unknown option: '--frobnicate'",
        "--control /tmp/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.sock|the absolute path is 120 bytes; a Unix socket path holds at most 107",
    })
    void badArgumentsExit2(String args, String message) {
        Run r = run(prepend("serve", args.split(" ")));
        assertThat(r.code()).as(r.err()).isEqualTo(2);
        assertThat(r.err()).startsWith("ddtree: ").contains(message).contains("ddtree serve --help");
        assertThat(r.out()).isEmpty();
    }

    @Test
    void aMissingFileNeedsASize() {
        Path img = dir.resolve("nope.img");
        Run r = run("serve", "--state", dir.toString(), "--device", "d=file:" + img);
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains(img + " does not exist; give a size to create it (d=file:" + img + ":SIZE)");
    }

    @Test
    void noCommand() {
        Run r = run();
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("missing command");
    }

    @Test
    void helpAndVersion() {
        Run help = run("serve", "--help");
        assertThat(help.code()).isZero();
        assertThat(help.out()).contains("--device", "--read-only", "--listen", "--state", "--buffer-budget",
                "--max-connections", "--busy-poll", "NAME=ram:SIZE", "--control");
        Run version = run("--version");
        assertThat(version.code()).isZero();
        assertThat(version.out()).startsWith("ddtree ");
    }

    static String[] prepend(String first, String[] rest) {
        List<String> all = new ArrayList<>(List.of(first));
        all.addAll(List.of(rest));
        return all.toArray(String[]::new);
    }
}
