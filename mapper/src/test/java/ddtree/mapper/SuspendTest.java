package ddtree.mapper;

import static org.assertj.core.api.Assertions.assertThat;

import ddtree.block.Bio;
import ddtree.block.BlockDevice;
import ddtree.block.Capabilities;
import ddtree.block.DeviceIo;
import ddtree.block.Dispatch;
import ddtree.block.Errno;
import ddtree.block.Op;
import ddtree.block.device.RamDevice;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Suspend holds I/O and drains what is in flight; resume swaps tables and lets the held I/O go. */
@Timeout(60)
class SuspendTest {
    private static final int SECTOR = 512;
    private final RamDevice ram = new RamDevice("r", 4096 * SECTOR);
    private final TestContext ctx = new TestContext().put("r", ram);

    @AfterEach
    void close() {
        ram.close();
    }

    private MappedDevice create(String table) throws TableException {
        return MappedDevice.create("dev", TableParser.parse(table), ctx, TargetTypes.builtin());
    }

    @Test
    void heldWhileSuspendedThenCompletedInOrder() throws Exception {
        try (MappedDevice d = create("0 4096 linear r 0"); DeviceIo io = new DeviceIo(d)) {
            d.suspend();
            assertThat(d.suspended()).isTrue();
            List<DeviceIo.Pending> held = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                held.add(io.start(Op.WRITE, 1000, 600, DeviceIo.pattern(600, i))); // same range: order decides
            }
            Thread.sleep(100);
            assertThat(held).noneMatch(DeviceIo.Pending::isDone);
            d.resume();
            assertThat(d.suspended()).isFalse();
            for (DeviceIo.Pending p : held) {
                assertThat(p.await()).isZero();
            }
            assertThat(io.read(1000, 600)).as("the last held write wins").isEqualTo(DeviceIo.pattern(600, 4));
        }
    }

    /** A target that keeps bios until told to let them go, to hold I/O in flight. */
    static final class Gate implements Target {
        private final BlockDevice lower;
        private final List<Bio> waiting = new ArrayList<>();
        private boolean open;

        Gate(BlockDevice lower) {
            this.lower = lower;
        }

        @Override
        public void map(Bio bio) {
            synchronized (this) {
                if (!open) {
                    waiting.add(bio);
                    return;
                }
            }
            Dispatch.submit(lower, bio);
        }

        void open() {
            List<Bio> go;
            synchronized (this) {
                open = true;
                go = List.copyOf(waiting);
                waiting.clear();
            }
            go.forEach(b -> Dispatch.submit(lower, b));
        }

        synchronized int waiting() {
            return waiting.size();
        }

        @Override
        public String status(StatusType type) {
            return "";
        }

        @Override
        public List<String> dependencies() {
            return List.of("r");
        }

        @Override
        public Capabilities capabilities() {
            return Capabilities.ALL;
        }

        @Override
        public void close() {}
    }

    @Test
    void suspendWaitsForInFlightIo() throws Exception {
        List<Gate> gates = new ArrayList<>();
        TargetTypes types = TargetTypes.builtin().with(new SimpleTargetType("gate", "1.0.0", (c, n, l) -> {
            Gate g = new Gate(ram);
            gates.add(g);
            return g;
        }));
        try (MappedDevice d = MappedDevice.create("dev", TableParser.parse("0 4096 gate"), ctx, types);
                DeviceIo io = new DeviceIo(d)) {
            DeviceIo.Pending inFlight = io.start(Op.WRITE, 0, 4096, DeviceIo.pattern(4096, 1));
            assertThat(gates.get(0).waiting()).isEqualTo(1);
            CompletableFuture<Void> suspended = CompletableFuture.runAsync(() -> {
                try {
                    d.suspend();
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            });
            Thread.sleep(200);
            assertThat(suspended).as("suspend returned with a write in flight").isNotDone();
            gates.get(0).open();
            suspended.get(10, TimeUnit.SECONDS);
            assertThat(inFlight.await()).isZero();
            d.resume();
            assertThat(io.read(0, 4096)).isEqualTo(DeviceIo.pattern(4096, 1));
        }
    }

    @Test
    void reloadSwapsOnResumeAndHeldIoPastTheNewEndFails() throws Exception {
        try (MappedDevice d = create("0 100 linear r 0"); DeviceIo io = new DeviceIo(d)) {
            assertThat(io.write(0, DeviceIo.pattern(512, 7))).isZero();
            d.load(TableParser.parse("0 50 linear r 0"));
            assertThat(d.inactiveTable()).hasValue(List.of(new TableLine(0, 50, "linear", "r", "0")));
            assertThat(d.size()).as("loading changes nothing live").isEqualTo(100 * SECTOR);
            assertThat(ctx.references("r")).isEqualTo(2);
            d.suspend();
            DeviceIo.Pending past = io.start(Op.WRITE, 90 * SECTOR, 5 * SECTOR, new byte[5 * SECTOR]);
            DeviceIo.Pending inside = io.start(Op.READ, 0, 512, null);
            d.resume();
            assertThat(past.await()).isEqualTo(Errno.EIO);
            assertThat(inside.data()).isEqualTo(DeviceIo.pattern(512, 7));
            assertThat(d.size()).isEqualTo(50 * SECTOR);
            assertThat(d.table()).containsExactly(new TableLine(0, 50, "linear", "r", "0"));
            assertThat(d.inactiveTable()).isEmpty();
            assertThat(ctx.references("r")).as("the old table let go of r").isEqualTo(1);
        }
        assertThat(ctx.references()).isZero();
    }

    @Test
    void resumeOfARunningDeviceWithATableLoadedSwapsIt() throws Exception {
        try (MappedDevice d = create("0 100 linear r 0")) {
            d.load(TableParser.parse("0 200 linear r 0"));
            d.resume();
            assertThat(d.size()).isEqualTo(200 * SECTOR);
            assertThat(d.suspended()).isFalse();
            d.load(TableParser.parse("0 10 zero"));
            d.clearInactive();
            assertThat(d.inactiveTable()).isEmpty();
            assertThat(ctx.references("r")).isEqualTo(1);
            d.resume(); // nothing loaded, not suspended: no change
            assertThat(d.size()).isEqualTo(200 * SECTOR);
        }
    }

    /** A malformed bio fails alone, and leaves no count behind that would hang the next suspend. */
    @Test
    void badBufferFailsWithoutLeakingInFlight() throws Exception {
        var pool = new ddtree.block.BufferPool(64L << 20, 0);
        try (MappedDevice d = create("0 16 linear r 0\n16 16 linear r 16")) {
            var buffer = pool.acquire(4096, false);
            Bio bio = new Bio().reset(Op.READ, 8 * SECTOR, 4096, 0, buffer);
            bio.narrow(8 * SECTOR, 4096, 100); // runs past the buffer's end
            CompletableFuture<Integer> done = new CompletableFuture<>();
            bio.pushCompletion((b, s) -> done.complete(b.status()), 0);
            Dispatch.submit(d, bio);
            assertThat(done.get(5, TimeUnit.SECONDS)).isEqualTo(Errno.EINVAL);
            CompletableFuture.runAsync(() -> {
                try {
                    d.suspend();
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            }).get(5, TimeUnit.SECONDS);
            d.resume();
            buffer.release();
        } finally {
            pool.close();
        }
    }

    @Test
    void closeFailsHeldIo() throws Exception {
        MappedDevice d = create("0 100 linear r 0");
        try (DeviceIo io = new DeviceIo(d)) {
            d.suspend();
            DeviceIo.Pending held = io.start(Op.READ, 0, 512, null);
            d.close();
            assertThat(held.await()).isEqualTo(Errno.ESHUTDOWN);
            assertThat(io.readStatus(0, 512)).isEqualTo(Errno.ESHUTDOWN);
        }
    }

    /**
     * Several writers each keep a model of their own region while the table is reloaded and
     * resumed over and over between layouts that map the same data: no write is lost, no request fails.
     */
    @Test
    void reloadAndResumeUnderConcurrentIo() throws Exception {
        String[] layouts = {
            "0 4096 linear r 0",
            "0 1000 linear r 0\n1000 3096 linear r 1000",
            "0 17 linear r 0\n17 2031 linear r 17\n2048 2048 linear r 2048",
        };
        int writers = 4;
        int region = 4096 * SECTOR / writers;
        AtomicBoolean stop = new AtomicBoolean();
        ExecutorService pool = Executors.newFixedThreadPool(writers);
        try (MappedDevice d = create(layouts[0])) {
            List<Future<byte[]>> results = new ArrayList<>();
            for (int w = 0; w < writers; w++) {
                int base = w * region;
                long seed = w;
                results.add(pool.submit(() -> {
                    byte[] model = new byte[region];
                    SplittableRandom rnd = new SplittableRandom(seed);
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                    try (DeviceIo io = new DeviceIo(d)) {
                        for (int i = 0; i < 20_000 && !stop.get() && System.nanoTime() < deadline; i++) {
                            int length = 1 + rnd.nextInt(3 * SECTOR);
                            int offset = rnd.nextInt(region - length);
                            if (rnd.nextBoolean()) {
                                byte[] data = DeviceIo.pattern(length, rnd.nextInt());
                                assertThat(Errno.name(io.write(base + offset, data))).isEqualTo("OK");
                                System.arraycopy(data, 0, model, offset, length);
                            } else {
                                byte[] got = io.read(base + offset, length);
                                assertThat(got).isEqualTo(java.util.Arrays.copyOfRange(model, offset, offset + length));
                            }
                        }
                    }
                    return model;
                }));
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            for (int i = 0; i < 60 && System.nanoTime() < deadline; i++) {
                d.load(TableParser.parse(layouts[(i + 1) % layouts.length]));
                if (i % 3 == 0) {
                    d.suspend();
                    Thread.sleep(1);
                }
                d.resume();
                Thread.sleep(2);
            }
            stop.set(true);
            try (DeviceIo io = new DeviceIo(d)) {
                for (int w = 0; w < writers; w++) {
                    byte[] model = results.get(w).get(30, TimeUnit.SECONDS);
                    assertThat(io.read((long) w * region, region)).as("writer %d's region", w).isEqualTo(model);
                }
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(ctx.references()).isZero();
    }
}
