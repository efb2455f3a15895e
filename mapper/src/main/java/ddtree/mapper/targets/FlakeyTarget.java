package ddtree.mapper.targets;

import ddtree.block.Bio;
import ddtree.block.BlockDevice;
import ddtree.block.Capabilities;
import ddtree.block.Dispatch;
import ddtree.block.Errno;
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
import java.util.List;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * {@code flakey <dev> <offset> <up interval> <down interval> [<#feature args> [<feature>]...]}: a
 * linear mapping that is up for {@code up} seconds, then down for {@code down} seconds, over and
 * over from the moment it was built (dm-flakey). While down, with no features, every request fails
 * with EIO; {@code drop_writes} acknowledges writes without writing them, {@code error_writes}
 * fails them, and {@code error_reads} fails reads. Writes here are every request that changes
 * data, and flushes.
 *
 * <p>Messages {@code down} and {@code up} hold the state until {@code cycle} returns to the
 * intervals, so tests need not wait. Each change of state is reported as an event.
 */
public final class FlakeyTarget implements Target {
    public static final TargetType TYPE = new SimpleTargetType("flakey", "1.0.0", FlakeyTarget::create);
    private static final long NANOS = 1_000_000_000L;

    private final LowerDevices lowers;
    private final List<String> args;
    private final String devName;
    private final BlockDevice dev;
    private final long offsetBytes;
    private final long upNanos;
    private final long periodNanos;
    private final boolean dropWrites;
    private final boolean errorWrites;
    private final boolean errorReads;
    private final long startNanos = System.nanoTime();
    private final TargetContext ctx;
    private final String deviceName;
    private final long sector;

    /** 0: follow the intervals; 1: held up; 2: held down. */
    private volatile int forced;
    /** Guarded by this. */
    private boolean reportedDown;
    private boolean closed;
    private ScheduledFuture<?> timer;

    private FlakeyTarget(TargetContext ctx, String deviceName, TableLine line, LowerDevices lowers, BlockDevice dev,
            long offset, long up, long down, boolean dropWrites, boolean errorWrites, boolean errorReads) {
        this.ctx = ctx;
        this.deviceName = deviceName;
        this.sector = line.start();
        this.args = line.args();
        this.lowers = lowers;
        this.devName = line.args().get(0);
        this.dev = dev;
        this.offsetBytes = offset * TableLine.SECTOR;
        this.upNanos = up * NANOS;
        this.periodNanos = (up + down) * NANOS;
        this.dropWrites = dropWrites;
        this.errorWrites = errorWrites;
        this.errorReads = errorReads;
    }

    private static Target create(TargetContext ctx, String deviceName, TableLine line) throws TableException {
        List<String> a = line.args();
        if (a.size() < 4) {
            throw new TableException("expects at least 4 arguments (<dev> <offset> <up interval> <down interval>"
                    + " [<#feature args> [<feature>]...]) but got " + a.size() + TargetArgs.describe(a));
        }
        long offset = TargetArgs.sectors("offset", a.get(1));
        long up = TargetArgs.number("up interval", a.get(2), 0, Integer.MAX_VALUE, "a number of seconds");
        long down = TargetArgs.number("down interval", a.get(3), 0, Integer.MAX_VALUE, "a number of seconds");
        if (up + down == 0) {
            throw new TableException("up interval and down interval are both 0 seconds; one must be positive");
        }
        boolean drop = false;
        boolean errorWrites = false;
        boolean errorReads = false;
        if (a.size() > 4) {
            int n = (int) TargetArgs.number("feature argument count", a.get(4), 0, 3, "a count of feature arguments");
            if (a.size() != 5 + n) {
                throw new TableException("feature argument count " + n + " does not match the " + (a.size() - 5)
                        + " feature argument" + (a.size() - 5 == 1 ? "" : "s") + " after it");
            }
            for (String f : a.subList(5, a.size())) {
                switch (f) {
                    case "drop_writes" -> {
                        if (drop || errorWrites) {
                            throw new TableException(drop ? "feature drop_writes is given twice"
                                    : "feature drop_writes conflicts with error_writes");
                        }
                        drop = true;
                    }
                    case "error_writes" -> {
                        if (drop || errorWrites) {
                            throw new TableException(errorWrites ? "feature error_writes is given twice"
                                    : "feature error_writes conflicts with drop_writes");
                        }
                        errorWrites = true;
                    }
                    case "error_reads" -> {
                        if (errorReads) {
                            throw new TableException("feature error_reads is given twice");
                        }
                        errorReads = true;
                    }
                    default -> throw new TableException("unknown feature '" + f
                            + "' (expected drop_writes, error_writes or error_reads)");
                }
            }
        }
        if (!drop && !errorWrites && !errorReads) {
            errorWrites = errorReads = true; // dm-flakey: with no features, all I/O fails while down
        }
        LowerDevices lowers = new LowerDevices(ctx);
        try {
            BlockDevice dev = lowers.get(a.get(0));
            TargetArgs.fits(a.get(0), dev, offset, line.length());
            return new FlakeyTarget(ctx, deviceName, line, lowers, dev, offset, up, down, drop, errorWrites, errorReads);
        } catch (TableException | RuntimeException e) {
            lowers.release();
            throw e;
        }
    }

    /** Whether the target is down now. */
    public boolean down() {
        int f = forced;
        if (f != 0) {
            return f == 2;
        }
        return (System.nanoTime() - startNanos) % periodNanos >= upNanos;
    }

    @Override
    public void map(Bio bio) {
        if (down()) {
            if (bio.op() == Op.READ) {
                if (errorReads) {
                    bio.complete(Errno.EIO);
                    return;
                }
            } else if (dropWrites) {
                bio.complete(Errno.OK);
                return;
            } else if (errorWrites) {
                bio.complete(Errno.EIO);
                return;
            }
        }
        bio.remap(bio.offset() + offsetBytes);
        Dispatch.submit(dev, bio);
    }

    /** {@code down}, {@code up}: hold that state; {@code cycle}: follow the intervals again. */
    @Override
    public String message(List<String> m) throws TableException {
        if (m.size() != 1) {
            throw new TableException("expects one word (down, up or cycle) but got '" + String.join(" ", m) + "'");
        }
        forced = switch (m.get(0)) {
            case "up" -> 1;
            case "down" -> 2;
            case "cycle" -> 0;
            default -> throw new TableException("unknown message '" + m.get(0) + "' (expected down, up or cycle)");
        };
        tick();
        return "";
    }

    /** Reports a change of state, and sets the timer for the next one. */
    private void tick() {
        boolean now = down();
        synchronized (this) {
            if (closed) {
                return;
            }
            if (now != reportedDown) {
                reportedDown = now;
                ctx.event(deviceName, "flakey at sector " + sector + " is " + (now ? "down" : "up"));
            }
            if (timer != null) {
                timer.cancel(false);
                timer = null;
            }
            if (forced == 0 && upNanos != 0 && upNanos != periodNanos) {
                long p = (System.nanoTime() - startNanos) % periodNanos;
                long wait = p < upNanos ? upNanos - p : periodNanos - p;
                timer = Timers.shared().schedule(this::tick, wait + 1_000_000, TimeUnit.NANOSECONDS);
            }
        }
    }

    /** Starts reporting state changes once the table is live. */
    @Override
    public void resume() {
        tick();
    }

    /** INFO: {@code up} or {@code down}, and {@code forced} while a message holds the state. */
    @Override
    public String status(StatusType type) {
        if (type == StatusType.TABLE) {
            return String.join(" ", args);
        }
        return (down() ? "down" : "up") + (forced != 0 ? " forced" : "");
    }

    @Override
    public List<String> dependencies() {
        return List.of(devName);
    }

    @Override
    public Capabilities capabilities() {
        return dev.capabilities();
    }

    @Override
    public void extents(long offset, long length, Extents out) throws IOException {
        dev.extents(offset + offsetBytes, length, out);
    }

    @Override
    public void close() {
        synchronized (this) {
            closed = true;
            if (timer != null) {
                timer.cancel(false);
                timer = null;
            }
        }
        lowers.release();
    }

    @Override
    public String toString() {
        return "flakey " + String.join(" ", args);
    }
}
