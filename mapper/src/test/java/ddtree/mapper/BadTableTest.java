package ddtree.mapper;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ddtree.block.device.RamDevice;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Every refused table gives its exact message, and a refused table leaves nothing built or held. */
class BadTableTest {
    private final RamDevice disk = new RamDevice("disk", 5000 * 512L);
    private final RamDevice a = new RamDevice("a", 4096 * 512L);
    private final RamDevice b = new RamDevice("b", 4096 * 512L);
    private final TestContext ctx = new TestContext().put("/x/disk.img", disk).put("a", a).put("b", b);

    @AfterEach
    void close() {
        disk.close();
        a.close();
        b.close();
    }

    static Stream<Arguments> badTables() {
        return Stream.of(
                Arguments.of("", "table is empty: a device needs at least one line"),
                Arguments.of("# only a comment\n\n", "table is empty: a device needs at least one line"),
                Arguments.of("0 2048", "table line 1: expected 'start length type [args...]' but found '0 2048'"),
                Arguments.of("x 2048 zero", "table line 1: start 'x' is not a number of sectors"),
                Arguments.of("0 -5 zero", "table line 1: length -5 is out of range (0 to 18014398509481983)"),
                Arguments.of("0 +5 zero", "table line 1: length '+5' is not a number of sectors"),
                Arguments.of("0 99999999999999999999 zero",
                        "table line 1: length '99999999999999999999' is not a number of sectors"),
                Arguments.of("0 18014398509481983 zero\n18014398509481983 1 zero",
                        "table line 2: start 18014398509481983 + length 1 sectors is past the largest device"
                                + " (18014398509481983 sectors)"),
                Arguments.of("0 0 zero", "table line 1: length is 0 sectors; a target needs at least one"),
                Arguments.of("5 100 zero", "table line 1: starts at sector 5 but a table must start at sector 0"),
                Arguments.of("0 2048 zero\n100 10 zero",
                        "table line 2: starts at sector 100 but line 1 ends at 2048 (overlap)"),
                Arguments.of("0 2048 zero\n# a comment does not count\n3000 10 zero",
                        "table line 2: starts at sector 3000 but line 1 ends at 2048 (gap)"),
                Arguments.of("0 10 zero\n10 10 zero\n20 10 strped 1", "table line 3: unknown target type 'strped'"),
                Arguments.of("0 10 zero extra", "table line 1: zero: expects 0 arguments but got 1: 'extra'"),
                Arguments.of("0 10 error 1", "table line 1: error: expects 0 arguments but got 1: '1'"),
                Arguments.of("0 10 ram 5 6", "table line 1: ram: expects 0 arguments but got 2: '5 6'"),
                Arguments.of("0 10 linear a",
                        "table line 1: linear: expects 2 arguments (<dev> <offset>) but got 1: 'a'"),
                Arguments.of("0 10 linear a x", "table line 1: linear: offset 'x' is not a number of sectors"),
                Arguments.of("0 10 linear nope 0", "table line 1: linear: no device or file 'nope'"),
                Arguments.of("0 4096 linear /x/disk.img 2048",
                        "table line 1: linear: /x/disk.img offset 2048 + length 4096 sectors is past its end (5000 sectors)"),
                Arguments.of("0 10 linear a 0\n10 10 linear nope 0", "table line 2: linear: no device or file 'nope'"),
                Arguments.of("0 16 striped 2 8 a 0",
                        "table line 1: striped: 2 stripes need 6 arguments (<#stripes> <chunk sectors> and a <dev>"
                                + " <offset> pair per stripe) but got 4"),
                Arguments.of("0 16 striped 2 8",
                        "table line 1: striped: expects at least 4 arguments (<#stripes> <chunk sectors> <dev> <offset>"
                                + " [<dev> <offset>]...) but got 2: '2 8'"),
                Arguments.of("0 16 striped x 8 a 0", "table line 1: striped: stripe count 'x' is not a number of stripes"),
                Arguments.of("0 16 striped 0 8 a 0", "table line 1: striped: stripe count 0 is out of range (1 to 1024)"),
                Arguments.of("0 16 striped 2 3 a 0 b 0", "table line 1: striped: chunk size 3 is not a power of two"),
                Arguments.of("0 16 striped 2 4 a 0 b 0",
                        "table line 1: striped: chunk size 4 is below the minimum of 8 sectors"),
                Arguments.of("0 1001 striped 2 8 a 0 b 0",
                        "table line 1: striped: length 1001 sectors is not divisible by 2 stripes"),
                Arguments.of("0 1000 striped 2 8 a 0 b 0",
                        "table line 1: striped: length 1000 sectors is not divisible by chunk size 8 x 2 stripes (16 sectors)"),
                Arguments.of("0 8192 striped 2 8 a 0 b 8",
                        "table line 1: striped: b offset 8 + length 4096 sectors is past its end (4096 sectors)"),
                Arguments.of("0 16 striped 2 8 a 0 b y", "table line 1: striped: stripe 1 offset 'y' is not a number of sectors"),
                Arguments.of("0 10 flakey a 0 1",
                        "table line 1: flakey: expects at least 4 arguments (<dev> <offset> <up interval> <down interval>"
                                + " [<#feature args> [<feature>]...]) but got 3: 'a 0 1'"),
                Arguments.of("0 10 flakey a 0 0 0",
                        "table line 1: flakey: up interval and down interval are both 0 seconds; one must be positive"),
                Arguments.of("0 10 flakey a 0 -1 1", "table line 1: flakey: up interval -1 is out of range (0 to 2147483647)"),
                Arguments.of("0 10 flakey a 0 1 1 1 bogus",
                        "table line 1: flakey: unknown feature 'bogus' (expected drop_writes, error_writes or error_reads)"),
                Arguments.of("0 10 flakey a 0 1 1 2 drop_writes",
                        "table line 1: flakey: feature argument count 2 does not match the 1 feature argument after it"),
                Arguments.of("0 10 flakey a 0 1 1 2 drop_writes error_writes",
                        "table line 1: flakey: feature error_writes conflicts with drop_writes"),
                Arguments.of("0 10 flakey a 0 1 1 2 drop_writes drop_writes",
                        "table line 1: flakey: feature drop_writes is given twice"),
                Arguments.of("0 10 flakey a 4090 1 1",
                        "table line 1: flakey: a offset 4090 + length 10 sectors is past its end (4096 sectors)"),
                Arguments.of("0 10 delay a 0",
                        "table line 1: delay: expects 3, 6 or 9 arguments (<dev> <offset> <delay ms>, once each for"
                                + " reads, writes and flushes) but got 2: 'a 0'"),
                Arguments.of("0 10 delay a 0 x", "table line 1: delay: delay 'x' is not a number of milliseconds"),
                Arguments.of("0 10 delay a 0 10 b 0 99999999999",
                        "table line 1: delay: write delay 99999999999 is out of range (0 to 86400000)"),
                Arguments.of("0 10 delay a 0 10 b 0 10 nope 0 10", "table line 1: delay: no device or file 'nope'"));
    }

