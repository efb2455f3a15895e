package ddtree.mapper;

import static org.assertj.core.api.Assertions.assertThat;

import ddtree.block.DeviceIo;
import ddtree.block.device.RamDevice;
import java.util.List;
import org.junit.jupiter.api.Test;

/** TABLE status prints a table that builds the same device again; INFO reports health. */
class StatusTest {

    @Test
    void tableStatusRoundTrips() throws Exception {
        try (RamDevice a = new RamDevice("a", 1 << 20); RamDevice b = new RamDevice("b", 1 << 20)) {
            TestContext ctx = new TestContext().put("a", a).put("b", b).put("/x/disk.img", a);
            String text = """
                    0 64 linear /x/disk.img 8
                    64 96 striped 3 8 a 0 b 100 a 200
                    160 8 zero
                    168 8 error
                    176 24 ram
                    200 16 flakey b 0 5 0 2 drop_writes error_reads
                    216 16 flakey a 0 0 7
                    232 16 delay a 0 10 b 0 20 a 8 30
                    248 8 delay b 3 0
                    """;
            List<TableLine> table = TableParser.parse(text);
            try (MappedDevice d = MappedDevice.create("all", table, ctx, TargetTypes.builtin())) {
                List<String> status = d.status(StatusType.TABLE);
                assertThat(TableParser.parse(String.join("\n", status))).isEqualTo(table);
                try (MappedDevice again = MappedDevice.create("again", TableParser.parse(String.join("\n", status)), ctx,
                        TargetTypes.builtin())) {
                    assertThat(again.status(StatusType.TABLE)).isEqualTo(status);
                }
                assertThat(d.status(StatusType.INFO)).containsExactly(
                        "0 64 linear",
                        "64 96 striped 3 a b a 1 AAA",
                        "160 8 zero",
                        "168 8 error",
                        "176 24 ram 0",
                        "200 16 flakey up",
                        "216 16 flakey down",
                        "232 16 delay 0 0 0",
                        "248 8 delay 0 0");
                assertThat(d.dependencies()).containsExactly("/x/disk.img", "a", "b");
            }
        }
    }

    @Test
    void stripeThatFailsIsReportedDead() throws Exception {
        try (RamDevice a = new RamDevice("a", 1 << 20)) {
            TestContext ctx = new TestContext().put("a", a);
            try (MappedDevice bad = MappedDevice.create("bad", TableParser.parse("0 2048 error"), ctx, TargetTypes.builtin())) {
                ctx.put("bad", bad);
                try (MappedDevice d = MappedDevice.create("s", TableParser.parse("0 32 striped 2 8 a 0 bad 0"), ctx,
                        TargetTypes.builtin()); DeviceIo io = new DeviceIo(d)) {
                    assertThat(io.write(0, new byte[4096])).isZero();
                    assertThat(d.status(StatusType.INFO)).containsExactly("0 32 striped 2 a bad 1 AA");
                    assertThat(io.write(4096, new byte[4096])).isEqualTo(ddtree.block.Errno.EIO);
                    assertThat(d.status(StatusType.INFO)).containsExactly("0 32 striped 2 a bad 1 AD");
                }
            }
        }
    }

    @Test
    void renameKeepsTheTable() throws Exception {
        try (MappedDevice d = MappedDevice.create("old", TableParser.parse("0 8 zero"), new TestContext(),
                TargetTypes.builtin())) {
            d.rename("new");
            assertThat(d.name()).isEqualTo("new");
            assertThat(d.table()).containsExactly(new TableLine(0, 8, "zero", List.of()));
            assertThat(d.dependencies()).isEmpty();
        }
    }

    @Test
    void builtinTypesHaveNamesAndVersions() {
        assertThat(TargetTypes.builtin().all()).extracting(TargetType::name)
                .contains("linear", "striped", "zero", "error", "ram", "flakey", "delay", "nbd");
        assertThat(TargetTypes.builtin().all()).allSatisfy(t -> assertThat(t.version()).matches("\\d+\\.\\d+\\.\\d+"));
        assertThat(TargetTypes.builtin().find("strped")).isEmpty();
    }
}
