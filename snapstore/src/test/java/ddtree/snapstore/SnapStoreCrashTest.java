package ddtree.snapstore;

import static org.assertj.core.api.Assertions.assertThat;

import ddtree.block.Bio;
import ddtree.block.BlockDevice;
import ddtree.block.BufferPool;
import ddtree.block.DeviceIo;
import ddtree.block.Dispatch;
import ddtree.block.Errno;
import ddtree.block.ForwardingDevice;
import ddtree.block.Op;
import ddtree.block.PooledBuffer;
import ddtree.block.device.RamDevice;
import ddtree.snapstore.SnapshotTable.Snapshot;
import ddtree.snapstore.SnapshotTable.State;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.stream.LongStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The crash harness at the data level. The origin, the store and (in one layout) a metadata device
 * of their own sit on RAM behind {@link CrashingDevice}s on one power supply. A seeded random
 * workload writes whole chunks to the origin and to writable snapshots (some with FUA), flushes
 * them, takes, deletes and reverts to snapshots; power fails inside some flush of some device or
 * between two operations; each device then keeps its own random subset, or a torn prefix, of the
 * writes it had not flushed. The store is reopened on what is left and checked against a model,
 * then the workload goes on until the next crash.
 *
 * <p>The model keeps, for every sector of the origin and of every snapshot, the values a crash may
 * leave there: the last durable one and everything written since the view's last completed FLUSH
 * (a FUA write is durable at once). A completed snapshot create survives with the origin's
 * contents of that moment, a completed delete stays deleted; an operation the crash interrupted
 * may or may not have happened. Every chunk written carries its value, logical chunk and sector in
 * each 512-byte sector (a sector is the unit a disk writes atomically), so misplaced, stale or
 * torn data is named exactly.
 *
 * <p>{@code -Dddtree.crash.seeds=N} runs seeds 1 to N instead of 1 to 12, {@code
 * -Dddtree.crash.seed=S} only seed S. A seed replays the same operations and crash choices, but
 * where a background deletion sweep runs alongside, the flush an armed crash hits may differ from
 * run to run.
 */
class SnapStoreCrashTest {
    static final int CHUNK = 4096;
    static final int SECTOR = 512;
    static final int SECTORS = CHUNK / SECTOR;
    static final int CHUNKS = 48;
    static final long ORIGIN = (long) CHUNKS * CHUNK;
    static final int CRASHES = 16;
    static final int OPS_PER_ROUND = 60;
    static final int MAX_LIVE = 6;

    enum Layout {
        /** Metadata at the start of the store device. */
        SHARED,
        /** Metadata on a device of its own. */
        SEPARATE
    }

    /** Seeds 1 to {@code ddtree.crash.seeds} (12), or only {@code ddtree.crash.seed}; odd ones separate the metadata. */
    static Stream<Arguments> seeds() {
        Long one = Long.getLong("ddtree.crash.seed");
        LongStream seeds = one != null ? LongStream.of(one)
                : LongStream.rangeClosed(1, Integer.getInteger("ddtree.crash.seeds", 12));
        return seeds.mapToObj(s -> Arguments.of(s, s % 2 == 0 ? Layout.SHARED : Layout.SEPARATE));
    }

    /** Store instances get names of their own, so their threads can be told apart. */
    static final AtomicInteger INSTANCES = new AtomicInteger();

    final BufferPool pool = new BufferPool(64L << 20, 8L << 20);
    final List<String> events = new CopyOnWriteArrayList<>();

    // ---- what is written: every sector names its value, chunk and place ----

    static void fillSector(ByteBuffer b, int at, int chunk, int sector, long value) {
        b.putLong(at, value);
        b.putInt(at + 8, chunk);
        b.putInt(at + 12, sector);
        long x = value * 0x9E3779B97F4A7C15L ^ (chunk * 31L + sector);
        for (int i = 16; i < SECTOR; i += 8) {
            x = x * 6364136223846793005L + 1442695040888963407L;
            b.putLong(at + i, x);
        }
    }

    static byte[] chunkData(int chunk, long value) {
        ByteBuffer b = ByteBuffer.allocate(CHUNK);
        for (int s = 0; s < SECTORS; s++) {
            fillSector(b, s * SECTOR, chunk, s, value);
        }
        return b.array();
    }

    /** The value sector {@code s} of a read of {@code chunk} holds (0: never written), or -1 for garbage. */
    static long decode(byte[] data, int chunk, int s) {
        int at = s * SECTOR;
        long v = ByteBuffer.wrap(data).getLong(at);
        byte[] want = new byte[SECTOR];
        if (v != 0) {
            fillSector(ByteBuffer.wrap(want), 0, chunk, s, v);
        }
        return Arrays.equals(data, at, at + SECTOR, want, 0, SECTOR) ? v : -1;
    }

    static String describe(byte[] data, int s) {
        ByteBuffer b = ByteBuffer.wrap(data);
        int at = s * SECTOR;
        return "garbage (header: value " + b.getLong(at) + ", chunk " + b.getInt(at + 8) + ", sector "
                + b.getInt(at + 12) + ")";
    }

    // ---- the model ----

