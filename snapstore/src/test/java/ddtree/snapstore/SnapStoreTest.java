package ddtree.snapstore;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ddtree.block.BufferPool;
import ddtree.block.DeviceIo;
import ddtree.block.Errno;
import ddtree.block.device.RamDevice;
import ddtree.snapstore.SnapshotTable.Snapshot;
import ddtree.snapstore.SnapshotTable.State;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The store's data path against byte-array models of the origin and every snapshot. */
class SnapStoreTest {
    static final int CHUNK = 4096;
    static final long ORIGIN = 64 * CHUNK;

    final BufferPool pool = new BufferPool(64L << 20, 8L << 20);
    final RamDevice origin = new RamDevice("origin", ORIGIN);
    final List<String> events = new CopyOnWriteArrayList<>();
    RamDevice storeDev = new RamDevice("store", 32L << 20);

    SnapStore open() throws Exception {
        return SnapStore.open("vol", new SnapStore.Devices(origin, ORIGIN, storeDev, null), CHUNK, 1024, pool,
                events::add);
    }

    static final class Model {
        final byte[] origin = new byte[(int) ORIGIN];
        final Map<String, byte[]> snaps = new LinkedHashMap<>();
        final Map<String, Boolean> writable = new LinkedHashMap<>();
    }

    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {1, 2, 3, 4, 5, 6})
    void originAndSnapshotsMatchTheModelThroughReopen(long seed) throws Exception {
        Random rnd = new Random(seed);
        Model m = new Model();
        SnapStore store = open();
        try {
            for (int op = 0; op < 600; op++) {
                int what = rnd.nextInt(100);
                if (what < 50) {
                    int off = rnd.nextInt((int) ORIGIN);
                    int len = 1 + rnd.nextInt(Math.min(CHUNK - off % CHUNK, 3000));
                    byte[] data = DeviceIo.pattern(len, rnd.nextInt());
                    assertThat(new DeviceIo(new StoreView(store, 0)).write(off, data)).isZero();
                    System.arraycopy(data, 0, m.origin, off, len);
                } else if (what < 58 && m.snaps.size() < 12) {
                    String name = "s" + op;
                    boolean w = rnd.nextBoolean();
                    store.createSnapshot(name, w, rnd.nextInt(3), 0);
                    m.snaps.put(name, m.origin.clone());
                    m.writable.put(name, w);
                } else if (what < 70 && !m.snaps.isEmpty()) {
                    String name = pick(rnd, m);
                    Snapshot s = store.snapshot(name).orElseThrow();
                    int off = rnd.nextInt((int) ORIGIN);
                    int len = 1 + rnd.nextInt(CHUNK - off % CHUNK);
                    byte[] data = DeviceIo.pattern(len, rnd.nextInt());
                    int status = new DeviceIo(new StoreView(store, s.id())).write(off, data);
                    if (m.writable.get(name)) {
                        assertThat(Errno.name(status)).isEqualTo("OK");
                        System.arraycopy(data, 0, m.snaps.get(name), off, len);
                    } else {
                        assertThat(Errno.name(status)).isEqualTo("EPERM");
                    }
                } else if (what < 74 && !m.snaps.isEmpty()) {
                    String name = pick(rnd, m);
                    store.deleteSnapshot(name);
                    m.snaps.remove(name);
                    m.writable.remove(name);
                } else if (what < 76) {
                    store.close();
                    store = open();
                } else if (!m.snaps.isEmpty() || what < 90) {
                    verify(store, m, rnd);
                }
            }
            store.settle();
            store.check();
            verifyAll(store, m);
            store.close();
            store = open();
            verifyAll(store, m);
            store.settle();
            assertThat(store.snapshots()).extracting(Snapshot::name).containsExactlyElementsOf(m.snaps.keySet());
        } finally {
            store.close();
        }
    }

    private static String pick(Random rnd, Model m) {
        List<String> names = new ArrayList<>(m.snaps.keySet());
        return names.get(rnd.nextInt(names.size()));
    }

    private static void verify(SnapStore store, Model m, Random rnd) throws Exception {
        int off = rnd.nextInt((int) ORIGIN);
        int len = 1 + rnd.nextInt(CHUNK - off % CHUNK);
        assertThat(new DeviceIo(new StoreView(store, 0)).read(off, len))
                .isEqualTo(Arrays.copyOfRange(m.origin, off, off + len));
        for (Map.Entry<String, byte[]> e : m.snaps.entrySet()) {
            long id = store.snapshot(e.getKey()).orElseThrow().id();
            assertThat(new DeviceIo(new StoreView(store, id)).read(off, len)).as("snapshot %s at %d+%d", e.getKey(), off, len)
                    .isEqualTo(Arrays.copyOfRange(e.getValue(), off, off + len));
        }
    }

    private static void verifyAll(SnapStore store, Model m) throws Exception {
        for (long c = 0; c < ORIGIN / CHUNK; c++) {
            int off = (int) (c * CHUNK);
            assertThat(new DeviceIo(new StoreView(store, 0)).read(off, CHUNK)).as("origin chunk %d", c)
                    .isEqualTo(Arrays.copyOfRange(m.origin, off, off + CHUNK));
            for (Map.Entry<String, byte[]> e : m.snaps.entrySet()) {
                long id = store.snapshot(e.getKey()).orElseThrow().id();
                assertThat(new DeviceIo(new StoreView(store, id)).read(off, CHUNK))
                        .as("snapshot %s chunk %d", e.getKey(), c)
                        .isEqualTo(Arrays.copyOfRange(e.getValue(), off, off + CHUNK));
            }
        }
    }

    @Test
    void snapshotReadsNeverSeeOriginWritesRacingThem() throws Exception {
        try (SnapStore store = open()) {
            DeviceIo origin0 = new DeviceIo(new StoreView(store, 0));
            for (int c = 0; c < ORIGIN / CHUNK; c++) {
                origin0.write(c * CHUNK, DeviceIo.pattern(CHUNK, c));
            }
            List<Throwable> errors = new CopyOnWriteArrayList<>();
            java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
            List<Thread> threads = new ArrayList<>();
            for (int w = 0; w < 3; w++) {
                int seed = w;
                threads.add(Thread.ofPlatform().start(() -> {
                    Random rnd = new Random(seed);
                    DeviceIo io = new DeviceIo(new StoreView(store, 0));
                    while (!stop.get()) {
                        int c = rnd.nextInt((int) (ORIGIN / CHUNK));
                        io.write(c * CHUNK, DeviceIo.pattern(CHUNK, 1000 + rnd.nextInt(1000)));
                    }
                }));
            }
            // Snapshots taken while writers run: each must read, chunk by chunk, what the origin
            // held at that moment, which the reader checks against a copy read right after.
            for (int round = 0; round < 6 && errors.isEmpty(); round++) {
                Snapshot s = store.createSnapshot("r" + round, false, 0, 0);
                DeviceIo snap = new DeviceIo(new StoreView(store, s.id()));
                byte[][] first = new byte[(int) (ORIGIN / CHUNK)][];
                for (int c = 0; c < first.length; c++) {
                    first[c] = snap.read(c * CHUNK, CHUNK);
                }
                for (int again = 0; again < 3; again++) {
                    for (int c = 0; c < first.length; c++) {
                        byte[] now = snap.read(c * CHUNK, CHUNK);
                        if (!Arrays.equals(now, first[c])) {
                            errors.add(new AssertionError("snapshot " + s.name() + " chunk " + c + " changed under writes"));
                        }
                    }
                }
            }
            stop.set(true);
            for (Thread t : threads) {
                t.join(10_000);
            }
            assertThat(errors).isEmpty();
            assertThat(store.check()).isPositive();
        }
    }

    @Test
    void oneCopyOutServesEverySnapshotThatSharesTheChunk() throws Exception {
        try (SnapStore store = open()) {
            DeviceIo io = new DeviceIo(new StoreView(store, 0));
            byte[] before = DeviceIo.pattern(CHUNK, 1);
            io.write(0, before);
            for (int i = 0; i < 100; i++) {
                store.createSnapshot("s" + i, false, 0, 0);
            }
            io.write(0, DeviceIo.pattern(CHUNK, 2));
            SnapStore.StoreStatus st = store.status();
            assertThat(st.storeChunksUsed()).isEqualTo(1);
            assertThat(st.sharing()).containsEntry("65-128", 1L);
            List<SnapStore.SnapshotUsage> usage = store.usage();
            assertThat(usage).allSatisfy(u -> {
                assertThat(u.unique()).isZero();
                assertThat(u.shared()).isEqualTo(1);
            });
            assertThat(new DeviceIo(new StoreView(store, 57)).read(0, CHUNK)).isEqualTo(before);
        }
    }

    @Test
    void sixtyFiveThousandFiveHundredThirtySixSnapshotsShareOneCopy() throws Exception {
        int n = 65_536;
        try (SnapStore store = SnapStore.open("vol", new SnapStore.Devices(origin, ORIGIN, storeDev, null), CHUNK, n,
                pool, events::add)) {
            DeviceIo io = new DeviceIo(new StoreView(store, 0));
            byte[] before = DeviceIo.pattern(CHUNK, 1);
            io.write(0, before);
            long t0 = System.nanoTime();
            for (int i = 0; i < n; i++) {
                store.createSnapshot("s" + i, false, 0, 0);
            }
            long perCreate = (System.nanoTime() - t0) / n;
            System.out.printf("%d snapshots, %.3f ms per create%n", n, perCreate / 1e6);
            assertThat(store.snapshots()).hasSize(n);
            io.write(0, DeviceIo.pattern(CHUNK, 2));
            SnapStore.StoreStatus st = store.status();
            assertThat(st.storeChunksUsed()).isEqualTo(1);
            assertThat(st.sharing()).containsExactly(Map.entry("32769-65536", 1L));
            for (long id : new long[] {1, 32_768, 65_536}) {
                assertThat(new DeviceIo(new StoreView(store, id)).read(0, CHUNK)).as("snapshot %d", id).isEqualTo(before);
            }
            store.deleteSnapshot("s30000");
            store.settle();
            assertThat(store.status().storeChunksUsed()).isEqualTo(1);
            assertThat(store.check()).isEqualTo(1);
        }
    }

    @Test
    void aChunkWrittenAfterEverySnapshotKeepsAllItsCopies() throws Exception {
        // More exceptions than one btree entry holds: the chunk's copies spread over several keys.
        try (SnapStore store = open()) {
            DeviceIo io = new DeviceIo(new StoreView(store, 0));
            int n = 400;
            for (int i = 0; i < n; i++) {
                assertThat(io.write(0, DeviceIo.pattern(CHUNK, i))).isZero();
                store.createSnapshot("s" + i, false, 0, 0);
            }
            assertThat(io.write(0, DeviceIo.pattern(CHUNK, n))).isZero();
            assertThat(store.check()).isEqualTo(n);
            for (int i = 0; i < n; i += 37) {
                long id = store.snapshot("s" + i).orElseThrow().id();
                assertThat(new DeviceIo(new StoreView(store, id)).read(0, CHUNK)).as("s%d", i)
                        .isEqualTo(DeviceIo.pattern(CHUNK, i));
            }
            for (int i = 0; i < n; i += 2) {
                store.deleteSnapshot("s" + i);
            }
            store.settle();
            assertThat(store.check()).isEqualTo(n / 2);
            store.close();
            try (SnapStore again = open()) {
                long id = again.snapshot("s399").orElseThrow().id();
                assertThat(new DeviceIo(new StoreView(again, id)).read(0, CHUNK)).isEqualTo(DeviceIo.pattern(CHUNK, 399));
                List<Long> changed = new ArrayList<>();
                again.changedChunks(again.snapshot("s1").orElseThrow().id(), id, 0, ORIGIN / CHUNK, changed::add);
                assertThat(changed).containsExactly(0L);
            }
        }
    }

    @Test
    void deletingReclaimsOnlyWhatNoOtherSnapshotHolds() throws Exception {
        try (SnapStore store = open()) {
            DeviceIo io = new DeviceIo(new StoreView(store, 0));
            store.createSnapshot("a", false, 0, 0);
            for (int c = 0; c < 10; c++) {
                io.write(c * CHUNK, DeviceIo.pattern(CHUNK, c));
            }
            store.createSnapshot("b", false, 0, 0);
            for (int c = 0; c < 20; c++) {
                io.write(c * CHUNK, DeviceIo.pattern(CHUNK, 100 + c));
            }
            assertThat(store.status().storeChunksUsed()).isEqualTo(30);
            store.deleteSnapshot("a");
            store.settle();
            assertThat(store.status().storeChunksUsed()).isEqualTo(20);
            store.deleteSnapshot("b");
            store.settle();
            assertThat(store.check()).isZero();
            assertThat(store.status().storeChunksUsed()).isZero();
            assertThat(store.snapshots()).isEmpty();
        }
    }

    @Test
    void aFullStoreDropsTheLowestPrioritySnapshotAndKeepsTheOriginWrite() throws Exception {
        RamDevice small = new RamDevice("store", 8 * CHUNK);
        RamDevice metaDev = new RamDevice("meta", 8L << 20);
        try (SnapStore store = SnapStore.open("vol", new SnapStore.Devices(origin, ORIGIN, small, metaDev), CHUNK, 1024,
                pool, events::add)) {
            assertThat(store.status().storeChunks()).isEqualTo(8);
            long total = store.status().storeChunks();
            DeviceIo io = new DeviceIo(new StoreView(store, 0));
            store.createSnapshot("keep", false, 5, 0);
            store.createSnapshot("cheap", false, 1, 0);
            for (int c = 0; c < total + 4; c++) {
                assertThat(io.write(c * CHUNK, DeviceIo.pattern(CHUNK, c))).isZero();
            }
            for (int c = 0; c < total + 4; c++) {
                assertThat(io.read(c * CHUNK, CHUNK)).isEqualTo(DeviceIo.pattern(CHUNK, c));
            }
            assertThat(store.snapshot("cheap").orElseThrow().state()).isIn(State.DROPPED, State.DROPPING);
            assertThat(events).anyMatch(e -> e.contains("cheap dropped"));
            store.settle();
            assertThat(store.status().dropped()).extracting(Snapshot::name).contains("cheap");
            store.deleteSnapshot("cheap");
            assertThat(store.snapshot("cheap")).isEmpty();
        }
    }

    /**
     * A writable snapshot is dropped for space while one of its writes is still on its way to its
     * own chunk. The chunk must not go to the copy-out that needed the space until that write has
     * landed, or the write would overwrite the new snapshot's copy of the origin.
     */
    @Test
    void aDroppedSnapshotsWriteInFlightDoesNotLandInAnotherSnapshotsChunk() throws Exception {
        int inFlightLength = 1000; // no other write to the store has this length
        HoldingDevice small = new HoldingDevice(new RamDevice("store", 4 * CHUNK), inFlightLength);
        RamDevice metaDev = new RamDevice("meta", 8L << 20);
        try (SnapStore store = SnapStore.open("vol", new SnapStore.Devices(origin, ORIGIN, small, metaDev), CHUNK, 1024,
                pool, events::add)) {
            long total = store.status().storeChunks();
            DeviceIo originIo = new DeviceIo(new StoreView(store, 0));
            for (int c = 0; c < total; c++) {
                assertThat(originIo.write(c * CHUNK, DeviceIo.pattern(CHUNK, c))).isZero();
            }
            long w = store.createSnapshot("w", true, 0, 0).id();
            DeviceIo wIo = new DeviceIo(new StoreView(store, w));
            for (int c = 0; c < total; c++) { // w's own copy of every chunk: the store is full
                assertThat(wIo.write(c * CHUNK, DeviceIo.pattern(CHUNK, 100 + c))).isZero();
            }
            assertThat(store.status().storeChunksUsed()).isEqualTo(total);

            // A write to w's own chunk, in place, held below the store.
            Thread writer = Thread.ofPlatform().start(() -> wIo.write(0, DeviceIo.pattern(inFlightLength, 7)));
            assertThat(small.awaitHeld(10_000)).isTrue();

            // An origin write under a new snapshot needs a chunk: w is dropped for it.
            store.createSnapshot("t", false, 5, 0);
            long t = store.snapshot("t").orElseThrow().id();
            int[] status = {-1};
            Thread originWriter = Thread.ofPlatform().start(() -> status[0] = originIo.write(0, DeviceIo.pattern(CHUNK, 9)));
            originWriter.join(500); // long enough for a drop that does not wait to reuse w's chunk
            small.release();
            originWriter.join(10_000);
            writer.join(10_000);
            assertThat(originWriter.isAlive()).isFalse();
            assertThat(status[0]).isZero();

            assertThat(store.snapshot("w").orElseThrow().state()).isIn(State.DROPPED, State.DROPPING);
            assertThat(new DeviceIo(new StoreView(store, t)).read(0, CHUNK)).isEqualTo(DeviceIo.pattern(CHUNK, 0));
            assertThat(originIo.read(0, CHUNK)).isEqualTo(DeviceIo.pattern(CHUNK, 9));
            assertThat(store.check()).isEqualTo(1);
        }
    }

    /**
     * Round after round, a writable snapshot busy with reads and writes of its own chunks is
     * dropped for space by origin writes. The drop waits for the snapshot's I/O in the store; every
     * request must still complete (a wait that missed a completion hung the store here).
     */
    @Test
    @org.junit.jupiter.api.Timeout(60)
    void dropsForSpaceAmidSnapshotIoLeaveNoRequestWaiting() throws Exception {
        RamDevice small = new RamDevice("store", 8 * CHUNK);
        RamDevice metaDev = new RamDevice("meta", 8L << 20);
        try (SnapStore store = SnapStore.open("vol", new SnapStore.Devices(origin, ORIGIN, small, metaDev), CHUNK, 1024,
                pool, events::add)) {
            long total = store.status().storeChunks();
            DeviceIo originIo = new DeviceIo(new StoreView(store, 0));
            long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(20);
            for (int round = 0; round < 30 && System.nanoTime() < deadline; round++) {
                long w = store.createSnapshot("w" + round, true, 0, 0).id();
                DeviceIo wIo = new DeviceIo(new StoreView(store, w));
                for (int c = 0; c < total - 1; c++) {
                    assertThat(wIo.write(c * CHUNK, DeviceIo.pattern(CHUNK, c))).isZero();
                }
                java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
                List<Thread> busy = new ArrayList<>();
                for (int t = 0; t < 4; t++) {
                    int seed = t;
                    busy.add(Thread.ofPlatform().start(() -> {
                        Random r = new Random(seed);
                        while (!stop.get()) {
                            long off = (long) r.nextInt((int) total - 1) * CHUNK;
                            if (r.nextBoolean()) {
                                wIo.write(off, DeviceIo.pattern(512, seed));
                            } else {
                                wIo.readStatus(off, 4096);
                            }
                        }
                    }));
                }
                store.createSnapshot("t" + round, false, 5, 0);
                for (int c = 0; c < total && store.snapshot("w" + round).orElseThrow().state() == State.LIVE; c++) {
                    assertThat(originIo.write(c * CHUNK, DeviceIo.pattern(CHUNK, round))).isZero();
                }
                stop.set(true);
                for (Thread t : busy) {
                    t.join(30_000);
                    assertThat(t.isAlive()).as("a request to the dropped snapshot never completed").isFalse();
                }
                assertThat(store.snapshot("w" + round).orElseThrow().state()).isIn(State.DROPPED, State.DROPPING);
                store.settle();
                store.deleteSnapshot("w" + round);
                store.deleteSnapshot("t" + round);
                store.settle();
            }
            assertThat(store.check()).isZero();
        }
    }

    @Test
    void revertMakesTheOriginTheSnapshotAndKeepsOtherSnapshots() throws Exception {
        try (SnapStore store = open()) {
            DeviceIo io = new DeviceIo(new StoreView(store, 0));
            io.write(0, DeviceIo.pattern(CHUNK, 1));
            store.createSnapshot("a", false, 0, 0);
            io.write(0, DeviceIo.pattern(CHUNK, 2));
            io.write(CHUNK, DeviceIo.pattern(CHUNK, 3));
            store.createSnapshot("b", false, 0, 0);
            store.revert("a");
            assertThat(io.read(0, CHUNK)).isEqualTo(DeviceIo.pattern(CHUNK, 1));
            assertThat(io.read(CHUNK, CHUNK)).isEqualTo(new byte[CHUNK]);
            long b = store.snapshot("b").orElseThrow().id();
            assertThat(new DeviceIo(new StoreView(store, b)).read(0, CHUNK)).isEqualTo(DeviceIo.pattern(CHUNK, 2));
            assertThat(new DeviceIo(new StoreView(store, b)).read(CHUNK, CHUNK)).isEqualTo(DeviceIo.pattern(CHUNK, 3));
        }
    }

    @Test
    void rollBackRevertsAndGivesBackTheChunksCopiedOutSince() throws Exception {
        long used;
        try (SnapStore store = open()) {
            DeviceIo io = new DeviceIo(new StoreView(store, 0));
            io.write(0, DeviceIo.pattern(CHUNK, 1));
            io.write(CHUNK, DeviceIo.pattern(CHUNK, 2));
            store.createSnapshot("a", false, 0, 0);
            io.write(2 * CHUNK, DeviceIo.pattern(CHUNK, 3)); // a's own copy of chunk 2
            used = store.check();
            List<SnapStore.SnapshotUsage> usage = store.usage();
            assertThat(used).isEqualTo(1);

            store.createSnapshot("keep", false, 0, 0);
            io.write(0, DeviceIo.pattern(CHUNK, 4)); // one copy-out shared by a and keep
            io.write(2 * CHUNK, DeviceIo.pattern(CHUNK, 5)); // keep's own
            io.write(5 * CHUNK, DeviceIo.pattern(CHUNK, 6)); // shared again
            assertThat(store.check()).isEqualTo(used + 3);

            store.rollBack("keep");
            assertThat(store.snapshot("keep")).isEmpty();
            assertThat(store.check()).as("chunks in use").isEqualTo(used);
            assertThat(store.usage()).isEqualTo(usage);
            assertThat(io.read(0, CHUNK)).isEqualTo(DeviceIo.pattern(CHUNK, 1));
            assertThat(io.read(CHUNK, CHUNK)).isEqualTo(DeviceIo.pattern(CHUNK, 2));
            assertThat(io.read(2 * CHUNK, CHUNK)).isEqualTo(DeviceIo.pattern(CHUNK, 3));
            assertThat(io.read(5 * CHUNK, CHUNK)).isEqualTo(new byte[CHUNK]);
            DeviceIo a = new DeviceIo(new StoreView(store, store.snapshot("a").orElseThrow().id()));
            assertThat(a.read(0, CHUNK)).isEqualTo(DeviceIo.pattern(CHUNK, 1));
            assertThat(a.read(2 * CHUNK, CHUNK)).isEqualTo(new byte[CHUNK]);
            assertThat(a.read(5 * CHUNK, CHUNK)).isEqualTo(new byte[CHUNK]);

            // a reads the origin there again, so the next origin write copies it out once more.
            io.write(0, DeviceIo.pattern(CHUNK, 7));
            io.write(5 * CHUNK, DeviceIo.pattern(CHUNK, 8));
            assertThat(a.read(0, CHUNK)).isEqualTo(DeviceIo.pattern(CHUNK, 1));
            assertThat(a.read(5 * CHUNK, CHUNK)).isEqualTo(new byte[CHUNK]);
            assertThat(io.read(0, CHUNK)).isEqualTo(DeviceIo.pattern(CHUNK, 7));
            assertThat(store.check()).isEqualTo(used + 2);
        }
        try (SnapStore store = open()) {
            assertThat(store.check()).as("after reopening").isEqualTo(used + 2);
            assertThat(store.snapshots()).extracting(Snapshot::name).containsExactly("a");
            assertThat(new DeviceIo(new StoreView(store, 0)).read(CHUNK, CHUNK)).isEqualTo(DeviceIo.pattern(CHUNK, 2));
        }
    }

    @Test
    void badNamesAndUnknownSnapshotsAreRefusedByName() throws Exception {
        try (SnapStore store = open()) {
            store.createSnapshot("a", false, 0, 0);
            assertThatThrownBy(() -> store.createSnapshot("a", false, 0, 0)).hasMessage("snapshot 'a' already exists");
            assertThatThrownBy(() -> store.createSnapshot("x@y", false, 0, 0)).hasMessageContaining("bad snapshot name 'x@y'");
            assertThatThrownBy(() -> store.deleteSnapshot("nope")).hasMessage("volume vol has no snapshot 'nope'");
        }
    }

    @Test
    void aStoreMadeWithAnotherChunkSizeIsRefused() throws Exception {
        open().close();
        assertThatThrownBy(() -> SnapStore.open("vol", new SnapStore.Devices(origin, ORIGIN, storeDev, null), 8192,
                1024, pool, events::add)).hasMessageContaining("has chunk size 4096, not 8192");
    }
}
