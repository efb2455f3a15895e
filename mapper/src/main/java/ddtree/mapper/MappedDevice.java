package ddtree.mapper;

import ddtree.block.Bio;
import ddtree.block.BioCompletion;
import ddtree.block.BlockDevice;
import ddtree.block.Capabilities;
import ddtree.block.Dispatch;
import ddtree.block.Errno;
import ddtree.block.Extents;
import ddtree.block.InflightBudget;
import ddtree.block.Op;
import ddtree.block.StatusMaps;
import java.io.IOException;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.Optional;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A device built from a table of targets: device-mapper's {@code mapped_device}.
 *
 * <p>Each bio goes to the target holding its offset (a binary search over the live table), moved
 * to the target's own offsets. A bio that crosses a target boundary, or a multiple of its target's
 * {@link Target#maxIoBytes()}, is split into children that share its buffer; it completes when
 * they all have, the first error winning. A zero-length FLUSH goes to every target. An unsplit bio
 * is remapped in place and costs no allocation.
 *
 * <p>Suspending stops admitting bios (they wait, in order, in an intrusive queue) and waits for
 * those in flight. Resuming swaps in the inactive table if one is loaded, closes the old one,
 * and resubmits the held bios to the table now live. The size may change on resume; a held bio
 * that now lies past the end fails with EIO.
 *
 * <p>Which bios are in flight and which are held is {@link Admission}'s job.
 *
 * <p>The device offers the {@link StatusMaps} of its live table's targets: the names any of them
 * offers, each map answered target by target, with a target that lacks the map reading as flags 0.
 */
public final class MappedDevice implements BlockDevice, StatusMaps {
    private static final Logger LOG = LoggerFactory.getLogger(MappedDevice.class);
    /** Slots an unsplit bio needs: one for the device's in-flight step, one for its target. */
    private static final int ROOM_NEEDED = 2;

    private volatile String name;
    private final TargetContext ctx;
    private final TargetTypes types;
    private final InflightBudget budget = InflightBudget.defaults();
    /** Zero-length flushes to several targets. */
    private final BioSplitter splitter;
    /** Bios that cross a target or max-I/O boundary. */
    private final RangeSplitter ranges;
    private final Admission admission = new Admission();
    /** Only counts, so a read passing through may still be lent by the device below. */
    private final BioCompletion inflightDone = BioCompletion.blind((bio, state) -> {
        admission.exit();
        return true;
    });

    private volatile Table live;
    /** Guarded by {@link #control}. */
    private Table inactive;
    private volatile boolean closed;

    /** Serialises suspend, resume, load and close with one another. */
    private final ReentrantLock control = new ReentrantLock();

    private MappedDevice(String name, TargetContext ctx, TargetTypes types) {
        this.name = name;
        this.ctx = new Renamable(ctx);
        this.types = types;
        this.splitter = new BioSplitter(Bio.DEFAULT_DEPTH, admission::exit);
        this.ranges = new RangeSplitter(Bio.DEFAULT_DEPTH, this::map, admission::exit);
    }

    /**
     * Builds a device from {@code table}, checking it fully (layout, types, arguments, lower
     * device sizes). On failure nothing stays built and the lower devices are given back.
     */
    public static MappedDevice create(String name, List<TableLine> table, TargetContext ctx, TargetTypes types)
            throws TableException {
        MappedDevice d = new MappedDevice(name, ctx, types);
        d.live = Table.build(name, table, d.ctx, types);
        d.live.resume();
        return d;
    }

    /** The daemon's context, with target events sent under the device's name of the moment. */
    private final class Renamable implements TargetContext {
        private final TargetContext inner;

        Renamable(TargetContext inner) {
            this.inner = inner;
        }

        @Override
        public BlockDevice lowerDevice(String nameOrPath) throws TableException {
            return inner.lowerDevice(nameOrPath);
        }

        @Override
        public void releaseLowerDevice(String nameOrPath, BlockDevice device) {
            inner.releaseLowerDevice(nameOrPath, device);
        }

        @Override
        public void event(String deviceName, String text) {
            inner.event(name, text); // renamed since the target was built, perhaps
        }

        @Override
        public ddtree.block.BufferPool buffers() {
            return inner.buffers();
        }
    }

    /** Builds {@code table} as the inactive table, replacing one loaded before; {@link #resume} swaps it in. */
    public void load(List<TableLine> table) throws TableException {
        Table t = Table.build(name, table, ctx, types);
        Table old;
        control.lock();
        try {
            if (closed) {
                t.close();
                throw new TableException("device " + name + " is closed");
            }
            old = inactive;
            inactive = t;
        } finally {
            control.unlock();
        }
        if (old != null) {
            old.close();
        }
    }

    /** Drops the inactive table, if any. */
    public void clearInactive() {
        Table old;
        control.lock();
        try {
            old = inactive;
            inactive = null;
        } finally {
            control.unlock();
        }
        if (old != null) {
            old.close();
        }
    }

    /** Holds new I/O and waits until no bio is in flight in the live table. Suspending twice is harmless. */
    public void suspend() throws InterruptedException {
        Bio held = null;
        control.lockInterruptibly();
        try {
            if (admission.closed()) {
                return;
            }
            admission.close();
            live.presuspend();
            try {
                admission.awaitDrained();
            } catch (InterruptedException e) {
                live.resume(); // a suspend that did not finish must not leave I/O held
                held = admission.open();
                throw e;
            }
        } finally {
            control.unlock();
            resubmit(held);
        }
    }

    /**
     * Swaps in the inactive table if one is loaded (suspending first if need be, as dmsetup
     * resume does), closes the old one, and releases the held I/O to the live table in the
     * order it arrived.
     */
    public void resume() {
        Bio held = null;
        control.lock();
        try {
            if (inactive != null) {
                if (!admission.closed()) {
                    admission.close();
                    live.presuspend();
                    admission.awaitDrainedUninterruptibly();
                }
                Table old = live;
                live = inactive;
                inactive = null;
                old.close();
                live.resume();
            } else if (admission.closed()) {
                live.resume();
            }
            if (admission.closed()) {
                held = admission.open();
            }
        } finally {
            control.unlock();
        }
        // Outside the control lock: a lower device that makes its submitter wait must not hold up
        // the next suspend. Should one come first, these bios are simply held again, still in order.
        resubmit(held);
    }

    private void resubmit(Bio b) {
        while (b != null) {
            Bio next = b.queueNext();
            b.queueNext(null);
            Dispatch.submit(this, b);
            b = next;
        }
    }

    /** Split pieces pooled now: how far the pools grew, for tests. */
    int pooledPieces() {
        return ranges.pooledChildren();
    }

    public boolean suspended() {
        return admission.closed();
    }

    public List<TableLine> table() {
        return live.lines;
    }

    public Optional<List<TableLine>> inactiveTable() {
        control.lock();
        try {
            return Optional.ofNullable(inactive).map(t -> t.lines);
        } finally {
            control.unlock();
        }
    }

    /** One line per target: {@code "0 2048 linear <target status>"}. */
    public List<String> status(StatusType type) {
        return live.status(type);
    }

    /** Sends a message to the target holding {@code sector} and returns its reply. */
    public String message(long sector, List<String> args) throws TableException {
        Table t = live;
        long sectors = t.size / TableLine.SECTOR;
        if (sector < 0 || sector >= sectors) {
            throw new TableException("sector " + sector + " is outside device " + name + " (" + sectors + " sectors)");
        }
        if (args.isEmpty()) {
            throw new TableException("message to device " + name + " is empty");
        }
        int i = t.find(sector * TableLine.SECTOR);
        try {
            return t.targets[i].message(args);
        } catch (TableException e) {
            throw new TableException("sector " + sector + ": " + t.lines.get(i).type() + ": " + e.getMessage());
        }
    }

    /** The lower devices of the live table, each once. */
    public List<String> dependencies() {
        return live.dependencies();
    }

    public void rename(String newName) {
        this.name = newName;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public long size() {
        return live.size;
    }

    @Override
    public Capabilities capabilities() {
        return live.capabilities;
    }

    @Override
    public InflightBudget budget() {
        return budget;
    }

    @Override
    public void submit(Bio bio) {
        if (closed) {
            bio.complete(Errno.ESHUTDOWN);
            return;
        }
        if (!admission.enter(bio)) {
            return; // held until resume
        }
        Table t = live; // read after admission: a table swap waits for every admitted bio
        if (bio.op() == Op.FLUSH) {
            flushAll(t, bio);
        } else {
            route(t, bio);
        }
    }

    /** Hands a bio that carries the device's completion to a target; a target bug fails only that bio. */
    private void map(Target target, Bio bio) {
        try {
            target.map(bio);
        } catch (RuntimeException e) {
            LOG.error("device {}: target {} threw on {}", name, target, bio, e);
            bio.complete(Errno.EIO);
        }
    }

    private void route(Table t, Bio bio) {
        long offset = bio.offset();
        long length = bio.length();
        if (offset > t.size || length > t.size - offset) {
            // The export checked the range against the size it knew; a resume may have shrunk it.
            admission.exit();
            bio.complete(Errno.EIO);
            return;
        }
        if (length == 0) {
            admission.exit();
            bio.complete(Errno.OK);
            return;
        }
        if (bio.op().carriesData()
                && (bio.buffer() == null || bio.bufferOffset() + length > bio.buffer().capacity())) {
            admission.exit(); // a bug above us; checked here because a split would throw halfway and leak the count
            bio.complete(Errno.EINVAL);
            return;
        }
        int i = t.find(offset);
        long rel = offset - t.starts[i];
        if (length <= pieceLimit(t, i, rel, bio.op()) && bio.completionRoom() >= ROOM_NEEDED) {
            bio.pushCompletion(inflightDone, 0);
            bio.remap(rel);
            map(t.targets[i], bio);
            return;
        }
        ranges.split(t, bio, i, rel);
    }

    /** The most bytes a piece starting {@code rel} into target {@code i} may have. */
    static long pieceLimit(Table t, int i, long rel, Op op) {
        long limit = t.ends[i] - t.starts[i] - rel;
        long max = t.targets[i].maxIoBytes(op);
        if (max > 0) {
            limit = Math.min(limit, max - rel % max);
        }
        return limit;
    }

    /** Sends a flush to every target (once per shared lower device); with one such target the bio itself goes. */
    private void flushAll(Table t, Bio bio) {
        if (t.flushTargets.length == 1 && bio.completionRoom() >= ROOM_NEEDED) {
            bio.pushCompletion(inflightDone, 0);
            bio.remap(0);
            bio.narrow(0, 0, bio.bufferOffset()); // a FLUSH's range means nothing; targets see 0+0
            map(t.flushTargets[0], bio);
            return;
        }
        BioSplitter.Group g = splitter.begin(bio);
        try {
            for (Target target : t.flushTargets) {
                map(target, g.child(0, 0, 0));
            }
        } finally {
            g.end();
        }
    }

    @Override
    public void extents(long offset, long length, Extents out) throws IOException {
        Table t = live;
        long end = Math.min(t.size, offset + length);
        int i = offset < t.size ? t.find(offset) : t.targets.length;
        while (offset < end && i < t.targets.length && !out.full()) {
            long rel = offset - t.starts[i];
            long piece = Math.min(end, t.ends[i]) - offset;
            long before = out.totalLength();
            t.targets[i].extents(rel, piece, out);
            if (out.totalLength() - before < piece) {
                break; // the list filled up inside this target
            }
            offset += piece;
            i++;
        }
    }

    /** The names the live table's targets list for {@code prefix}, each once, in table order. */
    @Override
    public List<String> listMaps(String prefix) {
        Set<String> names = new LinkedHashSet<>();
        for (Target target : live.targets) {
            if (target instanceof StatusMaps m) {
                names.addAll(m.listMaps(prefix));
            }
        }
        return List.copyOf(names);
    }

    /** True if any target of the live table has the map. */
    @Override
    public boolean hasMap(String name) {
        for (Target target : live.targets) {
            if (target instanceof StatusMaps m && m.hasMap(name)) {
                return true;
            }
        }
        return false;
    }

    /** Like {@link #extents}: each target's part of the range, from the target if it has the map, else flags 0. */
    @Override
    public void mapExtents(String name, long offset, long length, Extents out) throws IOException {
        Table t = live;
        long end = Math.min(t.size, offset + length);
        int i = offset < t.size ? t.find(offset) : t.targets.length;
        // Not stopped by a full list: the next target's first run may still merge into the last one.
        while (offset < end && i < t.targets.length) {
            long rel = offset - t.starts[i];
            long piece = Math.min(end, t.ends[i]) - offset;
            long before = out.totalLength();
            if (t.targets[i] instanceof StatusMaps m && m.hasMap(name)) {
                m.mapExtents(name, rel, piece, out);
            } else {
                out.add(piece, 0);
            }
            if (out.totalLength() - before < piece) {
                break; // the list filled up inside this target
            }
            offset += piece;
            i++;
        }
    }

    /**
     * Closes both tables. Held bios fail with ESHUTDOWN; the caller has stopped I/O, so nothing is
     * in flight.
     */
    @Override
    public void close() {
        Bio b;
        Table in;
        control.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            b = admission.open();
            in = inactive;
            inactive = null;
        } finally {
            control.unlock();
        }
        while (b != null) {
            Bio next = b.queueNext();
            b.queueNext(null);
            b.complete(Errno.ESHUTDOWN);
            b = next;
        }
        live.close();
        if (in != null) {
            in.close();
        }
    }

    @Override
    public String toString() {
        return "MappedDevice " + name + " (" + live.size + " bytes, " + live.targets.length + " targets)";
    }
}