    /** The origin or one snapshot: what reads return now, and what a crash may leave, per sector. */
    static final class View {
        final String name;
        long id;
        final boolean writable;
        long[] now = new long[CHUNKS * SECTORS];
        final List<Set<Long>> may = new ArrayList<>(CHUNKS * SECTORS);

        View(String name, long id, boolean writable) {
            this.name = name;
            this.id = id;
            this.writable = writable;
            for (int i = 0; i < now.length; i++) {
                may.add(new HashSet<>(Set.of(0L)));
            }
        }

        /** A snapshot of {@code origin} as it reads now. */
        View(String name, boolean writable, View origin) {
            this(name, 0, writable);
            seen(origin.now);
        }

        void write(int chunk, long value, boolean durable) {
            for (int i = chunk * SECTORS; i < (chunk + 1) * SECTORS; i++) {
                now[i] = value;
                if (durable) {
                    may.get(i).clear();
                }
                may.get(i).add(value);
            }
        }

        /** A write that failed may still have landed, whole or in part. */
        void mayHave(int chunk, long value) {
            for (int i = chunk * SECTORS; i < (chunk + 1) * SECTORS; i++) {
                may.get(i).add(value);
            }
        }

        void flushed() {
            seen(now);
        }

        /** The view reads {@code values} and they are durable: after a reopen, or after a flush. */
        void seen(long[] values) {
            now = values.clone();
            for (int i = 0; i < now.length; i++) {
                may.get(i).clear();
                may.get(i).add(now[i]);
            }
        }

        @Override
        public String toString() {
            return id == 0 && name.equals("origin") ? "origin" : "snapshot " + name + " (id " + id + ")";
        }
    }

    static final class Model {
        final View origin = new View("origin", 0, true);
        final Map<String, View> snaps = new LinkedHashMap<>();
        /** A create the crash interrupted: it may or may not exist after the reopen. */
        View creating;
        /** A delete the crash interrupted. */
        View deleting;
        long nextValue = 1;
        int nextName = 1;
        final List<String> log = new ArrayList<>();

        String recentLog() {
            return String.join("\n  ", log.subList(Math.max(0, log.size() - 40), log.size()));
        }
    }

    // ---- the devices ----

    /**
     * One store instance's way to a device. Once revoked (after the instance was closed), nothing
     * more gets through and every attempt is counted: a closed store must not touch its devices.
     * A {@link #spy}, when set, sees each request first, on the submitting thread; it may hold it.
     */
    static final class Fence extends ForwardingDevice {
        final AtomicInteger late = new AtomicInteger();
        volatile boolean revoked;
        volatile Consumer<Bio> spy;

        Fence(BlockDevice lower) {
            super(lower);
        }

        @Override
        public void submit(Bio bio) {
            Consumer<Bio> s = spy;
            if (s != null) {
                s.accept(bio);
            }
            if (revoked) {
                late.incrementAndGet();
                bio.complete(Errno.EIO);
                return;
            }
            Dispatch.submit(inner, bio);
        }

        @Override
        public void close() {}
    }

    /** The RAM devices behind crashing ones, on one power supply, and each store instance over them. */
    final class Rig implements AutoCloseable {
        final Layout layout;
        final CrashingDevice.Power power = new CrashingDevice.Power();
        /** The origin's supply: the machine's, or one of its own that can fail alone. */
        final CrashingDevice.Power originPower;
        final RamDevice originRam = new RamDevice("origin", ORIGIN);
        final RamDevice storeRam;
        final RamDevice metaRam;
        final CrashingDevice origin;
        final CrashingDevice store;
        final CrashingDevice meta;
        final List<Fence> fences = new ArrayList<>();
        SnapStore last;
        Fence originFence;
        Fence storeFence;
        Fence metaFence;

        Rig(Layout layout) throws Exception {
            this(layout, false);
        }

        Rig(Layout layout, boolean originApart) throws Exception {
            this.layout = layout;
            this.originPower = originApart ? new CrashingDevice.Power() : power;
            storeRam = new RamDevice("store", layout == Layout.SHARED ? 12L << 20 : 4L << 20);
            metaRam = layout == Layout.SHARED ? null : new RamDevice("meta", 8L << 20);
            origin = new CrashingDevice(originRam, pool, originPower);
            store = new CrashingDevice(storeRam, pool, power);
            meta = metaRam == null ? null : new CrashingDevice(metaRam, pool, power);
        }

        List<CrashingDevice> devices() {
            return meta == null ? List.of(origin, store) : List.of(origin, store, meta);
        }

        String nameOf(CrashingDevice d) {
            return d == origin ? "origin" : d == store ? "store" : "meta";
        }

        SnapStore open() throws IOException {
            Fence o = fence(origin);
            Fence s = fence(store);
            Fence m = meta == null ? null : fence(meta);
            originFence = o;
            storeFence = s;
            metaFence = m;
            last = SnapStore.open("vol" + INSTANCES.incrementAndGet(), new SnapStore.Devices(o, ORIGIN, s, m), CHUNK,
                    64, pool, events::add);
            return last;
        }

        private Fence fence(BlockDevice d) {
            Fence f = new Fence(d);
            fences.add(f);
            return f;
        }

        void revokeAll() {
            fences.forEach(f -> f.revoked = true);
        }

