package ddtree.mapper;

import static org.assertj.core.api.Assertions.assertThat;

import ddtree.block.DeviceIo;
import ddtree.block.Errno;
import ddtree.block.device.RamDevice;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Large requests split into hundreds of chunk pieces, whose pieces complete on the delay targets'
 * timer threads while the submitting threads are still issuing, from several writers at once,
 * with the top device suspended and resumed meanwhile.
 */
@Timeout(90)
class ConcurrentSplitTest {
    private static final int SECTOR = 512;

    @Test
    void piecesCompletingOnOtherThreads() throws Exception {
        long stripeSectors = 8192; // 4 MiB per stripe
        try (RamDevice ra = new RamDevice("ra", stripeSectors * SECTOR);
                RamDevice rb = new RamDevice("rb", stripeSectors * SECTOR)) {
            TestContext ctx = new TestContext().put("ra", ra).put("rb", rb);
            TargetTypes types = TargetTypes.builtin();
            try (MappedDevice da = MappedDevice.create("da", TableParser.parse("0 " + stripeSectors + " delay ra 0 1"), ctx, types);
                    MappedDevice db = MappedDevice.create("db", TableParser.parse("0 " + stripeSectors + " delay rb 0 0 rb 0 2"),
                            ctx, types)) {
                ctx.put("da", da).put("db", db);
                try (MappedDevice top = MappedDevice.create("top",
                        TableParser.parse("0 " + 2 * stripeSectors + " striped 2 8 da 0 db 0"), ctx, types)) {
                    run(top);
                }
            }
            assertThat(ctx.references()).isZero();
        }
    }

    private static void run(MappedDevice top) throws Exception {
        int writers = 4;
        int region = (int) (top.size() / writers);
        ExecutorService pool = Executors.newFixedThreadPool(writers);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int w = 0; w < writers; w++) {
                int base = w * region;
                long seed = 100 + w;
                done.add(pool.submit(() -> {
                    byte[] model = new byte[region];
                    SplittableRandom rnd = new SplittableRandom(seed);
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(40);
                    try (DeviceIo io = new DeviceIo(top)) {
                        for (int i = 0; i < 40 && System.nanoTime() < deadline; i++) {
                            int length = 1 + rnd.nextInt(600 << 10); // up to 150 chunks: more than the window
                            int offset = rnd.nextInt(region - length);
                            int kind = rnd.nextInt(4);
                            if (kind < 2) {
                                byte[] data = DeviceIo.pattern(length, rnd.nextInt());
                                assertThat(Errno.name(io.write(base + offset, data))).isEqualTo("OK");
                                System.arraycopy(data, 0, model, offset, length);
                            } else if (kind == 2) {
                                assertThat(io.read(base + offset, length))
                                        .isEqualTo(Arrays.copyOfRange(model, offset, offset + length));
                            } else {
                                assertThat(Errno.name(io.writeZeroes(base + offset, length))).isEqualTo("OK");
                                Arrays.fill(model, offset, offset + length, (byte) 0);
                            }
                        }
                        assertThat(io.read(base, region)).isEqualTo(model);
                    }
                    return null;
                }));
            }
            for (int i = 0; i < 10; i++) {
                Thread.sleep(20);
                top.suspend();
                Thread.sleep(5);
                top.resume();
            }
            for (Future<?> f : done) {
                f.get(60, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
