package ddtree.block.device;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ddtree.block.Bio;
import ddtree.block.BioCompletion;
import ddtree.block.BufferPool;
import ddtree.block.DeviceIo;
import ddtree.block.Dispatch;
import ddtree.block.Errno;
import ddtree.block.Extents;
import ddtree.block.Op;
import ddtree.block.PooledBuffer;
import ddtree.block.device.DeviceModel.Action;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class RamDeviceTest {
    private static final int PAGE = RamDevice.PAGE_SIZE;
    private static final long SMALL = 130_000;
    private static final long ODD = 1_000_003;

    @Test
    void unalignedWritesAcrossPagesReadBackAndHolesReadZero() {
        try (RamDevice ram = new RamDevice("ram", 4L * PAGE); DeviceIo io = new DeviceIo(ram)) {
            assertThat(io.read(0, 3 * PAGE)).containsOnly(0);
            byte[] data = DeviceIo.pattern(PAGE + 300, 1);
            assertThat(io.write(PAGE - 150, data)).isZero();
            assertThat(io.read(PAGE - 150, data.length)).isEqualTo(data);
            assertThat(io.read(PAGE - 151, 1)).containsOnly(0);
            assertThat(io.read(2L * PAGE + 150, 1)).containsOnly(0);
            assertThat(ram.allocatedBytes()).isEqualTo(3L * PAGE);
            assertThat(io.read(3L * PAGE, PAGE)).containsOnly(0);
            assertThat(ram.allocatedBytes()).as("reads allocate nothing").isEqualTo(3L * PAGE);
        }
    }

    @Test
    void discardFreesWholePagesAndZeroesTheEdges() throws Exception {
        try (RamDevice ram = new RamDevice("ram", 4L * PAGE); DeviceIo io = new DeviceIo(ram)) {
            byte[] data = DeviceIo.pattern(4 * PAGE, 2);
            io.write(0, data);
            assertThat(ram.allocatedBytes()).isEqualTo(4L * PAGE);
            assertThat(io.discard(PAGE - 10, PAGE + 20)).isZero();
            assertThat(ram.allocatedBytes()).isEqualTo(3L * PAGE);
            assertThat(io.read(PAGE - 10, PAGE + 20)).containsOnly(0);
            assertThat(io.read(PAGE - 11, 1)[0]).isEqualTo(data[PAGE - 11]);
            assertThat(io.read(2L * PAGE + 10, 1)[0]).isEqualTo(data[2 * PAGE + 10]);

            Extents e = io.extents(0, 4L * PAGE);
            assertThat(e.count()).isEqualTo(3);
            assertThat(e.length(0)).isEqualTo(PAGE);
            assertThat(e.flags(0)).isZero();
            assertThat(e.length(1)).isEqualTo(PAGE);
            assertThat(e.flags(1)).isEqualTo(Extents.HOLE | Extents.ZERO);
            assertThat(e.flags(2)).isZero();
        }
    }

    @Test
    void writeZeroesFreesUnlessNoHoleIsAsked() throws Exception {
        try (RamDevice ram = new RamDevice("ram", 4L * PAGE); DeviceIo io = new DeviceIo(ram)) {
            io.write(0, DeviceIo.pattern(4 * PAGE, 3));
            assertThat(io.writeZeroes(0, 2L * PAGE, 0)).isZero();
            assertThat(ram.allocatedBytes()).isEqualTo(2L * PAGE);
            assertThat(io.writeZeroes(2L * PAGE, 2L * PAGE, Bio.NO_HOLE | Bio.FAST_ZERO)).isZero();
            assertThat(ram.allocatedBytes()).isEqualTo(2L * PAGE);
            assertThat(io.read(0, 4 * PAGE)).containsOnly(0);
            // NO_HOLE over a hole allocates, so later writes there cannot fail for lack of memory.
            assertThat(io.writeZeroes(0, 10, Bio.NO_HOLE)).isZero();
            assertThat(ram.allocatedBytes()).isEqualTo(3L * PAGE);
            assertThat(io.extents(0, PAGE).flags(0)).isZero();
            assertThat(io.writeZeroes(0, PAGE, Bio.FAST_ZERO)).isZero();
            assertThat(ram.allocatedBytes()).isEqualTo(2L * PAGE);
        }
    }

    @Test
    void aPartialLastPageIsFreedWhenDiscardedToTheEnd() throws Exception {
        try (RamDevice ram = new RamDevice("ram", SMALL); DeviceIo io = new DeviceIo(ram)) {
            io.write(SMALL - 5, new byte[] {1, 2, 3, 4, 5});
            assertThat(ram.allocatedBytes()).isEqualTo(PAGE);
            Extents e = io.extents(0, SMALL);
            assertThat(e.count()).isEqualTo(2);
            assertThat(e.length(1)).isEqualTo(SMALL - PAGE);
            assertThat(e.flags(1)).isZero();
            assertThat(io.discard(PAGE, SMALL - PAGE)).isZero();
            assertThat(ram.allocatedBytes()).isZero();
            Extents after = io.extents(10, SMALL);
            assertThat(after.count()).isEqualTo(1);
            assertThat(after.totalLength()).isEqualTo(SMALL - 10);
        }
    }

    @Test
    void flushAndFuaCompleteAtOnce() {
        try (RamDevice ram = new RamDevice("ram", PAGE); DeviceIo io = new DeviceIo(ram)) {
            assertThat(io.write(5, new byte[] {9}, Bio.FUA)).isZero();
            assertThat(io.flush()).isZero();
            assertThat(ram.capabilities().flush()).isTrue();
            assertThat(ram.capabilities().fua()).isTrue();
        }
    }

    @Test
    void badRangesFailWithEinvalAndClosedDevicesWithEshutdown() {
        RamDevice ram = new RamDevice("ram", SMALL);
        try (DeviceIo io = new DeviceIo(ram)) {
            assertThat(io.readStatus(SMALL - 1, 2)).isEqualTo(Errno.EINVAL);
            assertThat(io.write(SMALL, new byte[1])).isEqualTo(Errno.EINVAL);
            assertThat(io.discard(Long.MAX_VALUE, 1)).isEqualTo(Errno.EINVAL);
            assertThat(io.write(0, new byte[PAGE + 1000])).isZero();
            ram.close();
            assertThat(ram.allocatedBytes()).isZero();
            assertThat(io.readStatus(0, 1)).isEqualTo(Errno.ESHUTDOWN);
            assertThat(io.flush()).isEqualTo(Errno.ESHUTDOWN);
        }
        assertThatThrownBy(() -> new RamDevice("big", 0)).hasMessageContaining("big size (0)");
        assertThatThrownBy(() -> new RamDevice("big", Long.MAX_VALUE)).hasMessageContaining(String.valueOf(Long.MAX_VALUE));
    }

    @Test
    void trimmingPagesWhileOthersCopyIsSafe() throws Exception {
        long size = 16L * PAGE;
        try (RamDevice ram = new RamDevice("ram", size); ExecutorService threads = Executors.newFixedThreadPool(6)) {
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(700);
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < 6; t++) {
                int role = t;
                done.add(threads.submit(() -> {
                    try (DeviceIo io = new DeviceIo(ram)) {
                        ThreadLocalRandom random = ThreadLocalRandom.current();
                        byte[] data = DeviceIo.pattern(3 * PAGE, role);
                        while (System.nanoTime() < deadline) {
                            long offset = random.nextLong(size - 3 * PAGE);
                            int length = random.nextInt(1, 3 * PAGE);
                            int status = switch (role % 3) {
                                case 0 -> io.write(offset, java.util.Arrays.copyOf(data, length));
                                case 1 -> io.readStatus(offset, length);
                                default -> random.nextBoolean()
                                        ? io.discard(offset, length)
                                        : io.writeZeroes(offset, length, random.nextBoolean() ? Bio.NO_HOLE : 0);
                            };
                            assertThat(status).isZero();
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get(30, TimeUnit.SECONDS);
            }
            assertThat(ram.allocatedBytes()).isBetween(0L, size);
        }
    }

    /** Completion that does nothing, shared so that the measured loop makes no objects. */
    private static final BioCompletion NOTHING = (bio, state) -> true;

    @Test
    void fourKibReadsAndWritesAllocateNothing() throws Exception {
        try (RamDevice ram = new RamDevice("ram", 64L * PAGE)) {
            BufferPool pool = new BufferPool(BufferPool.MAX_BUFFER, 0);
            PooledBuffer buffer = pool.acquire(4096, false);
            Bio bio = new Bio();
            Runnable loop = () -> {
                for (int i = 0; i < 20_000; i++) {
                    long offset = (i * 4096L + (i & 7)) % (63L * PAGE);
                    bio.reset((i & 1) == 0 ? Op.WRITE : Op.READ, offset, 4096, 0, buffer);
                    bio.pushCompletion(NOTHING, i);
                    Dispatch.submit(ram, bio);
                    if (bio.status() != 0) {
                        throw new AssertionError(bio.toString());
                    }
                }
            };
            // The first rounds load classes, fill pages and compile; after that a round allocates
            // nothing, though a late compilation may still show in one round or another.
            assertThat(DeviceIo.leastAllocatedPerRound(loop, 12))
                    .as("bytes allocated by the quietest round of 20,000 requests").isLessThan(64);
            buffer.release();
            pool.close();
        }
    }

    @Test
    void aLendingReadIsAnsweredWithTheDevicesOwnMemory() throws Exception {
        BufferPool pool = new BufferPool(40L << 20, 1L << 20);
        try (RamDevice ram = new RamDevice("ram", 8L * PAGE); DeviceIo io = new DeviceIo(ram)) {
            byte[] data = DeviceIo.pattern(3 * PAGE + 100, 7);
            io.write(PAGE - 50, data);
            Bio bio = LendingReads.read(ram, pool, PAGE - 50, data.length);
            assertThat(bio.status()).isZero();
            assertThat(bio.lent()).isTrue();
            assertThat(LendingReads.bufferBytes(bio, data.length))
                    .as("nothing was copied into the buffer").containsOnly(LendingReads.MARK);
            assertThat(LendingReads.lentBytes(bio)).isEqualTo(data);
            bio.giveBackLent();

            Bio holes = LendingReads.read(ram, pool, 5L * PAGE, 3 * PAGE);
            assertThat(LendingReads.lentBytes(holes)).as("pages never written").containsOnly(0);
            holes.giveBackLent();
            assertThat(ram.allocatedBytes()).as("lending a hole allocates nothing").isEqualTo(5L * PAGE);

            Bio lent = LendingReads.read(ram, pool, 0, 2 * PAGE);
            assertThat(io.discard(0, 2L * PAGE)).isZero();
            assertThat(LendingReads.lentBytes(lent)).as("a discard racing a send reads zeroes, never freed memory").containsOnly(0);
            lent.giveBackLent();
        } finally {
            pool.close();
        }
    }

    @Test
    void closingKeepsLentMemoryMappedUntilTheLastLoanIsGivenBack() throws Exception {
        BufferPool pool = new BufferPool(40L << 20, 1L << 20);
        try {
            RamDevice ram = new RamDevice("ram", 4L * PAGE);
            byte[] data = DeviceIo.pattern(2 * PAGE, 9);
            Bio first;
            Bio second;
            try (DeviceIo io = new DeviceIo(ram)) {
                io.write(PAGE, data);
                first = LendingReads.read(ram, pool, PAGE, 2 * PAGE);
                second = LendingReads.read(ram, pool, PAGE, PAGE);
                ram.close();
                assertThat(io.readStatus(0, 16)).isEqualTo(Errno.ESHUTDOWN);
            }
            Bio late = LendingReads.read(ram, pool, 0, PAGE);
            assertThat(late.status()).as("no loans once closed").isEqualTo(Errno.ESHUTDOWN);
            assertThat(late.lent()).isFalse();
            // Still mapped: reading it must neither crash nor show anything but the device's data.
            assertThat(LendingReads.lentBytes(first)).isEqualTo(data);
            first.giveBackLent();
            assertThat(LendingReads.lentBytes(second)).isEqualTo(java.util.Arrays.copyOf(data, PAGE));
            second.giveBackLent(); // the last one: the mapping goes now
            ram.close(); // closing twice is harmless
        } finally {
            pool.close();
        }
    }

    @ParameterizedTest(name = "seed {0}")
    @MethodSource("smallSeeds")
    void smallDeviceMatchesAByteArray(long seed) throws Exception {
        check(SMALL, DeviceActions.workload(seed, SMALL));
    }

    @ParameterizedTest(name = "seed {0}")
    @MethodSource("oddSeeds")
    void oddSizedDeviceMatchesAByteArray(long seed) throws Exception {
        check(ODD, DeviceActions.workload(seed, ODD));
    }

    private static void check(long size, List<Action> actions) throws Exception {
        try (RamDevice ram = new RamDevice("ram", size); DeviceIo io = new DeviceIo(ram)) {
            DeviceModel.run(io, actions, true);
            // Every allocated page is reported as data and only those are.
            Extents e = io.extents(0, size);
            long data = 0;
            for (int i = 0; i < e.count(); i++) {
                if (e.flags(i) == 0) {
                    data += e.length(i);
                }
            }
            assertThat(data).isLessThanOrEqualTo(ram.allocatedBytes())
                    .isGreaterThan(ram.allocatedBytes() - PAGE);
        }
    }

    static LongStream smallSeeds() {
        return DeviceActions.seeds(1_000, 150);
    }

    static LongStream oddSeeds() {
        return DeviceActions.seeds(2_000, 60);
    }
}