        int lateIo() {
            return fences.stream().mapToInt(f -> f.late.get()).sum();
        }

        /**
         * Power fails (if it has not already) for every device at once; each keeps its own random
         * choice of the writes it had not flushed; power comes back.
         */
        void powerCut(Random rnd, Model m) {
            power.cut();
            StringBuilder what = new StringBuilder("power cut:");
            for (CrashingDevice d : devices()) {
                int n = d.pendingWrites();
                int mode = rnd.nextInt(4);
                what.append(' ').append(nameOf(d)).append(' ');
                switch (mode) {
                    case 0 -> {
                        d.powerCut(i -> false);
                        what.append("0/").append(n);
                    }
                    case 1 -> {
                        d.powerCut(i -> true);
                        what.append(n).append('/').append(n);
                    }
                    case 2 -> {
                        BitSet keep = new BitSet(n);
                        double p = rnd.nextDouble();
                        for (int i = 0; i < n; i++) {
                            if (rnd.nextDouble() < p) {
                                keep.set(i);
                            }
                        }
                        d.powerCut(keep::get);
                        what.append(keep.cardinality()).append('/').append(n);
                    }
                    default -> {
                        // A torn tail, whole sectors: a disk writes a sector all or nothing.
                        long sectors = d.pendingBytes() / SECTOR;
                        long keep = Math.floorMod(rnd.nextLong(), sectors + 1) * SECTOR;
                        d.powerCutPrefix(keep);
                        what.append("prefix ").append(keep).append('/').append(sectors * SECTOR).append(" bytes");
                    }
                }
            }
            power.restore();
            m.log.add(what.toString());
        }

        @Override
        public void close() throws IOException {
            if (last != null) {
                // A test that failed may have left its store open: stop it without letting it write.
                power.cut();
                try {
                    CompletableFuture.runAsync(() -> {
                        try {
                            last.close();
                        } catch (IOException e) {
                            // its devices are dark
                        }
                    }).get(20, TimeUnit.SECONDS);
                } catch (Exception e) {
                    // the test's own failure says more
                }
            }
            for (CrashingDevice d : devices()) {
                d.close();
            }
            originRam.close();
            storeRam.close();
            if (metaRam != null) {
                metaRam.close();
            }
        }
    }

    /** One open store instance and synchronous access to its origin and snapshots. */
    static final class Instance implements AutoCloseable {
        final SnapStore store;
        final Map<Long, DeviceIo> ios = new HashMap<>();
        final Map<Long, StoreView> views = new HashMap<>();
        final BufferPool pool = new BufferPool(64L << 20, 0);

        Instance(SnapStore store) {
            this.store = store;
        }

        StoreView view(long id) {
            return views.computeIfAbsent(id, k -> new StoreView(store, k));
        }

        DeviceIo io(long id) {
            return ios.computeIfAbsent(id, k -> new DeviceIo(view(k)));
        }

        /** Reads one chunk of a view; null when the read fails. */
        byte[] read(long id, int chunk) throws InterruptedException {
            PooledBuffer b = pool.acquire(CHUNK, false);
            try {
                b.segment().fill((byte) 0x5a);
                int st = io(id).submit(Op.READ, (long) chunk * CHUNK, CHUNK, 0, b);
                return st == Errno.OK ? b.segment().asSlice(0, CHUNK).toArray(ValueLayout.JAVA_BYTE) : null;
            } finally {
                b.release();
            }
        }

        @Override
        public void close() {
            ios.values().forEach(DeviceIo::close);
            pool.close();
        }
    }

    // ---- the test ----

    @ParameterizedTest(name = "seed {0}, metadata {1}")
    @MethodSource("seeds")
    @Timeout(value = 300)
    void originAndSnapshotsSurviveEveryCrashAsTheModelAllows(long seed, Layout layout) throws Exception {
        Random rnd = new Random(seed);
        Model m = new Model();
        try (Rig rig = new Rig(layout)) {
            Instance live = new Instance(rig.open());
            for (int crash = 1; crash <= CRASHES; crash++) {
                m.log.add("-- round " + crash);
                runUntilCrash(rig, live, m, rnd);
                abandon(live, m);
                rig.revokeAll();
                rig.powerCut(rnd, m);
                live = reopen(rig, m, rnd);
                verify(live, m, "seed " + seed + " " + layout + ", after crash " + crash);
            }
            // A clean close loses nothing, flushed or not.
            m.log.add("-- clean close");
            live.store.settle();
            live.store.check();
            live.store.close();
            live.close();
            rig.revokeAll();
            m.origin.flushed();
            m.snaps.values().forEach(View::flushed);
            live = new Instance(rig.open());
            verify(live, m, "seed " + seed + " " + layout + ", after a clean close");
            live.store.close();
            live.close();
            rig.revokeAll();
            assertThat(rig.lateIo()).as("I/O by store instances after their close").isZero();
            assertThat(events).as("events").noneMatch(e -> e.contains("dropped"));
        }
    }

    /** What an operation came to. */
    enum Outcome {
        /** It failed: the power went. */
        CRASHED,
        DONE,
        /** It completed and promised durability: a flush, a FUA write, a create, a delete or a revert. */
        PROMISED
    }

