package ddtree.mapper;

import static org.assertj.core.api.Assertions.assertThat;

import ddtree.block.Bio;
import ddtree.block.Capabilities;
import ddtree.block.Errno;
import ddtree.block.Extents;
import ddtree.block.StatusMaps;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A device offers its targets' status maps: names united, extents shifted to device offsets. */
class StatusMapsTest {
    private static final int SECTOR = TableLine.SECTOR;
    /** The test target flags every other run of this many bytes, from its own start. */
    private static final int RUN = 8 << 10;
    private static final String A = "ddtree:test:a";
    private static final String B = "ddtree:test:b";
    private static final String TABLE = "0 256 maps a\n256 128 zero\n384 256 maps b\n640 256 maps a";

    /** {@code maps NAME}: offers map ddtree:test:NAME, bit 0 set on the even RUNs of the target. */
    static final class MapsTarget implements Target, StatusMaps {
        final String map;

        MapsTarget(String leaf) {
            this.map = "ddtree:test:" + leaf;
        }

        @Override
        public List<String> listMaps(String prefix) {
            return map.startsWith(prefix) ? List.of(map) : List.of();
        }

        @Override
        public boolean hasMap(String name) {
            return name.equals(map);
        }

        @Override
        public void mapExtents(String name, long offset, long length, Extents out) {
            for (long pos = offset, end = offset + length; pos < end; ) {
                long next = Math.min(end, (pos / RUN + 1) * RUN);
                if (!out.add(next - pos, (pos / RUN) % 2 == 0 ? 1 : 0)) {
                    return;
                }
                pos = next;
            }
        }

        @Override
        public void map(Bio bio) {
            bio.complete(Errno.OK);
        }

        @Override
        public String status(StatusType type) {
            return type == StatusType.TABLE ? map.substring("ddtree:test:".length()) : "";
        }

        @Override
        public List<String> dependencies() {
            return List.of();
        }

        @Override
        public Capabilities capabilities() {
            return Capabilities.ALL;
        }

        @Override
        public void close() {}
    }

    private static final TargetTypes TYPES = TargetTypes.builtin().with(new SimpleTargetType("maps", "1.0.0",
            (ctx, device, line) -> {
                TargetArgs.count(line.args(), 1, "<name>");
                return new MapsTarget(line.args().getFirst());
            }));

    /** The runs of {@code map} over [offset, offset+length) by a sector-by-sector model of TABLE. */
    private static List<String> model(String map, long offset, long length) {
        long[][] targets = {{0, 256}, {256, 128}, {384, 256}, {640, 256}};
        String[] names = {A, null, B, A};
        List<long[]> runs = new ArrayList<>();
        for (long pos = offset, next; pos < offset + length; pos = next) {
            next = Math.min(offset + length, (pos / SECTOR + 1) * SECTOR); // flags change on sectors only
            int flags = 0;
            for (int t = 0; t < targets.length; t++) {
                long start = targets[t][0] * SECTOR;
                long end = start + targets[t][1] * SECTOR;
                if (pos >= start && pos < end && map.equals(names[t])) {
                    flags = ((pos - start) / RUN) % 2 == 0 ? 1 : 0;
                }
            }
            long n = next - pos;
            if (!runs.isEmpty() && runs.getLast()[1] == flags) {
                runs.getLast()[0] += n;
            } else {
                runs.add(new long[] {n, flags});
            }
        }
        return runs.stream().map(r -> r[0] + ":" + r[1]).toList();
    }

    private static List<String> runs(Extents e) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < e.count(); i++) {
            out.add(e.length(i) + ":" + e.flags(i));
        }
        return out;
    }

    @Test
    void namesAreTheTargetsNamesEachOnce() throws Exception {
        try (MappedDevice d = MappedDevice.create("m", TableParser.parse(TABLE), new TestContext(), TYPES)) {
            assertThat(d.listMaps("")).containsExactly(A, B);
            assertThat(d.listMaps("ddtree:")).containsExactly(A, B);
            assertThat(d.listMaps(B)).containsExactly(B);
            assertThat(d.listMaps("other:")).isEmpty();
            assertThat(d.hasMap(A)).isTrue();
            assertThat(d.hasMap(B)).isTrue();
            assertThat(d.hasMap("ddtree:test:c")).isFalse();
        }
    }

    @Test
    void extentsAreEachTargetsShiftedAndZeroWhereATargetLacksTheMap() throws Exception {
        try (MappedDevice d = MappedDevice.create("m", TableParser.parse(TABLE), new TestContext(), TYPES)) {
            Extents out = new Extents(1024);
            for (String map : List.of(A, B, "ddtree:test:c")) {
                out.clear();
                d.mapExtents(map, 0, d.size(), out);
                assertThat(runs(out)).as(map).isEqualTo(model(map, 0, d.size()));
                out.clear();
                d.mapExtents(map, 100_000, 300_000, out); // unaligned, across four targets
                assertThat(runs(out)).as(map + " unaligned").isEqualTo(model(map, 100_000, 300_000));
            }
            out.clear();
            d.mapExtents(A, d.size() - 1000, 5000, out);
            assertThat(out.totalLength()).as("stops at the end").isEqualTo(1000);
        }
    }

    @Test
    void aFullListStopsTheAnswerWithWholeRuns() throws Exception {
        try (MappedDevice d = MappedDevice.create("m", TableParser.parse(TABLE), new TestContext(), TYPES)) {
            List<String> all = model(A, 0, d.size());
            for (int capacity : new int[] {1, 3, 16, 17}) {
                Extents out = new Extents(capacity);
                d.mapExtents(A, 0, d.size(), out);
                assertThat(runs(out)).as("capacity " + capacity).isEqualTo(all.subList(0, capacity));
            }
        }
    }

    @Test
    void aReloadedTableAnswersWithItsOwnTargets() throws Exception {
        try (MappedDevice d = MappedDevice.create("m", TableParser.parse(TABLE), new TestContext(), TYPES)) {
            d.load(TableParser.parse("0 896 zero"));
            assertThat(d.hasMap(A)).as("the inactive table does not count").isTrue();
            d.suspend();
            d.resume();
            assertThat(d.hasMap(A)).isFalse();
            assertThat(d.listMaps("")).isEmpty();
            Extents out = new Extents(8);
            d.mapExtents(A, 0, d.size(), out);
            assertThat(runs(out)).containsExactly(d.size() + ":0");
        }
    }
}