    @ParameterizedTest
    @MethodSource("badTables")
    void refusedWithExactMessage(String table, String message) {
        assertThatThrownBy(() -> MappedDevice.create("dev", TableParser.parse(table), ctx, TargetTypes.builtin()))
                .isInstanceOf(TableException.class)
                .hasMessage(message);
        assertThat(ctx.references()).as("lower devices still held").isZero();
    }

    @Test
    void atLeastThirtyBadInputs() {
        assertThat(badTables().count()).isGreaterThanOrEqualTo(30);
    }

    @Test
    void refusedReloadKeepsTheLiveTableAndNoInactiveOne() throws Exception {
        try (MappedDevice d = MappedDevice.create("dev", TableParser.parse("0 10 linear a 0"), ctx, TargetTypes.builtin())) {
            assertThatThrownBy(() -> d.load(TableParser.parse("0 10 linear a 0\n10 10 linear nope 0")))
                    .hasMessage("table line 2: linear: no device or file 'nope'");
            assertThat(d.inactiveTable()).isEmpty();
            assertThat(d.table()).containsExactly(new TableLine(0, 10, "linear", "a", "0"));
            assertThat(ctx.references()).isEqualTo(1);
        }
        assertThat(ctx.references()).isZero();
    }

    @Test
    void messagesNameTheSectorAndTarget() throws Exception {
        try (MappedDevice d = MappedDevice.create("dev", TableParser.parse("0 10 zero\n10 10 flakey a 0 1 0"), ctx,
                TargetTypes.builtin())) {
            assertThatThrownBy(() -> d.message(3, List.of("hello")))
                    .hasMessage("sector 3: zero: the target takes no messages, so 'hello' was refused");
            assertThatThrownBy(() -> d.message(12, List.of("sideways")))
                    .hasMessage("sector 12: flakey: unknown message 'sideways' (expected down, up or cycle)");
            assertThatThrownBy(() -> d.message(20, List.of("up")))
                    .hasMessage("sector 20 is outside device dev (20 sectors)");
        }
    }
}
