package ddtree.mapper;

import static org.assertj.core.api.Assertions.assertThat;

import ddtree.block.Bio;
import ddtree.block.Capabilities;
import ddtree.block.DeviceIo;
import ddtree.block.Dispatch;
import ddtree.block.Errno;
import ddtree.block.Extents;
import ddtree.block.Op;
import ddtree.block.device.RamDevice;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Each target's data mapping against a byte-array model, and splitting at every kind of boundary. */
class MappingTest {
    private static final int SECTOR = 512;

    static Stream<Arguments> stripeGeometries() {
        List<Arguments> out = new ArrayList<>();
        for (int chunk : new int[] {8, 16, 64}) {
            for (int stripes : new int[] {1, 2, 3, 5}) {
                for (long seed : new long[] {1, 2}) {
                    out.add(Arguments.of(chunk, stripes, seed));
                }
            }
        }
        return out.stream();
    }

    /** Data lands where dm-stripe's arithmetic puts it, and reads back as the model says. */
    @ParameterizedTest(name = "chunk {0} sectors, {1} stripes, seed {2}")
    @MethodSource("stripeGeometries")
    void stripedMatchesModelAndLayout(int chunk, int stripes, long seed) throws Exception {
        int chunksPerStripe = 5;
        long width = (long) chunk * chunksPerStripe;
        long length = width * stripes;
        TestContext ctx = new TestContext();
        RamDevice[] lowers = new RamDevice[stripes];
        long[] offsets = new long[stripes];
        StringBuilder table = new StringBuilder("0 " + length + " striped " + stripes + " " + chunk);
        for (int i = 0; i < stripes; i++) {
            offsets[i] = 3 + 7L * i; // odd offsets: the stripe's start moves its data, not its chunking
            lowers[i] = new RamDevice("s" + i, (offsets[i] + width) * SECTOR);
            ctx.put("s" + i, lowers[i]);
            table.append(" s").append(i).append(' ').append(offsets[i]);
        }
        try (MappedDevice d = MappedDevice.create("striped", TableParser.parse(table.toString()), ctx, TargetTypes.builtin());
                DeviceIo io = new DeviceIo(d)) {
            Model model = new Model((int) (length * SECTOR));
            model.drive(io, seed, 300, 3 * chunk * SECTOR + 100);

            long chunkBytes = (long) chunk * SECTOR;
            byte[] expected = model.bytes();
            for (int s = 0; s < stripes; s++) {
                byte[] actual = new DeviceIo(lowers[s]).read(offsets[s] * SECTOR, (int) (width * SECTOR));
                for (long p = 0; p < actual.length; p += 97) {
                    long c = s + (p / chunkBytes) * stripes; // the target chunk this stripe byte holds
                    long at = c * chunkBytes + p % chunkBytes;
                    assertThat(actual[(int) p]).as("stripe %d byte %d (device byte %d)", s, p, at)
                            .isEqualTo(expected[(int) at]);
                }
            }
            assertThat(d.status(StatusType.INFO).get(0)).endsWith(" 1 " + "A".repeat(stripes));
        } finally {
            for (RamDevice r : lowers) {
                r.close();
            }
        }
        assertThat(ctx.references()).isZero();
    }

