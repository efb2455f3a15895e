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
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.io.TempDir;

class FileDeviceTest {
    private static final int MIB = 1 << 20;
    private static final int BLOCK = FileDevice.HOLE_BLOCK;
    private static final long SMALL = 130_000;
    private static final long ODD = 1_000_003;

    @TempDir
    Path dir;

    @Test
    void aMissingFileIsCreatedSparseAndAnExistingOneKeepsItsSize() throws IOException {
        Path path = dir.resolve("disk0");
        try (FileDevice dev = FileDevice.open("disk0", path, 4 * MIB, false); DeviceIo io = new DeviceIo(dev)) {
            assertThat(dev.size()).isEqualTo(4 * MIB);
            assertThat(dev.allocatedBytes()).isZero();
            assertThat(io.read(0, MIB)).containsOnly(0);
            Extents e = io.extents(0, 4 * MIB);
            assertThat(e.count()).isEqualTo(1);
            assertThat(e.flags(0)).isEqualTo(Extents.HOLE | Extents.ZERO);
            assertThat(io.write(MIB, new byte[] {1, 2, 3})).isZero();
        }
        try (FileDevice dev = FileDevice.open("disk0", path, 12345, false); DeviceIo io = new DeviceIo(dev)) {
            assertThat(dev.size()).isEqualTo(4 * MIB);
            assertThat(io.read(MIB, 3)).containsExactly(1, 2, 3);
        }
        try (FileDevice dev = FileDevice.open("disk0", path, 0, true)) {
            assertThat(dev.size()).isEqualTo(4 * MIB);
            assertThat(dev.readOnly()).isTrue();
        }
        assertThat(Files.size(path)).isEqualTo(4 * MIB);
    }

    @Test
    void creatingWithoutASizeFailsAndLeavesNoFile() {
        Path path = dir.resolve("nosize");
        assertThatThrownBy(() -> FileDevice.open("d", path, 0, false))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(path.toString()).hasMessageContaining("size (0)");
        assertThat(Files.exists(path)).isFalse();
        assertThatThrownBy(() -> FileDevice.open("d", path, MIB, true))
                .isInstanceOf(IOException.class).hasMessageContaining(path.toString());
    }

    @Test
    void unalignedWritesAcrossBlocksReadBack() throws IOException {
        try (FileDevice dev = FileDevice.open("d", dir.resolve("d"), SMALL, false); DeviceIo io = new DeviceIo(dev)) {
            byte[] data = DeviceIo.pattern(3 * BLOCK + 77, 5);
            assertThat(io.write(BLOCK - 33, data)).isZero();
            assertThat(io.read(BLOCK - 33, data.length)).isEqualTo(data);
            assertThat(io.read(0, BLOCK - 33)).containsOnly(0);
            byte[] tail = DeviceIo.pattern(100, 6);
            assertThat(io.write(SMALL - 100, tail)).isZero();
            assertThat(io.read(SMALL - 100, 100)).isEqualTo(tail);
            assertThat(Files.size(dir.resolve("d"))).isEqualTo(SMALL);
        }
    }

    @Test
    void discardPunchesWholeBlocksAndLeavesTheEdges() throws IOException {
        try (FileDevice dev = FileDevice.open("d", dir.resolve("d"), 4 * MIB, false); DeviceIo io = new DeviceIo(dev)) {
            byte[] data = DeviceIo.pattern(2 * MIB, 7);
            io.write(MIB, data);
            long before = dev.allocatedBytes();
            assertThat(before).isGreaterThanOrEqualTo(2 * MIB);

            long start = MIB + 100;
            long length = MIB;
            assertThat(io.discard(start, length)).isZero();
            assertThat(dev.allocatedBytes()).isLessThanOrEqualTo(before - MIB + BLOCK);
            // Advisory: the partial blocks at each edge keep their data; the whole blocks read zero.
            assertThat(io.read(start, BLOCK - 100)).isEqualTo(slice(data, 100, BLOCK - 100));
            assertThat(io.read(MIB + BLOCK, MIB - BLOCK)).containsOnly(0);
            assertThat(io.read(2 * MIB, 100)).isEqualTo(slice(data, MIB, 100));

            Extents e = io.extents(0, 4 * MIB);
            assertThat(runs(e)).containsExactly(
                    "hole " + MIB, "data " + BLOCK, "hole " + (MIB - BLOCK), "data " + MIB, "hole " + MIB);
        }
    }

