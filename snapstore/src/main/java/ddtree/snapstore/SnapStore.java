package ddtree.snapstore;

import ddtree.block.Bio;
import ddtree.block.BioCompletion;
import ddtree.block.BlockDevice;
import ddtree.block.BufferPool;
import ddtree.block.Dispatch;
import ddtree.block.Errno;
import ddtree.block.Op;
import ddtree.block.PooledBuffer;
import ddtree.snapstore.SnapshotTable.Snapshot;
import ddtree.snapstore.SnapshotTable.State;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.function.LongConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One origin and all its snapshots over one shared store: the ddsnap data path.
 *
 * <p>Origin reads, and origin writes to chunks every live snapshot already has its own copy of,
 * go straight down on the submitter's thread. Everything that needs the metadata (a first write
 * to a chunk since a snapshot, every snapshot read and write, and the control operations) goes to
 * one worker thread that owns the metadata, so the tree needs no locks. The worker takes queued
 * requests in batches: it copies each chunk out once for every snapshot that still sees the
 * origin there, commits the batch's metadata in one journal transaction, and only then lets the
 * batch's origin writes through. A snapshot read of a chunk still on the origin holds that chunk
 * until it completes, so an origin write cannot change the data under it. Likewise a deleted or
 * dropped snapshot's chunks are freed only once its reads and writes in the store have completed,
 * so a late write cannot land in a chunk that has gone to another snapshot.
 */