    /** Odd-sized targets of every kind side by side; requests cross their boundaries unaligned. */
    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {11, 12, 13, 14})
    void splitsAcrossTargetBoundaries(long seed) throws Exception {
        RamDevice r0 = new RamDevice("r0", 100 * SECTOR);
        RamDevice r1 = new RamDevice("r1", 64 * SECTOR);
        RamDevice r2 = new RamDevice("r2", 64 * SECTOR);
        TestContext ctx = new TestContext().put("r0", r0).put("r1", r1).put("r2", r2);
        String table = """
                0 37 linear r0 5
                37 64 striped 2 8 r1 0 r2 0
                101 13 ram
                114 9 zero
                123 50 linear r0 42
                173 1 linear r1 63
                """;
        try (MappedDevice d = MappedDevice.create("mixed", TableParser.parse(table), ctx, TargetTypes.builtin());
                DeviceIo io = new DeviceIo(d)) {
            assertThat(d.size()).isEqualTo(174L * SECTOR);
            Model model = new Model((int) d.size(), 114L * SECTOR, 123L * SECTOR);
            model.drive(io, seed, 400, 40 * SECTOR);
        } finally {
            r0.close();
            r1.close();
            r2.close();
        }
    }

    /**
     * A 3 MiB write over 4 KiB chunks is 768 pieces, of which only a window is in flight at once;
     * whole-device zeroes and discards reach each stripe as one piece, and free its memory.
     */
    @Test
    void hugeSplitsKeepAWindowOfPieces() throws Exception {
        try (RamDevice a = new RamDevice("a", 16 << 20); RamDevice b = new RamDevice("b", 16 << 20)) {
            TestContext ctx = new TestContext().put("a", a).put("b", b);
            try (MappedDevice d = MappedDevice.create("s", TableParser.parse("0 65536 striped 2 8 a 0 b 0"), ctx,
                    TargetTypes.builtin()); DeviceIo io = new DeviceIo(d)) {
                assertThat(io.write(5 << 20, DeviceIo.pattern(3 << 20, 1))).isZero();
                assertThat(a.allocatedBytes() + b.allocatedBytes()).isGreaterThanOrEqualTo(3 << 20);
                assertThat(io.writeZeroes(0, d.size())).isZero();
                assertThat(io.discard(0, d.size())).isZero();
                assertThat(a.allocatedBytes() + b.allocatedBytes()).isZero();
                assertThat(io.read(5 << 20, 4096)).isEqualTo(new byte[4096]);
                assertThat(d.pooledPieces()).isBetween(1, 64);
            }
        }
    }

    /** Striped over two sparse files: flushes go to both files' flush threads and complete there. */
    @Test
    void stripedOverFiles(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        try (var fa = ddtree.block.device.FileDevice.open("fa", dir.resolve("a.img"), 1 << 20, false);
                var fb = ddtree.block.device.FileDevice.open("fb", dir.resolve("b.img"), 1 << 20, false)) {
            TestContext ctx = new TestContext().put("disks/a.img", fa).put("disks/b.img", fb);
            try (MappedDevice d = MappedDevice.create("s", TableParser.parse("0 4096 striped 2 16 disks/a.img 0 disks/b.img 0"),
                    ctx, TargetTypes.builtin()); DeviceIo io = new DeviceIo(d)) {
                Model model = new Model((int) d.size()).withoutDiscards();
                model.drive(io, 77, 100, 100_000);
                for (int i = 0; i < 20; i++) {
                    assertThat(io.flush()).isZero();
                }
                assertThat(d.capabilities().flush()).isTrue();
                assertThat(d.dependencies()).containsExactly("disks/a.img", "disks/b.img");
            }
            assertThat(ctx.references()).isZero();
        }
    }

    @Test
    void linearMovesByItsOffset() throws Exception {
        try (RamDevice r = new RamDevice("r", 64 * SECTOR)) {
            TestContext ctx = new TestContext().put("r", r);
            try (MappedDevice d = MappedDevice.create("lin", TableParser.parse("0 10 linear r 17"), ctx,
                    TargetTypes.builtin()); DeviceIo io = new DeviceIo(d)) {
                byte[] data = DeviceIo.pattern(777, 3);
                assertThat(io.write(1000, data)).isZero();
                assertThat(new DeviceIo(r).read(17 * SECTOR + 1000, 777)).isEqualTo(data);
                assertThat(io.read(1000, 777)).isEqualTo(data);
            }
        }
    }

    @Test
    void zeroReadsZeroesAndErrorFails() throws Exception {
        TestContext ctx = new TestContext();
        try (MappedDevice d = MappedDevice.create("ze", TableParser.parse("0 8 zero\n8 8 error"), ctx,
                TargetTypes.builtin()); DeviceIo io = new DeviceIo(d)) {
            assertThat(io.write(0, DeviceIo.pattern(4096, 1))).isZero();
            assertThat(io.read(0, 4096)).isEqualTo(new byte[4096]);
            assertThat(io.read(7, 4000)).as("unaligned").isEqualTo(new byte[4000]);
            assertThat(io.readStatus(4096, 512)).isEqualTo(Errno.EIO);
            assertThat(io.readStatus(4000, 200)).as("a split with one failing piece").isEqualTo(Errno.EIO);
            assertThat(io.write(8000, new byte[10])).isEqualTo(Errno.EIO);
            assertThat(io.flush()).as("error fails flushes too").isEqualTo(Errno.EIO);

            Extents out = new Extents(8);
            d.extents(0, 16 * SECTOR, out);
            assertThat(out.count()).isEqualTo(2);
            assertThat(out.flags(0)).isEqualTo(Extents.HOLE | Extents.ZERO);
            assertThat(out.length(0)).isEqualTo(8 * SECTOR);
            assertThat(out.flags(1)).isZero();
        }
    }

    @Test
    void ramTargetOwnsItsMemory() throws Exception {
        TestContext ctx = new TestContext();
        MappedDevice d = MappedDevice.create("ram", TableParser.parse("0 1024 ram"), ctx, TargetTypes.builtin());
        try (DeviceIo io = new DeviceIo(d)) {
            assertThat(d.status(StatusType.INFO)).containsExactly("0 1024 ram 0");
            assertThat(io.write(70000, DeviceIo.pattern(10, 1))).isZero();
            assertThat(d.status(StatusType.INFO)).containsExactly("0 1024 ram 65536");
            Extents out = new Extents(8);
            d.extents(0, 1024 * SECTOR, out);
            assertThat(out.count()).isEqualTo(3); // hole, the page written, hole
        }
        d.close();
        assertThat(d.capabilities()).isEqualTo(Capabilities.ALL);
    }

    /** A test target that counts what reaches it and completes everything. */
    static final class Counting implements Target {
        final AtomicInteger flushes = new AtomicInteger();
        final AtomicInteger bios = new AtomicInteger();
        final List<String> seen = java.util.Collections.synchronizedList(new ArrayList<>());

        @Override
        public void map(Bio bio) {
            bios.incrementAndGet();
            seen.add(bio.op() + " " + bio.offset() + "+" + bio.length());
            if (bio.op() == Op.FLUSH) {
                flushes.incrementAndGet();
            }
            bio.complete(Errno.OK);
        }

        @Override
        public String status(StatusType type) {
            return "";
        }

        @Override
        public List<String> dependencies() {
            return List.of();
        }

        @Override
        public long maxIoBytes() {
            return 1000; // not a power of two: the core's arithmetic must not assume one
        }

        @Override
        public Capabilities capabilities() {
            return new Capabilities(false, true, false, false, false, false);
        }

        @Override
        public void close() {}
    }

    @Test
    void flushReachesEveryTargetAndSplitsFollowMaxIo() throws Exception {
        List<Counting> made = new ArrayList<>();
        TargetTypes types = TargetTypes.builtin().with(new SimpleTargetType("count", "1.0.0", (c, n, l) -> {
            Counting t = new Counting();
            made.add(t);
            return t;
        }));
        try (MappedDevice d = MappedDevice.create("c", TableParser.parse("0 10 count\n10 10 count\n20 10 count"),
                new TestContext(), types); DeviceIo io = new DeviceIo(d)) {
            assertThat(io.flush()).isZero();
            assertThat(made).extracting(c -> c.flushes.get()).containsExactly(1, 1, 1);

            assertThat(io.readStatus(4000, 3000)).isZero(); // 4000..7000 over targets at 0, 5120, 10240
            assertThat(made.get(0).seen).containsExactly("FLUSH 0+0", "READ 4000+1000", "READ 5000+120");
            assertThat(made.get(1).seen).containsExactly("FLUSH 0+0", "READ 0+1000", "READ 1000+880");
            assertThat(d.capabilities()).isEqualTo(new Capabilities(false, true, false, false, false, false));
        }
    }

    /**
     * Reads and writes that fit one target reuse the bio, and those that are split or flushed
     * to several targets take pooled pieces: no allocation once warm.
     */
    @Test
    void requestsAllocateNothingOnceWarm() throws Exception {
        try (RamDevice r = new RamDevice("r", 1 << 20); DeviceIo unused = new DeviceIo(r)) {
            TestContext ctx = new TestContext().put("r", r);
            try (MappedDevice d = MappedDevice.create("lin", TableParser.parse("0 1024 linear r 8\n1024 1024 ram"), ctx,
                    TargetTypes.builtin())) {
                var pool = new ddtree.block.BufferPool(64L << 20, 0);
                var buffer = pool.acquire(4096, false);
                Bio bio = new Bio();
                int[] done = new int[1];
                ddtree.block.BioCompletion step = (b, s) -> {
                    done[0]++;
                    return true;
                };
                Runnable round = () -> {
                    for (int i = 0; i < 16; i++) {
                        bio.reset((i & 1) == 0 ? Op.WRITE : Op.READ, (i * 8192L) % (1 << 20), 4096, 0, buffer);
                        bio.pushCompletion(step, 0);
                        Dispatch.submit(d, bio);
                    }
                    bio.reset(Op.WRITE, 1024 * 512 - 1000, 4096, 0, buffer); // across the two targets
                    bio.pushCompletion(step, 0);
                    Dispatch.submit(d, bio);
                    bio.reset(Op.FLUSH, 0, 0, 0, null); // to both targets
                    bio.pushCompletion(step, 0);
                    Dispatch.submit(d, bio);
                };
                var threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
                long least = Long.MAX_VALUE;
                for (int i = 0; i < 200; i++) {
                    long before = threads.getCurrentThreadAllocatedBytes();
                    round.run();
                    least = Math.min(least, threads.getCurrentThreadAllocatedBytes() - before);
                }
                assertThat(least).isZero();
                assertThat(done[0]).isEqualTo(200 * 18);
                buffer.release();
                pool.close();
            }
        }
    }

    @Test
    void extentsFollowTheLowerDevices() throws Exception {
        try (RamDevice a = new RamDevice("a", 1 << 20); RamDevice b = new RamDevice("b", 1 << 20)) {
            TestContext ctx = new TestContext().put("a", a).put("b", b);
            new DeviceIo(b).write(RamDevice.PAGE_SIZE, new byte[] {1});
            try (MappedDevice d = MappedDevice.create("e", TableParser.parse("0 256 linear b 128\n256 256 striped 2 128 a 0 b 0"),
                    ctx, TargetTypes.builtin())) {
                Extents out = new Extents(16);
                d.extents(0, d.size(), out);
                // linear b 128: b's page 1 (64 KiB..128 KiB) is data, at device 0..64 KiB; then holes
                // until the striped part, whose stripe 1 chunk 0 (b 0..64 KiB) is a hole too
                assertThat(out.flags(0)).isZero();
                assertThat(out.length(0)).isEqualTo(RamDevice.PAGE_SIZE);
                assertThat(out.totalLength()).isEqualTo(d.size());
            }
        }
    }
}