    @Test
    void writeZeroesPunchesTheMiddleAndZeroesTheEdges() throws IOException {
        try (FileDevice dev = FileDevice.open("d", dir.resolve("d"), 4 * MIB, false); DeviceIo io = new DeviceIo(dev)) {
            byte[] data = DeviceIo.pattern(4 * MIB, 8);
            io.write(0, data);
            long before = dev.allocatedBytes();
            assertThat(io.writeZeroes(MIB - 10, MIB + 20, Bio.FAST_ZERO)).isZero();
            assertThat(io.read(MIB - 10, MIB + 20)).containsOnly(0);
            assertThat(io.read(MIB - 11, 1)[0]).isEqualTo(data[MIB - 11]);
            assertThat(io.read(2 * MIB + 10, 1)[0]).isEqualTo(data[2 * MIB + 10]);
            assertThat(dev.allocatedBytes()).isLessThanOrEqualTo(before - MIB + 2 * BLOCK);

            long punched = dev.allocatedBytes();
            assertThat(io.writeZeroes(3 * MIB + 1, MIB - 1, Bio.NO_HOLE)).isZero();
            assertThat(io.read(3 * MIB + 1, MIB - 1)).containsOnly(0);
            assertThat(io.read(3 * MIB, 1)[0]).isEqualTo(data[3 * MIB]);
            assertThat(dev.allocatedBytes()).as("NO_HOLE keeps the blocks").isGreaterThanOrEqualTo(punched);
        }
    }

    @Test
    void zeroingTheTailOfAnOddSizedDeviceCountsItsLastBlockAsWhole() throws IOException {
        try (FileDevice dev = FileDevice.open("d", dir.resolve("d"), SMALL, false); DeviceIo io = new DeviceIo(dev)) {
            io.write(0, DeviceIo.pattern((int) SMALL, 9));
            assertThat(io.writeZeroes(SMALL - 3 * BLOCK - 5, 3 * BLOCK + 5, 0)).isZero();
            assertThat(io.read(SMALL - 3 * BLOCK - 5, 3 * BLOCK + 5)).containsOnly(0);
            assertThat(io.discard(0, SMALL)).isZero();
            assertThat(dev.allocatedBytes()).isZero();
            assertThat(io.read(0, (int) SMALL)).containsOnly(0);
        }
    }

    @Test
    void flushRunsOnTheFlushThreadAndFuaWritesComplete() throws Exception {
        try (FileDevice dev = FileDevice.open("disk7", dir.resolve("d"), MIB, false); DeviceIo io = new DeviceIo(dev)) {
            assertThat(io.write(10, new byte[] {1}, Bio.FUA)).isZero();
            assertThat(io.writeZeroes(0, BLOCK, Bio.FUA)).isZero();
            assertThat(io.discard(0, BLOCK)).isZero();

            List<CompletableFuture<String>> flushes = new ArrayList<>();
            for (int i = 0; i < 50; i++) {
                Bio bio = new Bio().reset(Op.FLUSH, 0, 0, 0, null);
                CompletableFuture<String> done = new CompletableFuture<>();
                bio.pushCompletion((b, s) -> done.complete(b.status() + " " + Thread.currentThread().getName()), 0);
                Dispatch.submit(dev, bio);
                flushes.add(done);
            }
            for (CompletableFuture<String> f : flushes) {
                assertThat(f.get(10, TimeUnit.SECONDS)).isEqualTo("0 flush-disk7");
            }
        }
    }

