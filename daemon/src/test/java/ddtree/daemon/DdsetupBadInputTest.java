package ddtree.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Bad requests through ddsetup, each with the exact message and exit code it must give, against
 * one daemon; afterwards the daemon's devices are exactly as they were, and no lower file is left
 * open by a table that was refused halfway.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(120)
class DdsetupBadInputTest {
    @TempDir
    static Path dir;

    Daemon daemon;
    DdsetupCli cli;
    Path file;
    String before;

    /** One bad call: the arguments after {@code ddsetup}, the exit code, and stderr exactly. */
    record Case(List<String> args, int code, String err) {
        @Override
        public String toString() {
            return String.join(" ", args);
        }
    }

    static Case refused(String message, String... args) {
        return new Case(List.of(args), 1, "ddsetup: " + message);
    }

    static Case usage(String message, String... args) {
        return new Case(List.of(args), 2, "ddsetup: " + message);
    }

    @BeforeAll
    void start() throws Exception {
        file = dir.resolve("f.img");
        Files.write(file, new byte[1 << 20]);
        daemon = TestDaemons.start(dir, "r=ram:1M");
        cli = new DdsetupCli(daemon);
        cli.ok("create", "lin", "--table", "0 2048 linear " + file + " 0");
        cli.ok("create", "up", "--table", "0 1024 linear lin 1024");
        cli.ok("create", "fl", "--table", "0 2048 flakey r 0 60 0");
        before = cli.ok("table").out();
    }

    @AfterAll
    void stop() throws Exception {
        if (daemon != null) {
            daemon.close();
        }
    }

