package ddtree.mapper.targets;

import ddtree.block.Bio;
import ddtree.block.BlockDevice;
import ddtree.block.Capabilities;
import ddtree.block.Dispatch;
import ddtree.block.Extents;
import ddtree.block.Op;
import ddtree.mapper.LowerDevices;
import ddtree.mapper.SimpleTargetType;
import ddtree.mapper.StatusType;
import ddtree.mapper.TableException;
import ddtree.mapper.TableLine;
import ddtree.mapper.Target;
import ddtree.mapper.TargetArgs;
import ddtree.mapper.TargetContext;
import ddtree.mapper.TargetType;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * {@code delay <dev> <offset> <delay ms> [<write dev> <write offset> <write delay ms> [<flush dev>
 * <flush offset> <flush delay ms>]]} (dm-delay): reads, writes and flushes each go to their own
 * device and offset after their own delay. With three arguments all three share them; with six,
 * flushes follow the writes. Writes are every request that changes data.
 *
 * <p>A delayed bio waits in its class's queue; the target's timer thread sends it down when its
 * time comes, so no submitting thread sleeps. Delays within a class are equal, so each queue is in
 * deadline order. On suspend the queues go down at once, as dm-delay flushes them, so a suspend
 * never waits out a delay.
 */
public final class DelayTarget implements Target {
    public static final TargetType TYPE = new SimpleTargetType("delay", "1.0.0", DelayTarget::create);
    /** The longest delay accepted: a day, so that a slip of the keyboard cannot hang a device for weeks. */
    public static final long MAX_DELAY_MS = 86_400_000;

    private final LowerDevices lowers;
    private final List<String> args;
    private final Lane read;
    private final Lane write;
    private final Lane flush;
    private final ScheduledExecutorService timer;

    private DelayTarget(LowerDevices lowers, List<String> args, Lane read, Lane write, Lane flush, String deviceName) {
        this.lowers = lowers;
        this.args = List.copyOf(args);
        this.read = read;
        this.write = write;
        this.flush = flush;
        this.timer = Timers.daemon("ddtree-delay-" + deviceName);
        for (Lane l : lanes()) {
            l.timer = timer;
        }
    }

    private static Target create(TargetContext ctx, String deviceName, TableLine line) throws TableException {
        List<String> a = line.args();
        if (a.size() != 3 && a.size() != 6 && a.size() != 9) {
            throw new TableException("expects 3, 6 or 9 arguments (<dev> <offset> <delay ms>, once each for"
                    + " reads, writes and flushes) but got " + a.size() + TargetArgs.describe(a));
        }
        long[] offsets = new long[a.size() / 3];
        long[] delays = new long[a.size() / 3];
        String[] kinds = {"", "write ", "flush "};
        for (int i = 0; i < offsets.length; i++) {
            offsets[i] = TargetArgs.sectors(kinds[i] + "offset", a.get(3 * i + 1));
            delays[i] = TargetArgs.number(kinds[i] + "delay", a.get(3 * i + 2), 0, MAX_DELAY_MS, "a number of milliseconds");
        }
        LowerDevices lowers = new LowerDevices(ctx);
        try {
            List<Lane> lanes = new ArrayList<>();
            for (int i = 0; i < offsets.length; i++) {
                String name = a.get(3 * i);
                BlockDevice dev = lowers.get(name);
                TargetArgs.fits(name, dev, offsets[i], line.length());
                lanes.add(new Lane(name, dev, offsets[i] * TableLine.SECTOR, delays[i]));
            }
            Lane r = lanes.get(0);
            Lane w = lanes.size() > 1 ? lanes.get(1) : new Lane(r);
            Lane f = lanes.size() > 2 ? lanes.get(2) : new Lane(w);
            return new DelayTarget(lowers, a, r, w, f, deviceName);
        } catch (TableException | RuntimeException e) {
            lowers.release();
            throw e;
        }
    }

    @Override
    public void map(Bio bio) {
        Lane lane = switch (bio.op()) {
            case READ -> read;
            case FLUSH -> flush;
            default -> write;
        };
        bio.remap(bio.offset() + lane.offset);
        lane.submit(bio);
    }

    /** Lets the queues go and stops delaying until the device resumes. */
    @Override
    public void presuspend() {
        for (Lane l : lanes()) {
            l.setDelaying(false);
        }
    }

    @Override
    public void resume() {
        for (Lane l : lanes()) {
            l.setDelaying(true);
        }
    }

    private Lane[] lanes() {
        return new Lane[] {read, write, flush};
    }

    /** INFO as dm-delay: the reads and writes (and, with nine arguments, flushes) waiting now. TABLE: the arguments. */
    @Override
    public String status(StatusType type) {
        if (type == StatusType.TABLE) {
            return String.join(" ", args);
        }
        return read.waiting() + " " + write.waiting() + (args.size() == 9 ? " " + flush.waiting() : "");
    }