public final class SnapStore implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(SnapStore.class);

    /** Snapshot records a new store has room for. */
    public static final long DEFAULT_SNAPSHOT_CAPACITY = 65_536;
    static final long JOURNAL_BLOCKS = 1024;
    /** Commit mid-batch before a transaction nears the journal's limit. */
    private static final int COMMIT_AT_BLOCKS = Journal.MAX_TRANSACTION_BLOCKS / 2;
    private static final int BATCH = 256;
    private static final int SWEEP_CHUNKS = 128;
    /** Chunk copies in flight at once. */
    private static final int COPY_PARALLEL = 8;
    /** Node blocks kept free for the tree changes a copy-out makes; below this, snapshots are dropped. */
    private static final long NODE_RESERVE = 32;

    private final String name;
    private final BlockDevice origin;
    private final long originBytes;
    private final BlockDevice store;
    private final MetaDevice metaDev;
    private final SnapMeta meta;
    private final int chunkSize;
    private final int chunkShift;
    private final long dataStart;
    private final long logicalChunks;
    private final Consumer<String> events;
    private final BufferPool pool;

    private final ChunkBitmap covered;
    private final ChunkExceptions exc;
    private final OriginGate gate = new OriginGate();
    private final BlockingQueue<Object> queue = new LinkedBlockingQueue<>();
    private final Thread worker;
    private final ExecutorService submitter;
    private final DataIo io = new DataIo();
    private final PooledBuffer chunkBuf;
    private final PooledBuffer otherBuf;
    private final CopyOuts copies;
    private volatile boolean running = true;
    private volatile String failure;

    // Worker-owned state.
    /** Live snapshot ids; written by the worker, read on the request path. */
    private volatile SharingSet live = SharingSet.EMPTY;
    /** Snapshots being deleted or dropped, whose sweep has not finished, by id. */
    private final java.util.TreeSet<Long> sweeping = new java.util.TreeSet<>();
    private final Map<Long, int[]> originReaders = new HashMap<>();
    /** The batch the worker is handling, and the index of the request in hand. */
    private final List<Object> batch = new ArrayList<>(BATCH);
    private int batchNext;
    /**
     * Snapshot reads and writes sent to the store and not yet completed, by snapshot id. A deleted
     * or dropped snapshot's chunks are not freed while it has any: a write landing after its chunk
     * went to another snapshot would overwrite that snapshot's data.
     */
    private final Map<Long, AtomicInteger> storeIo = new ConcurrentHashMap<>();
    private final Map<Long, ArrayDeque<Bio>> waitingWrites = new HashMap<>();
    private final List<Bio> toRelease = new ArrayList<>();
    private final List<Bio> toComplete = new ArrayList<>();
    private long[] toCover = new long[64];
    private int toCoverCount;
    private boolean storeWritten;

    private final BioCompletion gateDone = (bio, state) -> {
        gate.done();
        return true;
    };
    private final BioCompletion readDone = (bio, chunk) -> {
        queue.add(new ReadDone(chunk));
        return true;
    };

    /**
     * Counted down where the store completes the bio, not through the worker's queue: the worker
     * may be waiting for the count inside a batch that already took such a message off the queue.
     */
    private final BioCompletion storeIoDone = (bio, id) -> {
        storeIo.get(id).decrementAndGet();
        return true;
    };

    private record ReadDone(long chunk) {}

    private record SnapIo(long id, Bio bio) {}

    private record Control(Task<?> task, CompletableFuture<Object> result) {}

    @FunctionalInterface
    private interface Task<T> {
        T run() throws IOException, InterruptedException;
    }

    /** What a store is built from. */
    public record Devices(BlockDevice origin, long originBytes, BlockDevice store, BlockDevice meta) {}

    private SnapStore(String name, Devices d, MetaDevice metaDev, SnapMeta meta, BufferPool pool,
            Consumer<String> events) throws IOException {
        this.name = name;
        this.origin = d.origin();
        this.originBytes = d.originBytes();
        this.store = d.store();
        this.metaDev = metaDev;
        this.meta = meta;
        Superblock sb = meta.superblock();
        this.chunkSize = sb.chunkSize();
        this.chunkShift = Integer.numberOfTrailingZeros(chunkSize);
        this.dataStart = sb.dataStart();
        this.logicalChunks = (originBytes + chunkSize - 1) >>> chunkShift;
        this.events = events;
        this.pool = pool;
        this.covered = new ChunkBitmap(logicalChunks);
        this.exc = new ChunkExceptions(meta.tree());
        try {
            this.chunkBuf = pool.acquire(chunkSize, true);
            this.otherBuf = pool.acquire(chunkSize, true);
            this.copies = new CopyOuts(d.origin(), d.store(), chunkSize, COPY_PARALLEL, pool);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("waiting for chunk buffers");
        }
        recomputeLive();
        this.submitter = Executors.newFixedThreadPool(2, r -> {
            Thread t = new Thread(r, "ddsnap-" + name + "-io");
            t.setDaemon(true);
            return t;
        });
        this.worker = new Thread(this::work, "ddsnap-" + name);
        this.worker.setDaemon(true);
        this.worker.start();
    }

    /**
     * Opens the store of an origin, formatting it first when its superblocks are blank (all zero
     * bytes), as dm-thin does with a zeroed metadata device. Metadata lives on {@code d.meta()},
     * or at the start of the store device when that is null.
     *
     * @param chunkSize the chunk size a new store gets; an existing store must have been made
     *     with the same
     * @param events where snapshot drops and failures are reported for subscribers
     */
    public static SnapStore open(String name, Devices d, int chunkSize, BufferPool pool, Consumer<String> events)
            throws IOException {
        return open(name, d, chunkSize, DEFAULT_SNAPSHOT_CAPACITY, pool, events);
    }

    /** Like {@link #open(String, Devices, int, BufferPool, Consumer)}, with a new store's snapshot table size. */
    public static SnapStore open(String name, Devices d, int chunkSize, long snapshotCapacity, BufferPool pool,
            Consumer<String> events) throws IOException {
        BlockDevice metaDevice = d.meta() != null ? d.meta() : d.store();
        MetaDevice md = new MetaDevice(metaDevice, pool);
        SnapMeta meta = null;
        try {
            if (blank(md)) {
                meta = SnapMeta.format(md, layoutFor(d, chunkSize, snapshotCapacity, md.blocks()));
                LOG.info("{}: formatted a new snapshot store on {} ({} chunks of {} bytes)", name, d.store().name(),
                        meta.superblock().storeChunks(), chunkSize);
            } else {
                meta = SnapMeta.open(md);
            }
            Superblock sb = meta.superblock();
            if (sb.chunkSize() != chunkSize) {
                throw new IOException(name + ": the store on " + d.store().name() + " has chunk size "
                        + sb.chunkSize() + ", not " + chunkSize);
            }
            if ((d.meta() == null) != (sb.dataStart() > 0)) {
                throw new IOException(name + ": the store on " + d.store().name() + " keeps its metadata "
                        + (sb.dataStart() > 0 ? "on the store device" : "on a device of its own")
                        + ", but the table says otherwise");
            }
            if (sb.dataStart() + sb.storeChunks() * chunkSize > d.store().size()) {
                throw new IOException(name + ": the store's " + sb.storeChunks() + " chunks do not fit "
                        + d.store().name() + " (" + d.store().size() + " bytes)");
            }
            return new SnapStore(name, d, md, meta, pool, events);
        } catch (IOException | RuntimeException e) {
            md.close();
            throw e;
        }
    }

    private static boolean blank(MetaDevice md) throws IOException {
        byte[] b = new byte[MetaDevice.BLOCK_SIZE];
        for (long copy = 0; copy < Math.min(2, md.blocks()); copy++) {
            md.read(copy, b);
            for (byte x : b) {
                if (x != 0) {
                    return false;
                }
            }
        }
        return true;
    }

    /** The layout of a new store: with metadata in front of the data when they share a device. */
    static Superblock layoutFor(Devices d, int chunkSize, long capacity, long metaDeviceBlocks) {
        if (d.meta() != null) {
            return Superblock.layout(metaDeviceBlocks, chunkSize, d.store().size() / chunkSize, JOURNAL_BLOCKS,
                    capacity, 0);
        }
        long chunksAll = d.store().size() / chunkSize;
        long tableBlocks = SnapshotTable.blocksFor(capacity);
        // Exceptions take about 24 bytes in half-full nodes: one node block per 16 chunks is ample.
        long metaBlocks = 3 + JOURNAL_BLOCKS + tableBlocks + 2 * (chunksAll / Superblock.BITS_PER_MAP_BLOCK + 1)
                + chunksAll / 16 + 256;
        long metaBytes = (metaBlocks * MetaDevice.BLOCK_SIZE + chunkSize - 1) / chunkSize * chunkSize;
        long dataChunks = (d.store().size() - metaBytes) / chunkSize;
        if (dataChunks < 1) {
            throw new IllegalArgumentException("store device " + d.store().name() + " of " + d.store().size()
                    + " bytes has no room for data after " + metaBytes + " bytes of metadata");
        }
        return Superblock.layout(metaBytes / MetaDevice.BLOCK_SIZE, chunkSize, dataChunks, JOURNAL_BLOCKS,
                capacity, metaBytes);
    }

    public String name() {
        return name;
    }

    public int chunkSize() {
        return chunkSize;
    }

    /** The pool the store's own buffers came from, for callers doing I/O on its behalf. */
    public BufferPool buffers() {
        return pool;
    }

    public long originBytes() {
        return originBytes;
    }

    /** Why the store stopped serving, or null while it is healthy. */
    public String failure() {
        return failure;
    }

    /** False once {@link #close} has begun. */
    public boolean isOpen() {
        return running;
    }

    // ---- the data path ----

    /**
     * Serves a bio for the origin, its offset relative to the origin's start. A bio must not cross
     * a chunk boundary; the target above splits at {@link #chunkSize()}.
     */
    public void mapOrigin(Bio bio) {
        if (bio.op().modifies()) {
            long chunk = bio.offset() >>> chunkShift;
            if ((live.isEmpty() || covered.get(chunk)) && gate.enter()) {
                // Checked again inside the gate: a snapshot taken meanwhile changes the answer.
                if (live.isEmpty() || covered.get(chunk)) {
                    bio.pushCompletion(gateDone, 0);
                    Dispatch.submit(origin, bio);
                    return;
                }
                gate.done();
            }
            enqueue(bio);
            return;
        }
        Dispatch.submit(origin, bio);
    }

    /** Serves a bio for snapshot {@code id}, its offset relative to the snapshot's start. */
    public void mapSnapshot(long id, Bio bio) {
        if (!running) {
            bio.complete(Errno.ESHUTDOWN);
            return;
        }
        enqueue(new SnapIo(id, bio));
    }

    /**
     * Queues work for the worker. Work that arrives as the store closes (a request that found the
     * store just before a reopen replaced it) may come after the worker's last look at the queue,
     * so the caller then refuses whatever is left itself rather than leave it waiting for ever.
     */
    private void enqueue(Object work) {
        queue.add(work);
        if (!running && Thread.currentThread() != worker) {
            try {
                worker.join(10_000); // what the worker still drains, it serves; the rest is refused here
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            Object w;
            while ((w = queue.poll()) != null) {
                refuse(w);
            }
        }
    }

    // ---- control, run on the worker between batches ----

    /** Takes a snapshot: every origin write completed before this call is in it, none started after. */
    public Snapshot createSnapshot(String snapName, boolean writable, int priority, long guid) throws IOException {
        SnapshotTable.checkName(snapName);
        return call(() -> {
            gate.close();
            try {
                // What the snapshot holds must survive a crash as the snapshot does.
                io.flush(origin);
                Snapshot s = meta.snapshots().create(snapName, writable, priority, System.currentTimeMillis(),
                        guid != 0 ? guid : newGuid());
                commit();
                live = live.with(s.id());
                covered.clearAll();
                LOG.info("{}: snapshot '{}' (id {}) taken", name, snapName, s.id());
                return s;
            } finally {
                gate.open();
            }
        });
    }

    /** Deletes a snapshot; the chunks only it held are freed in the background. */
    public void deleteSnapshot(String snapName) throws IOException {
        call(() -> {
            Snapshot s = find(snapName);
            if (s.state() == State.DROPPED) {
                meta.snapshots().remove(s.id());
            } else if (s.state().sweeping()) {
                throw new IOException("snapshot '" + snapName + "' is already being deleted");
            } else {
                meta.snapshots().update(s.withState(State.DELETING, System.currentTimeMillis()));
                sweeping.add(s.id());
            }
            commit();
            live = live.without(s.id());
            LOG.info("{}: snapshot '{}' deleted", name, snapName);
            return null;
        });
    }

    public void setPriority(String snapName, int priority) throws IOException {
        call(() -> {
            meta.snapshots().update(find(snapName).withPriority(priority));
            commit();
            return null;
        });
    }

    /** A snapshot's record, if there is one by that name. */
    public Optional<Snapshot> snapshot(String snapName) throws IOException {
        return call(() -> meta.snapshots().byName(snapName));
    }

    /** Every snapshot record, in creation order. */
    public List<Snapshot> snapshots() throws IOException {
        return call(() -> meta.snapshots().all());
    }

    /** Each snapshot with the chunks only it holds and the chunks it shares with others. */
    public List<SnapshotUsage> usage() throws IOException {
        return call(this::computeUsage);
    }

    public StoreStatus status() throws IOException {
        return call(this::computeStatus);
    }

    /**
     * Makes the origin hold snapshot {@code snapName}'s contents. Other snapshots keep theirs:
     * chunks they still shared with the origin are copied out first.
     */
    public void revert(String snapName) throws IOException {
        call(() -> {
            Snapshot s = find(snapName);
            if (s.state() != State.LIVE) {
                throw new IOException("snapshot '" + snapName + "' is " + s.state().name().toLowerCase());
            }
            gate.close();
            try {
                revertTo(s.id());
            } finally {
                gate.open();
            }
            LOG.info("{}: origin reverted to snapshot '{}'", name, snapName);
            return null;
        });
    }

    /**
     * Undoes what the origin went through since snapshot {@code snapName}, and the snapshot with
     * it: the origin is reverted to the snapshot, then every exception the snapshot shares is
     * removed and its store chunk freed, and the snapshot record goes. After the revert the origin
     * holds what each of those exceptions holds, so the snapshots that shared one read the same
     * bytes from the origin again. Unlike a revert and a delete, which leave the other snapshots
     * the copies made since, this leaves the store as it was before the snapshot was taken, where
     * nothing but the origin changed since. Store reads already sent down for a freed chunk are
     * not waited for, as with a snapshot dropped for space.
     */
    public void rollBack(String snapName) throws IOException {
        call(() -> {
            Snapshot s = find(snapName);
            if (s.state() != State.LIVE) {
                throw new IOException("snapshot '" + snapName + "' is " + s.state().name().toLowerCase());
            }
            gate.close();
            try {
                revertTo(s.id()); // ends with the origin flushed, before any exception goes
                dropExceptionsOf(s.id());
                meta.snapshots().remove(s.id());
                commit();
                recomputeLive();
                covered.clearAll(); // chunks whose exceptions went are read from the origin again
            } finally {
                gate.open();
            }
            LOG.info("{}: origin rolled back to snapshot '{}' (id {}), which is gone", name, snapName, s.id());
            return null;
        });
    }

    /** Removes every exception snapshot {@code id} shares and frees its store chunk, committing as the sweep does. */
    private void dropExceptionsOf(long id) throws IOException {
        long from = 0;
        while (from >= 0) {
            List<Long> keys = new ArrayList<>();
            List<List<SharedChunk>> values = new ArrayList<>();
            long[] next = {-1};
            meta.tree().forEach(from, (chunk, exceptions) -> {
                if (keys.size() == SWEEP_CHUNKS) {
                    next[0] = chunk;
                    return false;
                }
                keys.add(chunk);
                values.add(exceptions);
                return true;
            });
            for (int k = 0; k < keys.size(); k++) {
                List<SharedChunk> kept = new ArrayList<>();
                for (SharedChunk c : values.get(k)) {
                    if (c.sharers().contains(id)) {
                        meta.chunks().free(c.storeChunk());
                    } else {
                        kept.add(c);
                    }
                }
                if (kept.isEmpty()) {
                    meta.tree().remove(keys.get(k));
                } else if (kept.size() != values.get(k).size()) {
                    meta.tree().put(keys.get(k), kept);
                }
            }
            commit();
            from = next[0];
        }
    }

    /**
     * Reports, in increasing order, each logical chunk in {@code [fromChunk, toChunk)} whose data
     * may differ between {@code a} and {@code b} (snapshot ids; 0 is the origin). Chunks where
     * both read the same place are left out.
     */
    public void changedChunks(long a, long b, long fromChunk, long toChunk, LongConsumer out) throws IOException {
        call(() -> {
            exc.forEachChunk(fromChunk, (chunk, exceptions) -> {
                if (chunk >= toChunk) {
                    return false;
                }
                if (source(exceptions, a) != source(exceptions, b)) {
                    out.accept(chunk);
                }
                return true;
            });
            return null;
        });
    }

    private static long source(List<SharedChunk> exceptions, long id) {
        if (id != 0) {
            for (SharedChunk c : exceptions) {
                if (c.sharers().contains(id)) {
                    return c.storeChunk();
                }
            }
        }
        return -1;
    }

    /**
     * Checks the metadata as a whole: the tree's structure, every exception's store chunk
     * allocated and used once, no sharing set naming a snapshot the table does not have, and the
     * allocator's count of used chunks equal to the chunks the tree uses. Returns the chunks in use.
     */
    public long check() throws IOException {
        return call(() -> {
            meta.tree().check();
            java.util.BitSet seen = new java.util.BitSet();
            long[] used = {0};
            IOException[] bad = {null};
            exc.forEachChunk(0, (chunk, exceptions) -> {
                for (SharedChunk c : exceptions) {
                    String where = "logical chunk " + chunk + ", store chunk " + c.storeChunk();
                    if (seen.get(Math.toIntExact(c.storeChunk()))) {
                        bad[0] = new MetadataCorruptException(where + " is used twice");
                    } else if (!meta.chunks().isAllocated(c.storeChunk())) {
                        bad[0] = new MetadataCorruptException(where + " is in use but free in the map");
                    } else if (c.sharers().isEmpty()) {
                        bad[0] = new MetadataCorruptException(where + " is shared by no snapshot");
                    }
                    for (int r = 0; r < c.sharers().rangeCount() && bad[0] == null; r++) {
                        for (long id = c.sharers().first(r); id <= c.sharers().last(r); id++) {
                            if (meta.snapshots().byId(id).isEmpty()) {
                                bad[0] = new MetadataCorruptException(where + " names snapshot " + id
                                        + ", which the table does not have");
                                break;
                            }
                        }
                    }
                    seen.set(Math.toIntExact(c.storeChunk()));
                    used[0]++;
                }
                return bad[0] == null;
            });
            if (bad[0] != null) {
                throw bad[0];
            }
            long allocated = meta.superblock().storeChunks() - meta.chunks().free();
            if (allocated != used[0]) {
                throw new MetadataCorruptException("the store map has " + allocated + " chunks in use, the tree "
                        + used[0]);
            }
            return used[0];
        });
    }

    /** Waits until every queued request and pending deletion sweep has been handled. */
    public void settle() throws IOException {
        while (true) {
            boolean sweeping = call(() -> sweepTarget() != null);
            if (!sweeping) {
                return;
            }
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException();
            }
        }
    }

    private Snapshot find(String snapName) throws IOException {
        return meta.snapshots().byName(snapName)
                .orElseThrow(() -> new IOException("volume " + name + " has no snapshot '" + snapName + "'"));
    }

    private static long newGuid() {
        long g;
        do {
            g = java.util.concurrent.ThreadLocalRandom.current().nextLong();
        } while (g == 0);
        return g;
    }

    @SuppressWarnings("unchecked")
    private <T> T call(Task<T> task) throws IOException {
        if (!running) {
            throw new IOException(name + ": the snapshot store is closed");
        }
        if (Thread.currentThread() == worker) {
            try {
                return task.run();
            } catch (InterruptedException e) {
                throw new InterruptedIOException();
            }
        }
        CompletableFuture<Object> f = new CompletableFuture<>();
        enqueue(new Control(task, f));
        try {
            return (T) f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("waiting for " + name + "'s snapshot store");
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof IOException io) {
                throw new IOException(io.getMessage(), io);
            }
            if (c instanceof IllegalArgumentException ia) {
                throw new IOException(ia.getMessage(), ia);
            }
            throw new IOException(name + ": " + c, c);
        }
    }

    // ---- the worker ----

    private void work() {
        List<Object> batch = this.batch;
        while (running || !queue.isEmpty()) {
            try {
                boolean canSweep = failure == null && sweepReady();
                Object first = canSweep ? queue.poll() : queue.poll(200, java.util.concurrent.TimeUnit.MILLISECONDS);
                if (first == null) {
                    if (canSweep) {
                        sweepStep();
                    }
                    continue;
                }
                batch.add(first);
                queue.drainTo(batch, BATCH - 1);
                for (; batchNext < batch.size(); batchNext++) {
                    Object w = batch.get(batchNext);
                    if (w != null) { // null: taken out of turn by awaitOriginReaders
                        handle(w);
                    }
                }
                finishBatch();
            } catch (InterruptedException e) {
                if (!running) {
                    break;
                }
            } catch (IOException | RuntimeException e) {
                fail(e);
                // The request that threw has been ended by its handler; the rest of the batch
                // must be answered too, or their submitters (close among them) wait for ever.
                for (int i = batchNext + 1; i < batch.size(); i++) {
                    if (batch.get(i) != null) {
                        refuse(batch.get(i));
                    }
                }
            } finally {
                batchNext = 0;
                batch.clear();
            }
        }
    }

    /**
     * Handles one request. When it throws, the request has been ended (completed, or left where
     * {@link #fail} ends it): a failure must not leave a submitter waiting.
     */
    private void handle(Object w) throws IOException, InterruptedException {
        if (failure != null) {
            refuse(w);
            return;
        }
        switch (w) {
            case Bio bio -> originWrite(bio);
            case SnapIo s -> {
                try {
                    snapshotIo(s.id(), s.bio());
                } catch (IOException | RuntimeException e) {
                    s.bio().complete(Errno.EIO);
                    throw e;
                }
                commitIfLarge();
            }
            case ReadDone r -> readDone(r.chunk());
            case Control c -> {
                try {
                    finishBatch();
                } catch (IOException | RuntimeException e) {
                    c.result().completeExceptionally(e);
                    throw e;
                }
                try {
                    c.result().complete(c.task().run());
                } catch (IOException | InterruptedException | RuntimeException e) {
                    c.result().completeExceptionally(e);
                }
                if (meta.uncommittedBlocks() > 0) {
                    commit();
                }
            }
            default -> throw new IllegalStateException("unexpected work " + w);
        }
    }

    private void refuse(Object w) {
        switch (w) {
            case Bio bio -> bio.complete(Errno.EIO);
            case SnapIo s -> s.bio().complete(Errno.EIO);
            case Control c -> c.result().completeExceptionally(new IOException(name + ": "
                    + (failure != null ? failure : "the snapshot store is closed")));
            default -> { }
        }
    }

    private void fail(Exception e) {
        if (failure == null) {
            failure = "the snapshot store failed and serves no more I/O until it is reopened: " + e.getMessage();
            LOG.error("{}: {}", name, failure, e);
            events.accept("store failed: " + e.getMessage());
        }
        for (Bio b : toRelease) {
            b.complete(Errno.EIO);
        }
        for (Bio b : toComplete) {
            b.complete(Errno.EIO);
        }
        toRelease.clear();
        toComplete.clear();
        toCoverCount = 0;
        for (ArrayDeque<Bio> q : waitingWrites.values()) {
            q.forEach(b -> b.complete(Errno.EIO));
        }
        waitingWrites.clear();
    }

    /** Commits the batch's metadata, then lets its writes through and completes its requests. */
    private void finishBatch() throws IOException {
        if (failure != null) {
            return; // what the failed batch changed in memory must never commit
        }
        if (!copies.isEmpty()) {
            copies.flush();
        }
        if (meta.uncommittedBlocks() > 0) {
            commit();
        }
        for (int i = 0; i < toCoverCount; i++) {
            covered.set(toCover[i]);
        }
        toCoverCount = 0;
        for (Bio b : toRelease) {
            gate.enterAlways();
            b.pushCompletion(gateDone, 0);
            Dispatch.submit(origin, b);
        }
        toRelease.clear();
        for (Bio b : toComplete) {
            b.complete(Errno.OK);
        }
        toComplete.clear();
    }

    private void commit() throws IOException {
        if (failure != null) {
            throw new IOException(name + ": " + failure);
        }
        if (!copies.isEmpty()) {
            copies.flush(); // a copy that fails fails the store: nothing of this batch commits
        }
        if (storeWritten) {
            // Copied data first, then the metadata that points at it. On a shared device too: the
            // journal's own flush orders nothing, and a power cut during it may keep the commit
            // record (whose checksum covers only journal blocks) and lose the data.
            io.flush(store);
        }
        storeWritten = false;
        meta.commit();
    }

    private void commitIfLarge() throws IOException {
        if (meta.uncommittedBlocks() >= COMMIT_AT_BLOCKS) {
            finishBatch();
        }
    }

    /** Builds the live set and the sweep list from the table, at open. */
    private void recomputeLive() {
        List<Snapshot> all = meta.snapshots().all();
        long[] ids = new long[all.size()];
        int n = 0;
        for (Snapshot s : all) {
            if (s.state() == State.LIVE) {
                ids[n++] = s.id();
            } else if (s.state().sweeping()) {
                sweeping.add(s.id());
            }
        }
        live = SharingSet.ofSorted(ids, n);
    }

    private void originWrite(Bio bio) throws IOException {
        long chunk = bio.offset() >>> chunkShift;
        int[] readers = originReaders.get(chunk);
        if (readers != null) {
            waitingWrites.computeIfAbsent(chunk, k -> new ArrayDeque<>()).add(bio);
            return;
        }
        try {
            copyOut(chunk);
        } catch (IOException e) {
            LOG.error("{}: copy-out of chunk {} failed; the origin write is refused", name, chunk, e);
            bio.complete(Errno.EIO);
            return;
        } catch (RuntimeException e) {
            bio.complete(Errno.EIO);
            throw e;
        }
        toRelease.add(bio);
        commitIfLarge();
    }

    /**
     * Gives every live snapshot that still reads {@code chunk} from the origin a copy of it, as one
     * exception they all share. When the store is full, drops snapshots by policy until it fits.
     */
    private void copyOut(long chunk) throws IOException {
        if (covered.get(chunk)) {
            return;
        }
        while (true) {
            List<SharedChunk> exceptions = exc.get(chunk);
            SharingSet need = live;
            for (SharedChunk c : exceptions) {
                need = need.minus(c.sharers());
            }
            if (need.isEmpty()) {
                cover(chunk);
                return;
            }
            if (meta.chunks().free() == 0 || meta.nodeBlocks().free() < NODE_RESERVE) {
                dropForSpace();
                continue;
            }
            ChunkExceptions.requireFits(chunk, new SharedChunk(0, need));
            long n = meta.chunks().allocate();
            int len = chunkLength(chunk);
            // The copy is done before the batch commits (or before anything reads the new chunk).
            // If it fails, the store fails and nothing of the batch commits, so the chunk taken
            // here is free again when the store is reopened.
            copies.add(chunk << chunkShift, storeOffset(n), len);
            storeWritten = true;
            exc.add(chunk, new SharedChunk(n, need));
            cover(chunk);
            return;
        }
    }

    private void cover(long chunk) {
        if (toCoverCount == toCover.length) {
            toCover = Arrays.copyOf(toCover, toCoverCount * 2);
        }
        toCover[toCoverCount++] = chunk;
    }

    /** The full-store policy: drop the live snapshot of lowest priority, oldest first, and reclaim. */
    private void dropForSpace() throws IOException {
        Snapshot victim = null;
        for (Snapshot s : meta.snapshots().all()) {
            if (s.state() == State.LIVE && (victim == null || s.priority() < victim.priority())) {
                victim = s;
            }
        }
        if (victim == null) {
            throw new NoSpaceException(name + ": the store is full and holds no snapshot to drop");
        }
        meta.snapshots().update(victim.withState(State.DROPPING, System.currentTimeMillis()));
        sweeping.add(victim.id());
        live = live.without(victim.id());
        String why = meta.chunks().free() == 0 ? "the store is full" : "the metadata area is nearly full";
        LOG.warn("{}: {}: dropped snapshot '{}' (id {}, priority {}) to keep the origin's writes", name, why,
                victim.name(), victim.id(), victim.priority());
        events.accept("snapshot " + victim.name() + " dropped: " + why);
        finishBatch();
        while (sweepTarget() != null) {
            awaitStoreIo(sweepTarget().id());
            sweepStep();
        }
    }

    /**
     * Waits until snapshot {@code id} has no reads or writes left in the store (their completions
     * count down by themselves), holding other queued work back until then, so its chunks may be freed.
     */
    private void awaitStoreIo(long id) throws IOException {
        List<Object> later = new ArrayList<>();
        try {
            while (storeIoBusy(id)) {
                Object w = queue.poll(1, java.util.concurrent.TimeUnit.MILLISECONDS);
                if (w != null) {
                    later.add(w);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("stopped while snapshot " + id + " still had I/O in the store");
        } finally {
            queue.addAll(later); // answered by the worker later, even if this failed
        }
    }

    private int chunkLength(long chunk) {
        return (int) Math.min(chunkSize, originBytes - (chunk << chunkShift));
    }

    private long storeOffset(long storeChunk) {
        return dataStart + (storeChunk << chunkShift);
    }

    private void readDone(long chunk) throws IOException {
        int[] readers = originReaders.get(chunk);
        if (readers == null || --readers[0] > 0) {
            return;
        }
        originReaders.remove(chunk);
        ArrayDeque<Bio> waiting = waitingWrites.remove(chunk);
        while (waiting != null && !waiting.isEmpty()) {
            try {
                originWrite(waiting.poll());
            } catch (IOException | RuntimeException e) {
                waiting.forEach(b -> b.complete(Errno.EIO));
                throw e;
            }
        }
    }

    private void snapshotIo(long id, Bio bio) throws IOException {
        if (!copies.isEmpty()) {
            copies.flush(); // a store chunk this request reads may still be on its way
        }
        Snapshot s = meta.snapshots().byId(id).orElse(null);
        if (s == null || s.state() != State.LIVE) {
            bio.complete(Errno.EIO);
            return;
        }
        if (bio.op() == Op.FLUSH) {
            submitter.execute(() -> Dispatch.submit(store, bio));
            return;
        }
        if (bio.offset() + bio.length() > originBytes) {
            bio.complete(bio.op().modifies() ? Errno.ENOSPC : Errno.EINVAL);
            return;
        }
        long chunk = bio.offset() >>> chunkShift;
        int within = (int) (bio.offset() & (chunkSize - 1));
        List<SharedChunk> exceptions = exc.get(chunk);
        SharedChunk mine = null;
        for (SharedChunk c : exceptions) {
            if (c.sharers().contains(id)) {
                mine = c;
            }
        }
        if (!bio.op().modifies()) {
            if (mine != null) {
                bio.remap(storeOffset(mine.storeChunk()) + within);
                submitToStore(id, bio);
            } else {
                originReaders.computeIfAbsent(chunk, k -> new int[1])[0]++;
                bio.pushCompletion(readDone, chunk);
                submitter.execute(() -> Dispatch.submit(origin, bio));
            }
            return;
        }
        if (!s.writable()) {
            bio.complete(Errno.EPERM);
            return;
        }
        if (mine != null && mine.sharers().size() == 1) {
            // Its own chunk: write in place, no metadata to change. But if this batch made it its
            // own (a copy-out, another snapshot's write moving off it), that must be committed
            // first: on disk the chunk may still be shared, or not be this snapshot's at all.
            if (meta.uncommittedBlocks() > 0) {
                finishBatch();
            }
            bio.remap(storeOffset(mine.storeChunk()) + within);
            submitToStore(id, bio);
            return;
        }
        if (meta.chunks().free() == 0 || meta.nodeBlocks().free() < NODE_RESERVE) {
            bio.complete(Errno.ENOSPC); // a snapshot's own writes never drop other snapshots
            return;
        }
        int len = chunkLength(chunk);
        if (mine != null) {
            io.read(store, storeOffset(mine.storeChunk()), len, chunkBuf, 0);
        } else {
            io.read(origin, chunk << chunkShift, len, chunkBuf, 0);
        }
        MemorySegment buf = chunkBuf.segment();
        if (bio.op() == Op.WRITE) {
            MemorySegment.copy(bio.buffer().segment(), bio.bufferOffset(), buf, within, bio.length());
        } else {
            buf.asSlice(within, bio.length()).fill((byte) 0);
        }
        long n = meta.chunks().allocate();
        io.write(store, storeOffset(n), len, chunkBuf, 0);
        storeWritten = true;
        List<SharedChunk> updated = new ArrayList<>();
        for (SharedChunk c : exceptions) {
            if (c == mine) {
                SharingSet rest = c.sharers().without(id);
                if (!rest.isEmpty()) {
                    updated.add(new SharedChunk(c.storeChunk(), rest));
                }
            } else {
                updated.add(c);
            }
        }
        updated.add(new SharedChunk(n, SharingSet.of(id)));
        exc.put(chunk, updated);
        toComplete.add(bio);
    }

    /** Sends snapshot {@code id}'s bio, remapped to one of its store chunks, down, counted in {@link #storeIo}. */
    private void submitToStore(long id, Bio bio) {
        // Only the worker counts up, so an entry is never removed while a count is being taken.
        storeIo.computeIfAbsent(id, k -> new AtomicInteger()).incrementAndGet();
        bio.pushCompletion(storeIoDone, id);
        submitter.execute(() -> Dispatch.submit(store, bio));
    }

    private boolean storeIoBusy(long id) {
        AtomicInteger n = storeIo.get(id);
        return n != null && n.get() > 0;
    }

    // ---- deletion sweep ----

    private Snapshot sweepTarget() {
        return sweeping.isEmpty() ? null : meta.snapshots().byId(sweeping.first()).orElse(null);
    }

    /** A sweep is pending and may free chunks now: its snapshot has no I/O left in the store. */
    private boolean sweepReady() {
        Snapshot s = sweepTarget();
        return s != null && !storeIoBusy(s.id());
    }

    /** One bounded, committed step of freeing the chunks a deleted or dropped snapshot held. */
    private void sweepStep() throws IOException {
        Snapshot s = sweepTarget();
        long next = meta.tree().removeSnapshot(s.id(), s.sweepFrom(), SWEEP_CHUNKS, meta.chunks()::free);
        if (next >= 0) {
            meta.snapshots().update(s.withSweepFrom(next));
        } else if (s.state() == State.DELETING) {
            meta.snapshots().remove(s.id());
            sweeping.remove(s.id());
            storeIo.remove(s.id());
            LOG.info("{}: snapshot '{}' (id {}) reclaimed", name, s.name(), s.id());
        } else {
            meta.snapshots().update(s.withState(State.DROPPED, s.changedMillis()));
            sweeping.remove(s.id());
            storeIo.remove(s.id());
        }
        commit();
    }

    // ---- revert ----

    private void revertTo(long id) throws IOException, InterruptedException {
        long from = 0;
        while (from >= 0) {
            List<long[]> work = new ArrayList<>();
            long[] next = {-1};
            exc.forEachChunk(from, (chunk, exceptions) -> {
                if (work.size() == 64) {
                    next[0] = chunk;
                    return false;
                }
                long src = source(exceptions, id);
                if (src >= 0) {
                    work.add(new long[] {chunk, src});
                }
                return true;
            });
            // The copy-outs commit before any origin chunk is overwritten.
            for (long[] w : work) {
                copyOut(w[0]);
            }
            finishBatch();
            awaitOriginReaders();
            for (long[] w : work) {
                int len = chunkLength(w[0]);
                io.read(store, storeOffset(w[1]), len, otherBuf, 0);
                io.write(origin, w[0] << chunkShift, len, otherBuf, 0);
            }
            from = next[0];
        }
        io.flush(origin);
    }

    /**
     * Waits for snapshot reads of origin chunks to complete, handling their completions here and
     * putting other queued work back, so the worker may overwrite origin chunks itself.
     */
    private void awaitOriginReaders() throws IOException, InterruptedException {
        // Completions already taken into this batch, behind the request in hand, count too.
        for (int i = batchNext + 1; i < batch.size() && !originReaders.isEmpty(); i++) {
            if (batch.get(i) instanceof ReadDone r) {
                batch.set(i, null);
                readDone(r.chunk());
            }
        }
        List<Object> later = new ArrayList<>();
        try {
            while (!originReaders.isEmpty()) {
                Object w = queue.take();
                if (w instanceof ReadDone r) {
                    readDone(r.chunk());
                } else {
                    later.add(w);
                }
            }
            finishBatch();
        } finally {
            queue.addAll(later); // answered by the worker later, even if this failed
        }
    }

    // ---- figures ----

    private List<SnapshotUsage> computeUsage() throws IOException {
        List<Snapshot> all = meta.snapshots().all();
        long[] ids = new long[all.size()];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = all.get(i).id();
        }
        long[] unique = new long[ids.length];
        long[] sharedDiff = new long[ids.length + 1];
        meta.tree().forEach(0, (chunk, exceptions) -> {
            for (SharedChunk c : exceptions) {
                SharingSet s = c.sharers();
                if (s.size() == 1) {
                    int i = Arrays.binarySearch(ids, s.first(0));
                    if (i >= 0) {
                        unique[i]++;
                    }
                    continue;
                }
                for (int r = 0; r < s.rangeCount(); r++) {
                    int lo = lowerBound(ids, s.first(r));
                    int hi = lowerBound(ids, s.last(r) + 1);
                    sharedDiff[lo]++;
                    sharedDiff[hi]--;
                }
            }
            return true;
        });
        List<SnapshotUsage> out = new ArrayList<>(all.size());
        long shared = 0;
        for (int i = 0; i < ids.length; i++) {
            shared += sharedDiff[i];
            out.add(new SnapshotUsage(all.get(i), unique[i], shared));
        }
        return out;
    }

    private static int lowerBound(long[] a, long key) {
        int i = Arrays.binarySearch(a, key);
        return i >= 0 ? i : -i - 1;
    }

    private StoreStatus computeStatus() throws IOException {
        long[] histogram = new long[33];
        long[] exceptions = {0};
        meta.tree().forEach(0, (chunk, list) -> {
            for (SharedChunk c : list) {
                histogram[64 - Long.numberOfLeadingZeros(c.sharers().size() - 1)]++;
                exceptions[0]++;
            }
            return true;
        });
        Map<String, Long> buckets = new java.util.LinkedHashMap<>();
        for (int b = 0; b < histogram.length; b++) {
            if (histogram[b] > 0) {
                long lo = b == 0 ? 1 : (1L << (b - 1)) + 1;
                long hi = 1L << b;
                buckets.put(lo == hi ? String.valueOf(lo) : lo + "-" + hi, histogram[b]);
            }
        }
        Superblock sb = meta.superblock();
        List<Snapshot> all = meta.snapshots().all();
        List<Snapshot> dropped = all.stream().filter(s -> s.state() == State.DROPPED || s.state() == State.DROPPING).toList();
        long liveCount = all.stream().filter(s -> s.state() == State.LIVE).count();
        long deleting = all.stream().filter(s -> s.state() == State.DELETING).count();
        return new StoreStatus(chunkSize, originBytes, sb.storeChunks(), sb.storeChunks() - meta.chunks().free(),
                sb.nodeBlocks(), sb.nodeBlocks() - meta.nodeBlocks().free(), sb.journalBlocks(), liveCount, deleting,
                dropped, exceptions[0], buckets, failure);
    }

    // ---- shutdown ----

    /** Finishes queued work, checkpoints the metadata and stops the worker. */
    @Override
    public void close() throws IOException {
        if (!running) {
            return;
        }
        if (failure == null) { // a failed store has nothing left to commit
            try {
                call(() -> {
                    finishBatch();
                    return null;
                });
            } catch (IOException e) {
                LOG.warn("{}: {}", name, e.getMessage());
            }
        }
        running = false;
        worker.interrupt();
        try {
            worker.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        submitter.shutdown();
        try {
            if (failure == null) {
                meta.close();
            }
        } finally {
            chunkBuf.release();
            otherBuf.release();
            copies.close();
            metaDev.close();
        }
    }

    /** A snapshot with the chunks only it holds ({@code unique}) and those it shares ({@code shared}). */
    public record SnapshotUsage(Snapshot snapshot, long unique, long shared) {}

    /**
     * The store's figures for {@code ddsnap status}.
     *
     * @param sharing exceptions by how many snapshots share them ("1", "2", "3-4", "5-8", ...)
     */
    public record StoreStatus(int chunkSize, long originBytes, long storeChunks, long storeChunksUsed,
            long metaBlocks, long metaBlocksUsed, long journalBlocks, long liveSnapshots, long deletingSnapshots,
            List<Snapshot> dropped, long exceptions, Map<String, Long> sharing, String failure) {}
}