    /**
     * Runs operations until one fails because the power went, or cuts the power between two of
     * them: after a random count, or right after an operation that promised durability.
     */
    private void runUntilCrash(Rig rig, Instance live, Model m, Random rnd) throws Exception {
        boolean armed = rnd.nextBoolean();
        int ops = OPS_PER_ROUND;
        if (armed) {
            List<CrashingDevice> devs = rig.devices();
            CrashingDevice d = rnd.nextInt(4) == 0 ? rig.origin : devs.get(1 + rnd.nextInt(devs.size() - 1));
            int k = rnd.nextInt(d == rig.origin ? 4 : 20);
            d.failFlushAfter(k);
            m.log.add("armed: " + rig.nameOf(d) + " fails its flush after " + k + " more");
        } else {
            ops = rnd.nextInt(OPS_PER_ROUND);
            m.log.add("cut within " + ops + " operations");
        }
        for (int i = 0; i < ops; i++) {
            Outcome o = step(rig, live, m, rnd);
            if (o == Outcome.CRASHED || (!armed && o == Outcome.PROMISED && rnd.nextBoolean())) {
                return;
            }
        }
    }

    /** One random operation. */
    private Outcome step(Rig rig, Instance live, Model m, Random rnd) throws Exception {
        int what = rnd.nextInt(100);
        List<View> writable = m.snaps.values().stream().filter(v -> v.writable).toList();
        if (what < 18 && !writable.isEmpty()) {
            return write(rig, live, m, writable.get(rnd.nextInt(writable.size())), rnd);
        }
        if (what < 20 && m.snaps.size() > writable.size()) {
            View ro = m.snaps.values().stream().filter(v -> !v.writable).findFirst().orElseThrow();
            int st = live.io(ro.id).write(0, chunkData(0, m.nextValue++));
            m.log.add("write to read-only " + ro + ": " + Errno.name(st));
            if (st == Errno.EPERM) {
                return Outcome.DONE;
            }
            return failed(rig, m, "a write to read-only " + ro + " gave " + Errno.name(st));
        }
        if (what < 46) {
            return write(rig, live, m, m.origin, rnd);
        }
        if (what < 56) {
            return burst(rig, live, m, rnd);
        }
        if (what < 62) {
            int st = live.io(0).flush();
            m.log.add("flush origin: " + Errno.name(st));
            if (st == Errno.OK) {
                m.origin.flushed();
                return Outcome.PROMISED;
            }
            return failed(rig, m, "an origin flush gave " + Errno.name(st));
        }
        if (what < 70 && !writable.isEmpty()) {
            View v = writable.get(rnd.nextInt(writable.size()));
            int st = live.io(v.id).flush();
            m.log.add("flush " + v + ": " + Errno.name(st));
            if (st == Errno.OK) {
                v.flushed();
                return Outcome.PROMISED;
            }
            return failed(rig, m, "a flush of " + v + " gave " + Errno.name(st));
        }
        if (what < 77 && m.snaps.size() < MAX_LIVE) {
            View v = new View("s" + m.nextName++, rnd.nextBoolean(), m.origin);
            try {
                Snapshot s = live.store.createSnapshot(v.name, v.writable, rnd.nextInt(3), 0);
                v.id = s.id();
                m.origin.flushed();
                m.snaps.put(v.name, v);
                m.log.add("create " + v + (v.writable ? " writable" : ""));
                return Outcome.PROMISED;
            } catch (IOException e) {
                m.log.add("create " + v.name + " failed: " + e.getMessage());
                m.creating = v;
                return failed(rig, m, e);
            }
        }
        if (what < 82 && !m.snaps.isEmpty()) {
            View v = pick(m, rnd);
            try {
                live.store.deleteSnapshot(v.name);
                m.snaps.remove(v.name);
                m.log.add("delete " + v);
                return Outcome.PROMISED;
            } catch (IOException e) {
                m.log.add("delete " + v + " failed: " + e.getMessage());
                m.snaps.remove(v.name);
                m.deleting = v;
                return failed(rig, m, e);
            }
        }
        if (what < 84 && !m.snaps.isEmpty()) {
            View v = pick(m, rnd);
            try {
                live.store.revert(v.name);
                m.origin.seen(v.now);
                m.log.add("revert to " + v);
                return Outcome.PROMISED;
            } catch (IOException e) {
                m.log.add("revert to " + v + " failed: " + e.getMessage());
                for (int i = 0; i < v.now.length; i++) {
                    m.origin.may.get(i).add(v.now[i]);
                }
                return failed(rig, m, e);
            }
        }
        if (what < 86) {
            try {
                live.store.check();
                return Outcome.DONE;
            } catch (IOException e) {
                m.log.add("check failed: " + e.getMessage());
                return failed(rig, m, e);
            }
        }
        // Read back a chunk of some view: while the store runs, it reads what was last written.
        View v = m.snaps.isEmpty() || rnd.nextInt(3) == 0 ? m.origin : pick(m, rnd);
        int chunk = rnd.nextInt(CHUNKS);
        byte[] got = live.read(v.id, chunk);
        if (got == null) {
            m.log.add("read " + v + " chunk " + chunk + " failed");
            return failed(rig, m, "a read of " + v + " failed");
        }
        for (int s = 0; s < SECTORS; s++) {
            long want = v.now[chunk * SECTORS + s];
            assertThat(decode(got, chunk, s)).as("%s chunk %d sector %d reads %s; log:\n  %s", v, chunk, s,
                    describe(got, s), m.recentLog()).isEqualTo(want);
        }
        return Outcome.DONE;
    }