    @Test
    void aReadOnlyDeviceRefusesChangesWithEperm() throws IOException {
        Path path = dir.resolve("ro");
        Files.write(path, DeviceIo.pattern(3 * BLOCK, 1));
        try (FileDevice dev = FileDevice.open("ro", path, 0, true); DeviceIo io = new DeviceIo(dev)) {
            assertThat(io.read(0, 3 * BLOCK)).isEqualTo(DeviceIo.pattern(3 * BLOCK, 1));
            assertThat(io.write(0, new byte[1])).isEqualTo(Errno.EPERM);
            assertThat(io.discard(0, BLOCK)).isEqualTo(Errno.EPERM);
            assertThat(io.writeZeroes(0, BLOCK, 0)).isEqualTo(Errno.EPERM);
            assertThat(io.flush()).isZero();
        }
        assertThat(Files.readAllBytes(path)).isEqualTo(DeviceIo.pattern(3 * BLOCK, 1));
    }

    @Test
    void badRangesFailWithEinvalAndAClosedDeviceWithEshutdown() throws IOException {
        Path path = dir.resolve("d");
        FileDevice dev = FileDevice.open("d", path, SMALL, false);
        try (DeviceIo io = new DeviceIo(dev)) {
            assertThat(io.write(SMALL - 1, new byte[2])).isEqualTo(Errno.EINVAL);
            assertThat(io.writeZeroes(SMALL, 1, 0)).isEqualTo(Errno.EINVAL);
            assertThat(io.readStatus(Long.MAX_VALUE, 1)).isEqualTo(Errno.EINVAL);
            assertThat(Files.size(path)).as("the file never grows").isEqualTo(SMALL);
            dev.close();
            dev.close();
            assertThat(io.readStatus(0, 1)).isEqualTo(Errno.ESHUTDOWN);
            assertThat(io.flush()).isEqualTo(Errno.ESHUTDOWN);
        }
    }

    @Test
    void aBioWhoseBufferCannotHoldItCompletesWithEinvalInsteadOfThrowing() throws Exception {
        try (FileDevice dev = FileDevice.open("d", dir.resolve("d"), MIB, false)) {
            BufferPool pool = new BufferPool(BufferPool.MAX_BUFFER, 0);
            PooledBuffer buffer = pool.acquire(4096, false);
            for (Op op : new Op[] {Op.READ, Op.WRITE}) {
                Bio bio = new Bio().reset(op, 0, 4096, 0, buffer);
                bio.narrow(0, 4096, 1); // one byte too far into the buffer
                int[] status = {-1};
                bio.pushCompletion((b, s) -> {
                    status[0] = b.status();
                    return true;
                }, 0);
                Dispatch.submit(dev, bio);
                assertThat(status[0]).as("%s", op).isEqualTo(Errno.EINVAL);
            }
            buffer.release();
            pool.close();
        }
    }