    Stream<Case> cases() {
        String f = "FILE";
        List<Case> c = new ArrayList<>();
        // Table syntax and layout.
        c.add(refused("table is empty: a device needs at least one line", "create", "x", "--table", "# only a comment"));
        c.add(refused("table line 1: expected 'start length type [args...]' but found '0 8'", "create", "x", "--table", "0 8"));
        c.add(refused("table line 1: start 'a' is not a number of sectors", "create", "x", "--table", "a 8 zero"));
        c.add(refused("table line 1: length -8 is out of range (0 to 18014398509481983)", "create", "x", "--table", "0 -8 zero"));
        c.add(refused("table line 1: starts at sector 8 but a table must start at sector 0", "create", "x", "--table", "8 8 zero"));
        c.add(refused("table line 2: starts at sector 16 but line 1 ends at 8 (gap)", "create", "x", "--table", "0 8 zero\\n16 8 zero"));
        c.add(refused("table line 2: starts at sector 4 but line 1 ends at 8 (overlap)", "create", "x", "--table", "0 8 zero\\n4 8 zero"));
        c.add(refused("table line 1: length is 0 sectors; a target needs at least one", "create", "x", "--table", "0 0 zero"));
        c.add(refused("table line 1: unknown target type 'frob'", "create", "x", "--table", "0 8 frob"));
        // Target arguments.
        c.add(refused("table line 1: linear: expects 2 arguments (<dev> <offset>) but got 1: '/x'", "create", "x", "--table", "0 8 linear /x"));
        c.add(refused("table line 1: linear: no device named 'nosuch' (devices: r, lin, up, fl); a file needs a path with a '/'",
                "create", "x", "--table", "0 8 linear nosuch 0"));
        c.add(refused("table line 1: linear: file /no/such/file does not exist", "create", "x", "--table", "0 8 linear /no/such/file 0"));
        c.add(refused("table line 1: linear: r offset 0 + length 4096 sectors is past its end (2048 sectors)",
                "create", "x", "--table", "0 4096 linear r 0"));
        c.add(refused("table line 1: linear: r offset 2045 + length 8 sectors is past its end (2048 sectors)",
                "create", "x", "--table", "0 8 linear r 2045"));
        c.add(refused("table line 1: linear: offset 'x' is not a number of sectors", "create", "x", "--table", "0 8 linear r x"));
        c.add(refused("table line 1: striped: chunk size 3 is not a power of two", "create", "x", "--table", "0 16 striped 2 3 r 0 lin 0"));
        c.add(refused("table line 1: striped: 2 stripes need 6 arguments (<#stripes> <chunk sectors> and a <dev> <offset> pair per stripe) but got 4",
                "create", "x", "--table", "0 16 striped 2 8 r 0"));
        c.add(refused("table line 1: striped: length 20 sectors is not divisible by chunk size 8 x 2 stripes (16 sectors)",
                "create", "x", "--table", "0 20 striped 2 8 r 0 lin 0"));
        c.add(refused("table line 1: zero: expects 0 arguments but got 1: '1'", "create", "x", "--table", "0 8 zero 1"));
        c.add(refused("table line 1: ram: expects 0 arguments but got 1: '64M'", "create", "x", "--table", "0 8 ram 64M"));
        c.add(refused("table line 1: flakey: up interval 'soon' is not a number of seconds", "create", "x", "--table", "0 8 flakey r 0 soon 1"));
        c.add(refused("table line 1: delay: delay -1 is out of range (0 to 86400000)", "create", "x", "--table", "0 8 delay r 0 -1"));
        c.add(refused("table line 1: nbd: address 'nohostport' is not <host:port>", "create", "x", "--table", "0 8 nbd nohostport e"));
        // Names and stacking.
        c.add(refused("create: device 'r' already exists", "create", "r", "--table", "0 8 zero"));
        c.add(refused("create: bad device name 'a/b' (use up to 128 letters, digits, '.', '_', '-' or '@', starting with a letter or digit)",
                "create", "a/b", "--table", "0 8 zero"));
        c.add(refused("no device named 'nosuch'", "remove", "nosuch"));
        c.add(refused("remove: device 'lin' is in use: up stacks on it (remove it first, or use --force)", "remove", "lin"));
        c.add(refused("table line 1: linear: device 'r' cannot stack on itself", "reload", "r", "--table", "0 8 linear r 0"));
        c.add(refused("table line 1: linear: stacking cycle: lin -> up -> lin", "reload", "lin", "--table", "0 8 linear up 0"));
        c.add(refused("rename: device 'lin' has up stacked on it by name (reload it without it first)", "rename", "lin", "lin2"));
        c.add(refused("rename: device 'up' already exists", "rename", "r", "up"));
        c.add(refused("rename: bad device name 'a:b' (use up to 128 letters, digits, '.', '_', '-' or '@', starting with a letter or digit)",
                "rename", "r", "a:b"));
        // Messages, exports, other verbs.
        c.add(refused("message: sector 99999 is outside device r (2048 sectors)", "message", "r", "99999", "hello"));
        c.add(refused("message: sector 0: flakey: unknown message 'sideways' (expected down, up or cycle)", "message", "fl", "0", "sideways"));
        c.add(refused("message: sector 0: ram: the target takes no messages, so 'hello' was refused", "message", "r", "0", "hello"));
        c.add(refused("export: device 'r' is already exported as 'r' (unexport it first)", "export", "r"));
        c.add(refused("export: export name 'r' is taken by device 'r'", "export", "lin", "--as", "r"));
        c.add(refused("unexport: device 'lin' is not exported", "unexport", "lin"));
        c.add(refused("no device named 'nosuch'", "suspend", "nosuch"));
        c.add(refused("no device named 'nosuch'", "info", "nosuch"));
        c.add(refused("no device named 'nosuch'", "table", "nosuch"));
        // Usage errors never reach the daemon.
        c.add(usage("Missing required parameter: 'NAME'", "create"));
        c.add(usage("Unmatched argument at index 2: 'frob'", "frob"));
        c.add(usage("Invalid value for positional parameter at index 1 (SECTOR): 'x' is not a long", "message", "r", "x", "down"));
        c.add(usage("give the table with --table or as a file, not both", "create", "x", "--table", "0 8 zero", "t.txt"));
        c.add(usage("table file /no/such/table does not exist", "create", "x", "/no/such/table"));
        c.add(usage("Missing required parameter: 'TEXT'", "message", "r", "0"));
        return c.stream().map(k -> new Case(k.args().stream().map(a -> a.replace(f, file.toString())).toList(), k.code(), k.err()));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void refusedWithTheExactMessage(Case c) {
        DdsetupCli.Result r = cli.run(c.args().toArray(String[]::new));
        assertThat(r.code()).as(r.toString()).isEqualTo(c.code());
        assertThat(r.err().lines().findFirst().orElse("")).as(r.toString()).isEqualTo(c.err());
        assertThat(r.out()).as(r.toString()).isEmpty();
    }

    @Test
    void thereAreAtLeastThirtyAndNothingChanged() throws Exception {
        assertThat(cases().count()).isGreaterThanOrEqualTo(30);
        for (Case c : cases().toList()) {
            cli.run(c.args().toArray(String[]::new));
        }
        assertThat(cli.ok("table").out()).isEqualTo(before);
        // Only the file 'lin' maps stays open: refused tables gave theirs back.
        assertThat(daemon.registry().openFiles()).isEqualTo(1);
    }
}