    /** Half the writes go to a few hot chunks, so chunks are rewritten: in place, or after a snapshot. */
    private static int chunk(Random rnd) {
        return rnd.nextBoolean() ? rnd.nextInt(6) : rnd.nextInt(CHUNKS);
    }

    private Outcome write(Rig rig, Instance live, Model m, View v, Random rnd) {
        int chunk = chunk(rnd);
        long value = m.nextValue++;
        boolean fua = rnd.nextInt(5) == 0;
        int st = live.io(v.id).write((long) chunk * CHUNK, chunkData(chunk, value), fua ? Bio.FUA : 0);
        m.log.add("write " + v + " chunk " + chunk + " value " + value + (fua ? " FUA" : "") + ": "
                + Errno.name(st));
        if (st == Errno.OK) {
            v.write(chunk, value, fua);
            return fua ? Outcome.PROMISED : Outcome.DONE;
        }
        v.mayHave(chunk, value);
        return failed(rig, m, "a write to " + v + " gave " + Errno.name(st));
    }

    /**
     * Writes to distinct chunks of the origin and writable snapshots, all in flight at once, so
     * the store takes them in batches: copy-outs that commit together, snapshot writes beside
     * origin writes, a FUA write's flush in the middle of a batch.
     */
    private Outcome burst(Rig rig, Instance live, Model m, Random rnd) throws Exception {
        List<View> targets = new ArrayList<>();
        targets.add(m.origin);
        m.snaps.values().stream().filter(v -> v.writable).forEach(targets::add);
        record Write(View view, int chunk, long value, boolean fua, PooledBuffer buf, CompletableFuture<Integer> done) {}
        List<Write> writes = new ArrayList<>();
        Set<Long> taken = new HashSet<>();
        boolean anyFua = false;
        for (int n = 2 + rnd.nextInt(14); n > 0; n--) {
            View v = targets.get(rnd.nextInt(targets.size()));
            int chunk = chunk(rnd);
            if (!taken.add(v.id * CHUNKS + chunk)) {
                continue;
            }
            boolean fua = rnd.nextInt(8) == 0;
            anyFua |= fua;
            PooledBuffer buf = live.pool.acquire(CHUNK, false);
            long value = m.nextValue++;
            MemorySegment.copy(chunkData(chunk, value), 0, buf.segment(), ValueLayout.JAVA_BYTE, 0, CHUNK);
            writes.add(new Write(v, chunk, value, fua, buf, new CompletableFuture<>()));
        }
        for (Write w : writes) {
            Bio bio = new Bio();
            bio.reset(Op.WRITE, (long) w.chunk * CHUNK, CHUNK, w.fua ? Bio.FUA : 0, w.buf);
            bio.pushCompletion((b, state) -> {
                w.done.complete(b.status());
                return true;
            }, 0);
            Dispatch.submit(live.view(w.view.id), bio);
        }
        Outcome o = anyFua ? Outcome.PROMISED : Outcome.DONE;
        StringBuilder what = new StringBuilder("burst:");
        for (Write w : writes) {
            int st;
            try {
                st = w.done.get(10, TimeUnit.SECONDS);
            } catch (TimeoutException e) {
                throw new AssertionError("a write to " + w.view + " chunk " + w.chunk + " did not complete"
                        + (rig.power.isOff() ? " after the power went" : "") + "; log:\n  " + m.recentLog());
            }
            w.buf.release();
            what.append(' ').append(w.view.id == 0 ? "o" : "s" + w.view.id).append('/').append(w.chunk).append('=')
                    .append(w.value).append(w.fua ? " FUA" : "").append(st == Errno.OK ? "" : " " + Errno.name(st));
            if (st == Errno.OK) {
                w.view.write(w.chunk, w.value, w.fua);
            } else {
                w.view.mayHave(w.chunk, w.value);
                o = Outcome.CRASHED;
            }
        }
        m.log.add(what.toString());
        return o == Outcome.CRASHED ? failed(rig, m, "a write in a burst failed") : o;
    }

    private static View pick(Model m, Random rnd) {
        List<View> all = new ArrayList<>(m.snaps.values());
        return all.get(rnd.nextInt(all.size()));
    }

    /** An operation failed: that is only allowed once the power has gone. */
    private static Outcome failed(Rig rig, Model m, Object why) {
        if (!rig.power.isOff()) {
            AssertionError e = new AssertionError("with the power on, " + why + "; log:\n  " + m.recentLog());
            if (why instanceof Throwable t) {
                e.initCause(t);
            }
            throw e;
        }
        return Outcome.CRASHED;
    }