    @Test
    void aDeviceThatCannotBeSyncedStillFlushesAndCloses() throws IOException {
        Path devNull = Path.of("/dev/null");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isWritable(devNull), "/dev/null is writable");
        try (FileDevice dev = FileDevice.open("null", devNull, 0, false); DeviceIo io = new DeviceIo(dev)) {
            assertThat(dev.size()).isZero();
            assertThat(io.flush()).isZero();
        }
    }

    /** Completion that does nothing, shared so that the measured loop makes no objects. */
    private static final BioCompletion NOTHING = (bio, state) -> true;

    @Test
    void fourKibReadsAndWritesAllocateNothing() throws Exception {
        try (FileDevice dev = FileDevice.open("d", dir.resolve("d"), 4 * MIB, false)) {
            BufferPool pool = new BufferPool(BufferPool.MAX_BUFFER, 0);
            PooledBuffer buffer = pool.acquire(4096, false);
            Bio bio = new Bio();
            Runnable loop = () -> {
                for (int i = 0; i < 10_000; i++) {
                    long offset = (i * 4096L + (i & 7)) % (4 * MIB - 8192);
                    bio.reset((i & 1) == 0 ? Op.WRITE : Op.READ, offset, 4096, 0, buffer);
                    bio.pushCompletion(NOTHING, i);
                    Dispatch.submit(dev, bio);
                    if (bio.status() != 0) {
                        throw new AssertionError(bio.toString());
                    }
                }
            };
            // The first rounds load classes, fill pages and compile; after that a round allocates
            // nothing, though a late compilation may still show in one round or another.
            assertThat(DeviceIo.leastAllocatedPerRound(loop, 12))
                    .as("bytes allocated by the quietest round of 10,000 requests").isLessThan(64);
            buffer.release();
            pool.close();
        }
    }

    @Test
    void flushesAllocateNothingOnTheFlushThread() throws Exception {
        try (FileDevice dev = FileDevice.open("flushed", dir.resolve("f"), MIB, false)) {
            Thread flusher = Thread.getAllStackTraces().keySet().stream()
                    .filter(t -> t.getName().equals("flush-flushed")).findFirst().orElseThrow();
            var threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
            Bio bio = new Bio();
            java.util.concurrent.atomic.AtomicBoolean done = new java.util.concurrent.atomic.AtomicBoolean();
            BioCompletion signal = (b, state) -> {
                done.set(true);
                return true;
            };
            long least = Long.MAX_VALUE;
            for (int round = 0; round < 8; round++) {
                long before = threads.getThreadAllocatedBytes(flusher.threadId());
                for (int i = 0; i < 1000; i++) {
                    done.set(false);
                    bio.reset(Op.FLUSH, 0, 0, 0, null);
                    bio.pushCompletion(signal, i);
                    Dispatch.submit(dev, bio);
                    while (!done.get()) {
                        Thread.onSpinWait(); // the flush thread sleeps between flushes, as it does serving a client
                    }
                    assertThat(bio.status()).isZero();
                }
                least = Math.min(least, threads.getThreadAllocatedBytes(flusher.threadId()) - before);
            }
            // A blocking queue's wait made a node per flush: 1,000 flushes came to about 32 KB.
            assertThat(least).as("bytes the flush thread allocated in the quietest round of 1,000 flushes")
                    .isLessThan(1024);
        }
    }

    private static byte[] slice(byte[] b, int from, int length) {
        return java.util.Arrays.copyOfRange(b, from, from + length);
    }

    private static List<String> runs(Extents e) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < e.count(); i++) {
            out.add((e.flags(i) == 0 ? "data " : e.flags(i) == (Extents.HOLE | Extents.ZERO) ? "hole " : "flags "
                    + e.flags(i) + " ") + e.length(i));
        }
        return out;
    }

    /** One directory for the whole class; each property case makes and removes its own file in it. */
    @TempDir
    static Path propertyDir;

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
        Path path = Files.createTempFile(propertyDir, "dev", ".img");
        Files.delete(path); // let the device create it sparse
        try (FileDevice dev = FileDevice.open("prop", path, size, false); DeviceIo io = new DeviceIo(dev)) {
            DeviceModel.run(io, actions, false);
        } finally {
            Files.deleteIfExists(path);
        }
    }

    static LongStream smallSeeds() {
        return DeviceActions.seeds(1_000, 100);
    }

    @Test
    void aCachedReadIsLentTheFilesOwnPagesAndAnUncachedOneIsCopied() throws Throwable {
        Path path = dir.resolve("lend");
        BufferPool pool = new BufferPool(40L << 20, 1L << 20);
        try (FileDevice dev = FileDevice.open("lend", path, 4 * MIB, false); DeviceIo io = new DeviceIo(dev)) {
            byte[] data = DeviceIo.pattern(3 * MIB, 11);
            assertThat(io.write(0, data)).isZero();

            Bio cached = LendingReads.read(dev, pool, 100, MIB);
            assertThat(cached.status()).isZero();
            assertThat(cached.lent()).isTrue();
            assertThat(LendingReads.bufferBytes(cached, MIB)).as("nothing copied into the buffer")
                    .containsOnly(LendingReads.MARK);
            assertThat(LendingReads.lentBytes(cached)).isEqualTo(Arrays.copyOfRange(data, 100, 100 + MIB));
            byte[] rewrite = DeviceIo.pattern(1000, 12);
            assertThat(io.write(5000, rewrite)).isZero();
            assertThat(LendingReads.lentBytes(cached)).as("the page cache's own pages, written through the file")
                    .startsWith(Arrays.copyOfRange(data, 100, 5000)).containsSequence(rewrite);
            cached.giveBackLent();

            Bio plain = LendingReads.readWithoutLending(dev, pool, 2 * MIB, MIB);
            assertThat(plain.lent()).as("a read that does not allow lending").isFalse();
            assertThat(LendingReads.bufferBytes(plain, MIB)).isEqualTo(Arrays.copyOfRange(data, 2 * MIB, 3 * MIB));
            plain.buffer().release();

            Assumptions.assumeFalse("tmpfs".equals(Files.getFileStore(dir).type()),
                    "tmpfs keeps every page in memory, so no read finds one missing");
            assertThat(io.flush()).isZero(); // only clean pages can be dropped
            dropCachedPages(path, 2 * MIB, MIB);
            Bio uncached = LendingReads.read(dev, pool, 2 * MIB, MIB);
            assertThat(uncached.status()).isZero();
            assertThat(uncached.lent()).as("pages not in memory are read, not lent").isFalse();
            assertThat(LendingReads.bufferBytes(uncached, MIB)).isEqualTo(Arrays.copyOfRange(data, 2 * MIB, 3 * MIB));
        } finally {
            pool.close();
        }
    }

    @Test
    void closingKeepsLentPagesMappedUntilTheLastLoanIsGivenBack() throws Exception {
        BufferPool pool = new BufferPool(40L << 20, 1L << 20);
        try {
            FileDevice dev = FileDevice.open("lend", dir.resolve("lend"), 2 * MIB, false);
            byte[] data = DeviceIo.pattern(MIB, 13);
            Bio lent;
            try (DeviceIo io = new DeviceIo(dev)) {
                assertThat(io.write(MIB, data)).isZero();
                lent = LendingReads.read(dev, pool, MIB, MIB);
                assertThat(lent.lent()).isTrue();
                dev.close();
                assertThat(io.readStatus(0, 16)).isEqualTo(Errno.ESHUTDOWN);
            }
            Bio late = LendingReads.read(dev, pool, 0, MIB);
            assertThat(late.status()).as("no loans once closed").isEqualTo(Errno.ESHUTDOWN);
            assertThat(late.lent()).isFalse();
            assertThat(LendingReads.lentBytes(lent)).as("still mapped after close").isEqualTo(data);
            lent.giveBackLent(); // the last hold: the mapping goes now
            dev.close();
        } finally {
            pool.close();
        }
    }

    /** Drops a file's clean pages from the page cache, as memory pressure would ({@code posix_fadvise}). */
    private static void dropCachedPages(Path path, long offset, long length) throws Throwable {
        Linker linker = Linker.nativeLinker();
        MethodHandle open = linker.downcallHandle(linker.defaultLookup().find("open").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
        MethodHandle fadvise = linker.downcallHandle(linker.defaultLookup().find("posix_fadvise").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG,
                        ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
        MethodHandle close = linker.downcallHandle(linker.defaultLookup().find("close").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
        try (Arena arena = Arena.ofConfined()) {
            int fd = (int) open.invokeExact(arena.allocateFrom(path.toString()), 0);
            assertThat(fd).as("open " + path).isNotNegative();
            int posixFadvDontneed = 4;
            int r = (int) fadvise.invokeExact(fd, offset, length, posixFadvDontneed);
            int ignored = (int) close.invokeExact(fd);
            assertThat(r).as("posix_fadvise").isZero();
        }
    }

    static LongStream oddSeeds() {
        return DeviceActions.seeds(2_000, 40);
    }
}
