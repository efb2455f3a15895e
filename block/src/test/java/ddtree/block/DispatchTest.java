package ddtree.block;

import static org.assertj.core.api.Assertions.assertThat;

import ddtree.block.device.RamDevice;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class DispatchTest {
    private static final int DEPTH = 10_000;

    /** A linear target: passes each bio to the device below, shifted by a fixed offset. */
    private static final class Shift implements BlockDevice, BioCompletion {
        private final BlockDevice lower;
        private final long delta;
        int completions;

        Shift(BlockDevice lower, long delta) {
            this.lower = lower;
            this.delta = delta;
        }

        @Override
        public String name() {
            return "shift";
        }

        @Override
        public long size() {
            return lower.size() - delta;
        }

        @Override
        public Capabilities capabilities() {
            return lower.capabilities();
        }

        @Override
        public InflightBudget budget() {
            return lower.budget();
        }

        @Override
        public void submit(Bio bio) {
            bio.remap(bio.offset() + delta);
            bio.pushCompletion(this, 0);
            Dispatch.submit(lower, bio);
        }

        @Override
        public boolean bioDone(Bio bio, long state) {
            completions++;
            return true;
        }

        @Override
        public void close() {}
    }

    @Test
    void aTenThousandDeepStackRunsInConstantStackDepth() throws Exception {
        try (RamDevice ram = new RamDevice("ram", (1 << 20) + DEPTH);
                DeviceIo top = new DeviceIo(stack(ram));
                DeviceIo bottom = new DeviceIo(ram)) {
            AtomicReference<Throwable> failure = new AtomicReference<>();
            // A thread with a small stack: recursion through 10,000 layers would overflow it.
            Thread t = new Thread(null, () -> {
                try {
                    byte[] data = DeviceIo.pattern(10_000, 7);
                    assertThat(submitDeep(top, Op.WRITE, 5000, data)).isZero();
                    assertThat(bottom.read(5000 + DEPTH, data.length)).isEqualTo(data);
                    byte[] back = new byte[data.length];
                    assertThat(submitDeep(top, Op.READ, 5000, back)).isZero();
                    assertThat(back).isEqualTo(data);
                } catch (Throwable e) {
                    failure.set(e);
                }
            }, "small-stack", 256 << 10);
            t.start();
            t.join();
            if (failure.get() != null) {
                throw new AssertionError(failure.get());
            }
            Shift layer = (Shift) top.device();
            assertThat(layer.completions).isEqualTo(2);
        }
    }

    private static Shift stack(BlockDevice bottom) {
        BlockDevice d = bottom;
        for (int i = 0; i < DEPTH; i++) {
            d = new Shift(d, 1);
        }
        return (Shift) d;
    }

    /** Like {@link DeviceIo#submit} but with a completion stack deep enough for the whole stack. */
    private static int submitDeep(DeviceIo io, Op op, long offset, byte[] data) throws Exception {
        BufferPool pool = new BufferPool(BufferPool.MAX_BUFFER, 0);
        PooledBuffer buffer = pool.acquire(data.length, false);
        try {
            java.lang.foreign.MemorySegment.copy(data, 0, buffer.segment(),
                    java.lang.foreign.ValueLayout.JAVA_BYTE, 0, data.length);
            Bio bio = new Bio(DEPTH + 1).reset(op, offset, data.length, 0, buffer);
            int[] status = {-1};
            bio.pushCompletion((b, s) -> {
                status[0] = b.status();
                return true;
            }, 0);
            Dispatch.submit(io.device(), bio);
            assertThat(status[0]).as("completed inline").isNotNegative();
            java.lang.foreign.MemorySegment.copy(buffer.segment(), java.lang.foreign.ValueLayout.JAVA_BYTE, 0,
                    data, 0, data.length);
            return status[0];
        } finally {
            buffer.release();
            pool.close();
        }
    }

    @Test
    void aDeviceThatThrowsCompletesTheBioWithEio() {
        BlockDevice broken = new BlockDevice() {
            @Override
            public String name() {
                return "broken";
            }

            @Override
            public long size() {
                return 1 << 20;
            }

            @Override
            public Capabilities capabilities() {
                return Capabilities.ALL;
            }

            @Override
            public InflightBudget budget() {
                return InflightBudget.defaults();
            }

            @Override
            public void submit(Bio bio) {
                throw new IllegalStateException("bug in a target");
            }

            @Override
            public void close() {}
        };
        try (DeviceIo io = new DeviceIo(broken)) {
            assertThat(io.flush()).isEqualTo(Errno.EIO);
            assertThat(io.readStatus(0, 4096)).isEqualTo(Errno.EIO);
        }
    }

    @Test
    void bioSubmittedDuringADispatchRunAfterTheCurrentOneInOrder() {
        List<String> order = new ArrayList<>();
        BlockDevice leaf = recording("leaf", order, null);
        BlockDevice splitter = recording("splitter", order, leaf);
        try (DeviceIo io = new DeviceIo(splitter)) {
            assertThat(io.flush()).isZero();
        }
        // The splitter's two children queue behind it rather than run inside it.
        assertThat(order).containsExactly("splitter start", "splitter end", "leaf", "leaf");
    }

    /** A device that sends two child bios to {@code lower}, or (as a leaf) completes at once. */
    private static BlockDevice recording(String name, List<String> order, BlockDevice lower) {
        return new BlockDevice() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public long size() {
                return 1 << 20;
            }

            @Override
            public Capabilities capabilities() {
                return Capabilities.ALL;
            }

            @Override
            public InflightBudget budget() {
                return InflightBudget.defaults();
            }

            @Override
            public void submit(Bio bio) {
                if (lower == null) {
                    order.add(name);
                    bio.complete(Errno.OK);
                    return;
                }
                order.add(name + " start");
                int[] pending = {2};
                for (int i = 0; i < 2; i++) {
                    Bio child = new Bio().resetChild(bio, bio.offset(), bio.length(), 0);
                    child.pushCompletion((c, s) -> {
                        if (--pending[0] == 0) {
                            bio.complete(c.status());
                        }
                        return true;
                    }, 0);
                    Dispatch.submit(lower, child);
                }
                order.add(name + " end");
            }

            @Override
            public void close() {}
        };
    }
}