    /**
     * Stops the crashed instance while its devices are dark, so that nothing it does can reach
     * them: close must return (an error is fine) and leave no thread of the instance running.
     */
    private static void abandon(Instance live, Model m) throws Exception {
        CompletableFuture<String> closed = CompletableFuture.supplyAsync(() -> {
            try {
                live.store.close();
                return "closed";
            } catch (IOException e) {
                return "close failed: " + e.getMessage();
            }
        });
        try {
            m.log.add(closed.get(20, TimeUnit.SECONDS));
        } catch (TimeoutException e) {
            throw new AssertionError("close of a store whose devices lost power did not return; log:\n  "
                    + m.recentLog());
        }
        live.close();
        String worker = "ddsnap-" + live.store.name();
        assertThat(Thread.getAllStackTraces().keySet()).as("threads after close")
                .noneMatch(t -> t.getName().equals(worker) && t.isAlive());
    }

    /** Reopens on what the power cut left; now and then power fails again during recovery. */
    private Instance reopen(Rig rig, Model m, Random rnd) throws Exception {
        for (int attempt = 0; ; attempt++) {
            CrashingDevice armed = null;
            if (attempt < 3 && rnd.nextInt(5) == 0) {
                armed = rig.meta != null ? rig.meta : rig.store;
                int k = rnd.nextInt(3);
                armed.failFlushAfter(k);
                m.log.add("reopen, armed: " + rig.nameOf(armed) + " fails its flush after " + k + " more");
            } else {
                m.log.add("reopen");
            }
            SnapStore store;
            try {
                store = rig.open();
            } catch (IOException e) {
                m.log.add("reopen failed: " + e.getMessage());
                if (armed == null || !rig.power.isOff()) {
                    throw new AssertionError("reopen failed with the power on; log:\n  " + m.recentLog(), e);
                }
                rig.revokeAll();
                rig.powerCut(rnd, m);
                continue;
            }
            rig.devices().forEach(d -> d.failFlushAfter(-1));
            Instance live = new Instance(store);
            if (rig.power.isOff()) {
                // The armed flush was one of the deletion sweep's, which the new instance resumed.
                m.log.add("power went during the sweep after the reopen");
                abandon(live, m);
                rig.revokeAll();
                rig.powerCut(rnd, m);
                continue;
            }
            return live;
        }
    }

    /** The store after a reopen against the model; then what it holds is the model's new start. */
    private static void verify(Instance live, Model m, String when) throws Exception {
        String log = "; log:\n  " + m.recentLog();
        try {
            live.store.check();
        } catch (IOException e) {
            throw new AssertionError(when + ": check() failed: " + e.getMessage() + log, e);
        }
        Map<String, Snapshot> records = new LinkedHashMap<>();
        for (Snapshot s : live.store.snapshots()) {
            records.put(s.name(), s);
        }
        for (Snapshot s : records.values()) {
            boolean known = m.snaps.containsKey(s.name())
                    || (m.creating != null && m.creating.name.equals(s.name()))
                    || (m.deleting != null && m.deleting.name.equals(s.name()));
            switch (s.state()) {
                case LIVE -> assertThat(known).as("%s: snapshot %s is live, but its delete completed or it was "
                        + "never taken%s", when, s.name(), log).isTrue();
                case DELETING -> assertThat(m.snaps.containsKey(s.name())
                        || (m.creating != null && m.creating.name.equals(s.name())))
                        .as("%s: snapshot %s is being deleted, but no delete of it completed or was under way%s",
                                when, s.name(), log).isFalse();
                default -> throw new AssertionError(when + ": snapshot " + s.name() + " is " + s.state() + log);
            }
        }
        for (View v : m.snaps.values()) {
            Snapshot s = records.get(v.name);
            assertThat(s).as("%s: %s, taken before the crash, is gone%s", when, v, log).isNotNull();
            assertThat(s.state()).as("%s: %s%s", when, v, log).isEqualTo(State.LIVE);
            assertThat(s.id()).as("%s: id of %s%s", when, v, log).isEqualTo(v.id);
        }
        if (m.creating != null) {
            Snapshot s = records.get(m.creating.name);
            if (s != null && s.state() == State.LIVE) {
                // The create made it: the origin was flushed first, and the snapshot holds it as it was.
                m.creating.id = s.id();
                assertThat(s.writable()).as("%s: writable flag of %s", when, m.creating).isEqualTo(m.creating.writable);
                m.origin.flushed();
                m.snaps.put(m.creating.name, m.creating);
                m.log.add("the interrupted create of " + m.creating + " survived");
            }
            m.creating = null;
        }
        if (m.deleting != null) {
            Snapshot s = records.get(m.deleting.name);
            if (s != null && s.state() == State.LIVE) {
                assertThat(s.id()).as("%s: id of %s", when, m.deleting).isEqualTo(m.deleting.id);
                m.snaps.put(m.deleting.name, m.deleting);
                m.log.add("the interrupted delete of " + m.deleting + " did not happen");
            }
            m.deleting = null;
        }
        List<View> views = new ArrayList<>();
        views.add(m.origin);
        views.addAll(m.snaps.values());
        List<String> wrong = new ArrayList<>();
        for (View v : views) {
            long[] seen = new long[CHUNKS * SECTORS];
            for (int c = 0; c < CHUNKS; c++) {
                byte[] got = live.read(v.id, c);
                if (got == null) {
                    throw new AssertionError(when + ": a read of " + v + " chunk " + c + " failed" + log);
                }
                List<String> bad = new ArrayList<>();
                for (int s = 0; s < SECTORS; s++) {
                    int i = c * SECTORS + s;
                    seen[i] = decode(got, c, s);
                    if (seen[i] < 0 || !v.may.get(i).contains(seen[i])) {
                        bad.add("sector " + s + " holds " + (seen[i] < 0 ? describe(got, s) : "value " + seen[i])
                                + ", may hold " + new TreeSet<>(v.may.get(i)));
                    }
                }
                String where = v + " chunk " + c;
                if (bad.size() == SECTORS && bad.stream().map(SnapStoreCrashTest::afterSector).distinct().count() == 1) {
                    wrong.add(where + ", every sector" + afterSector(bad.getFirst()));
                } else {
                    bad.forEach(b -> wrong.add(where + " " + b));
                }
            }
            v.seen(seen);
        }
        assertThat(wrong).as("%s: data the model does not allow%s", when, log).isEmpty();
    }