    @Override
    public List<String> dependencies() {
        List<String> deps = new ArrayList<>();
        for (Lane l : lanes()) {
            if (!deps.contains(l.name)) {
                deps.add(l.name);
            }
        }
        return List.copyOf(deps);
    }

    /** What the read device can do, as writes and flushes may go elsewhere only in unusual tables. */
    @Override
    public Capabilities capabilities() {
        Capabilities r = read.dev.capabilities();
        Capabilities w = write.dev.capabilities();
        Capabilities f = flush.dev.capabilities();
        return new Capabilities(w.flush() || f.flush() || r.flush(), w.fua(), w.discard(), w.writeZeroes(),
                w.fastZero(), r.extents());
    }

    @Override
    public void extents(long offset, long length, Extents out) throws IOException {
        read.dev.extents(offset + read.offset, length, out);
    }

    /** Sends anything still waiting down, then stops the timer. */
    @Override
    public void close() {
        presuspend();
        timer.shutdownNow();
        lowers.release();
    }

    @Override
    public String toString() {
        return "delay " + String.join(" ", args);
    }

    /** One class of requests: its device, offset and delay, and the bios waiting their turn. */
    private static final class Lane {
        final String name;
        final BlockDevice dev;
        final long offset;
        final long delayNanos;
        /** Ring of waiting bios and their deadlines; guarded by this lane. */
        private Bio[] bios = new Bio[16];
        private long[] deadlines = new long[16];
        private int head;
        private int count;
        private boolean scheduled;
        private boolean delaying = true;
        /** The owning target's timer, set once the target is built. */
        ScheduledExecutorService timer;

        Lane(String name, BlockDevice dev, long offset, long delayMs) {
            this.name = name;
            this.dev = dev;
            this.offset = offset;
            this.delayNanos = TimeUnit.MILLISECONDS.toNanos(delayMs);
        }

        /** The same device and delay as {@code other}, with a queue of its own. */
        Lane(Lane other) {
            this(other.name, other.dev, other.offset, TimeUnit.NANOSECONDS.toMillis(other.delayNanos));
        }

        void submit(Bio bio) {
            if (delayNanos == 0) {
                Dispatch.submit(dev, bio);
                return;
            }
            synchronized (this) {
                if (delaying) {
                    add(bio, System.nanoTime() + delayNanos);
                    if (!scheduled) {
                        scheduled = true;
                        timer.schedule(this::timerRelease, delayNanos, TimeUnit.NANOSECONDS);
                    }
                    return;
                }
            }
            Dispatch.submit(dev, bio);
        }

        private void add(Bio bio, long deadline) {
            if (count == bios.length) {
                Bio[] nb = new Bio[count * 2];
                long[] nd = new long[count * 2];
                for (int i = 0; i < count; i++) {
                    nb[i] = bios[(head + i) % bios.length];
                    nd[i] = deadlines[(head + i) % bios.length];
                }
                bios = nb;
                deadlines = nd;
                head = 0;
            }
            int tail = (head + count) % bios.length;
            bios[tail] = bio;
            deadlines[tail] = deadline;
            count++;
        }

        /**
         * The timer's task: sends down the bios whose time has come and sets the timer for the
         * next. {@link #scheduled} is true exactly while one such task is pending, so there is
         * never more than one per lane.
         */
        private void timerRelease() {
            release(true);
        }

        /** Sends down the bios whose time has come, or all of them when not delaying. */
        private void release(boolean fromTimer) {
            Bio first = null;
            Bio last = null;
            synchronized (this) {
                long now = System.nanoTime();
                while (count > 0 && (!delaying || deadlines[head] - now <= 0)) {
                    Bio b = bios[head];
                    bios[head] = null;
                    head = (head + 1) % bios.length;
                    count--;
                    b.queueNext(null);
                    if (last == null) {
                        first = b;
                    } else {
                        last.queueNext(b);
                    }
                    last = b;
                }
                if (fromTimer) {
                    if (count > 0) {
                        timer.schedule(this::timerRelease, deadlines[head] - now, TimeUnit.NANOSECONDS);
                    } else {
                        scheduled = false;
                    }
                }
            }
            while (first != null) {
                Bio next = first.queueNext();
                first.queueNext(null);
                Dispatch.submit(dev, first);
                first = next;
            }
        }

        void setDelaying(boolean on) {
            synchronized (this) {
                delaying = on;
            }
            if (!on) {
                release(false); // on the caller's thread: the suspend that called us waits for these
            }
        }

        synchronized int waiting() {
            return count;
        }
    }
}