    /** "sector 3 holds ..." without "sector 3". */
    private static String afterSector(String s) {
        return s.substring(s.indexOf(' ', "sector ".length()));
    }

    /**
     * The power goes while snapshot writes wait for the store's worker: the one it is copying
     * when its I/O fails, and all queued behind it, complete with an error, and close returns.
     */
    @Test
    @Timeout(value = 60)
    void aFailureInTheMiddleOfABatchAnswersEveryRequestAndCloseReturns() throws Exception {
        try (Rig rig = new Rig(Layout.SEPARATE)) {
            Instance live = new Instance(rig.open());
            long id = live.store.createSnapshot("w", true, 0, 0).id();
            rig.power.cut();
            List<CompletableFuture<Integer>> done = new ArrayList<>();
            for (int c = 0; c < 32; c++) {
                done.add(submitWrite(live, id, c, 1 + c, 0));
            }
            for (int c = 0; c < done.size(); c++) {
                assertThat(Errno.name(done.get(c).get(10, TimeUnit.SECONDS))).as("write %d", c).isEqualTo("EIO");
            }
            assertThat(live.store.failure()).contains("EIO");
            CompletableFuture.runAsync(() -> {
                try {
                    live.store.close();
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }).get(10, TimeUnit.SECONDS);
            live.close();
        }
    }

    /**
     * With the metadata on the store device, the journal's flush alone does not order a copy-out:
     * a power cut during it may keep the commit record and lose the copied chunk. The data must be
     * flushed before the commit that points at it.
     */
    @Test
    void aCopyOutIsDurableBeforeTheCommitThatPointsAtItOnASharedDevice() throws Exception {
        try (Rig rig = new Rig(Layout.SHARED)) {
            Instance live = new Instance(rig.open());
            Model m = new Model();
            assertThat(live.io(0).write(0, chunkData(0, 1))).isZero();
            long id = live.store.createSnapshot("s", false, 0, 0).id();
            rig.store.failFlushAfter(0);
            assertThat(Errno.name(live.io(0).write(0, chunkData(0, 2)))).isEqualTo("EIO");
            abandon(live, m);
            rig.revokeAll();
            // Every metadata write since the last flush survives, the copied data does not.
            long dataStart = SnapStore.layoutFor(new SnapStore.Devices(rig.origin, ORIGIN, rig.store, null), CHUNK, 64,
                    0).dataStart();
            rig.store.powerCut(i -> rig.store.pendingOffset(i) < dataStart);
            rig.origin.powerCut(i -> false);
            rig.power.restore();
            live = new Instance(rig.open());
            live.store.check();
            assertThat(decode(live.read(id, 0), 0, 0)).as("snapshot s, chunk 0").isEqualTo(1);
            assertThat(decode(live.read(0, 0), 0, 0)).as("origin, chunk 0").isEqualTo(1);
            live.store.close();
            live.close();
        }
    }

    /**
     * The origin alone fails for a while (its own supply, or a cable): origin writes that need a
     * copy-out are refused, the store stays up, and no store chunk is left allocated for them.
     */
    @Test
    void anOriginThatFailsAloneFailsTheStoreAndLeaksNoChunk() throws Exception {
        try (Rig rig = new Rig(Layout.SEPARATE, true)) {
            Instance live = new Instance(rig.open());
            for (int c = 0; c < 3; c++) {
                assertThat(live.io(0).write((long) c * CHUNK, chunkData(c, 1 + c))).isZero();
            }
            long id = live.store.createSnapshot("s", false, 0, 0).id();
            rig.originPower.cut();
            // Writes to a dark origin fail; a copy-out that cannot read it stops the store,
            // committing nothing of its batch, rather than go on with a half-done copy.
            assertThat(Errno.name(live.io(0).write(0, chunkData(0, 10)))).isEqualTo("EIO");
            assertThat(Errno.name(live.io(0).write(CHUNK, chunkData(1, 11)))).isEqualTo("EIO");
            assertThat(live.store.failure()).isNotNull();
            rig.origin.powerCut(i -> true);
            rig.originPower.restore();
            live.store.close();
            live.close();
            Instance again = new Instance(rig.open());
            // Nothing of the failed batch committed: the chunk it took is free again.
            assertThat(again.store.check()).as("store chunks in use").isZero();
            for (int c = 0; c < 3; c++) {
                assertThat(decode(again.read(id, c), c, 0)).as("snapshot chunk %d", c).isEqualTo(1 + c);
                assertThat(decode(again.read(0, c), c, 0)).as("origin chunk %d", c).isEqualTo(1 + c);
            }
            again.store.close();
            again.close();
        }
    }

    /** Submits a write of value {@code value} to {@code chunk} of a view; the future gets its status. */
    private static CompletableFuture<Integer> submitWrite(Instance live, long id, int chunk, long value, int flags)
            throws InterruptedException {
        PooledBuffer buf = live.pool.acquire(CHUNK, false);
        MemorySegment.copy(chunkData(chunk, value), 0, buf.segment(), ValueLayout.JAVA_BYTE, 0, CHUNK);
        CompletableFuture<Integer> done = new CompletableFuture<>();
        Bio bio = new Bio();
        bio.reset(Op.WRITE, (long) chunk * CHUNK, CHUNK, flags, buf);
        bio.pushCompletion((b, state) -> {
            buf.release();
            done.complete(b.status());
            return true;
        }, 0);
        Dispatch.submit(live.view(id), bio);
        return done;
    }

    /** Waits for {@code latch}, at most {@code seconds}. */
    private static void await(CountDownLatch latch, int seconds) {
        try {
            latch.await(seconds, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * In one batch, an origin write copies a chunk out for a writable snapshot alone, and then the
     * snapshot writes that chunk with FUA. The chunk is the snapshot's own only once the batch
     * commits: a write in place before that, acknowledged, is lost if the commit is. (With
     * another snapshot's write moving off a shared chunk in the batch, the write in place would
     * even land in a chunk the other snapshot still reads.)
     */
    @Test
    @Timeout(value = 60)
    void aSnapshotWritesInPlaceOnlyToAChunkCommittedAsItsOwn() throws Exception {
        try (Rig rig = new Rig(Layout.SEPARATE)) {
            Instance live = new Instance(rig.open());
            assertThat(live.io(0).write(3L * CHUNK, chunkData(3, 1))).isZero();
            long w = live.store.createSnapshot("w", true, 0, 0).id();
            // Keep the worker busy in a copy for another write while the two queue up behind it.
            CountDownLatch reading = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            rig.originFence.spy = bio -> {
                if (bio.op() == Op.READ) {
                    reading.countDown();
                    await(release, 10);
                }
            };
            CompletableFuture<Integer> first = submitWrite(live, w, 7, 2, 0);
            await(reading, 10);
            CompletableFuture<Integer> origin = submitWrite(live, 0, 3, 3, 0);
            CompletableFuture<Integer> fua = submitWrite(live, w, 3, 4, Bio.FUA);
            // The first batch commits; the second batch's commit fails, once a FUA write has
            // completed on the store (or after 2 s, when none comes before the commit).
            CountDownLatch fuaDone = new CountDownLatch(1);
            rig.storeFence.spy = bio -> {
                if (bio.hasFlag(Bio.FUA)) {
                    bio.pushCompletion((b, state) -> {
                        fuaDone.countDown();
                        return true;
                    }, 0);
                }
            };
            AtomicInteger metaFlushes = new AtomicInteger();
            rig.metaFence.spy = bio -> {
                if (bio.op() == Op.FLUSH && metaFlushes.incrementAndGet() == 2) {
                    await(fuaDone, 2);
                }
            };
            rig.meta.failFlushAfter(1);
            rig.originFence.spy = null;
            release.countDown();
            assertThat(Errno.name(first.get(10, TimeUnit.SECONDS))).isEqualTo("OK");
            assertThat(Errno.name(origin.get(10, TimeUnit.SECONDS))).isEqualTo("EIO");
            int fuaStatus = fua.get(10, TimeUnit.SECONDS);
            abandon(live, new Model());
            rig.revokeAll();
            rig.devices().forEach(d -> d.powerCut(i -> false));
            rig.power.restore();
            live = new Instance(rig.open());
            live.store.check();
            long got = decode(live.read(w, 3), 3, 0);
            if (fuaStatus == Errno.OK) {
                assertThat(got).as("snapshot chunk 3 after an acknowledged FUA write").isEqualTo(4);
            } else {
                assertThat(got).as("snapshot chunk 3 after a failed write").isIn(1L, 4L);
            }
            assertThat(decode(live.read(0, 3), 3, 0)).as("origin chunk 3").isEqualTo(1);
            live.store.close();
            live.close();
        }
    }

    @Test
    void aClosedStoreDoesNothingMoreAndReopensWithWhatItHad() throws Exception {
        try (Rig rig = new Rig(Layout.SEPARATE)) {
            Instance live = new Instance(rig.open());
            live.store.createSnapshot("a", true, 0, 0);
            assertThat(live.io(0).write(0, chunkData(0, 1))).isZero();
            live.store.close();
            live.close();
            rig.revokeAll();
            live = new Instance(rig.open());
            assertThat(decode(live.read(0, 0), 0, 0)).isEqualTo(1);
            assertThat(decode(live.read(1, 0), 0, 0)).isEqualTo(0);
            live.store.close();
            live.close();
            assertThat(rig.lateIo()).isZero();
        }
    }
}
