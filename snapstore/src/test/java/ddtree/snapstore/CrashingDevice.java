package ddtree.snapstore;

import ddtree.block.Bio;
import ddtree.block.BioCompletion;
import ddtree.block.BlockDevice;
import ddtree.block.BufferPool;
import ddtree.block.Capabilities;
import ddtree.block.Errno;
import ddtree.block.InflightBudget;
import ddtree.block.Op;
import ddtree.block.PooledBuffer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.function.IntPredicate;

/**
 * A device that models a volatile write cache over {@code lower}: writes since the last FLUSH are
 * kept aside and only reach {@code lower} (the durable medium) at a FLUSH. A simulated power cut
 * keeps any chosen subset of them, or a byte prefix of them in issue order (a torn tail), and
 * drops the rest. Reads see the pending writes, as a real cache would show them.
 *
 * <p>{@link #failFlushAfter} arms a crash: that many more flushes work, the next one fails with EIO
 * and the device refuses all I/O until {@link #powerCut}, as if power went while it was flushing.
 *
 * <p>Devices built on one shared {@link Power} go dark together, as the disks of one machine do:
 * when one's armed flush fails, or {@link Power#cut()} is called, all of them refuse I/O. Each then
 * takes its own {@link #powerCut}, and {@link Power#restore()} brings them back.
 *
 * <p>A FUA write is made durable with everything before it (a stronger promise than FUA needs,
 * which keeps the model simple). Requests run on the submitting thread, one at a time.
 */
final class CrashingDevice implements BlockDevice {
    private record Pending(long offset, byte[] data) {}

    /** The supply a set of devices share. */
    static final class Power {
        private volatile boolean off;

        /** Every device on this supply refuses I/O from now on. */
        void cut() {
            off = true;
        }

        /** Powers the devices back on; call once each has had its {@link #powerCut}. */
        void restore() {
            off = false;
        }

        boolean isOff() {
            return off;
        }
    }

    private final BlockDevice lower;
    private final PooledBuffer buffer;
    private final Bio lowerBio = new Bio(2);
    private final Semaphore done = new Semaphore(0);
    private final BioCompletion signal = (b, s) -> {
        done.release();
        return true;
    };
    private final InflightBudget budget = InflightBudget.defaults();
    private final List<Pending> pending = new ArrayList<>();
    private final Power power;
    private final boolean ownPower;
    private int flushesBeforeFailure = -1;
    private int flushes;

    /** A device with a supply of its own, back on after each {@link #powerCut}. */
    CrashingDevice(BlockDevice lower, BufferPool pool) throws InterruptedException {
        this(lower, pool, null);
    }

    /** A device on {@code power}, shared with others; null for a supply of its own. */
    CrashingDevice(BlockDevice lower, BufferPool pool, Power power) throws InterruptedException {
        this.lower = lower;
        this.buffer = pool.acquire(1 << 20, true);
        this.ownPower = power == null;
        this.power = ownPower ? new Power() : power;
    }

    @Override
    public String name() {
        return "crashing(" + lower.name() + ")";
    }

    @Override
    public long size() {
        return lower.size();
    }

    @Override
    public Capabilities capabilities() {
        return new Capabilities(true, true, false, false, false, false);
    }

    @Override
    public InflightBudget budget() {
        return budget;
    }

    /**
     * After {@code n} more successful flushes, the next one fails and the device goes dark (with
     * every other device on its supply); -1 disarms.
     */
    synchronized void failFlushAfter(int n) {
        flushesBeforeFailure = n;
    }

    /** Flushes that have succeeded so far. */
    synchronized int flushes() {
        return flushes;
    }

    synchronized int pendingWrites() {
        return pending.size();
    }

    /** Where the {@code i}th pending write goes. */
    synchronized long pendingOffset(int i) {
        return pending.get(i).offset;
    }

    synchronized long pendingBytes() {
        return pending.stream().mapToLong(p -> p.data.length).sum();
    }

    /**
     * Power cut keeping the pending writes whose index {@code keep} accepts, then power back on (for
     * a shared supply, once {@link Power#restore()} is called).
     */
    synchronized void powerCut(IntPredicate keep) {
        for (int i = 0; i < pending.size(); i++) {
            if (keep.test(i)) {
                Pending p = pending.get(i);
                lowerIo(Op.WRITE, p.offset, p.data, 0, p.data.length);
            }
        }
        revive();
    }

    /** Power cut keeping the first {@code bytes} bytes of the pending writes in issue order. */
    synchronized void powerCutPrefix(long bytes) {
        long left = bytes;
        for (Pending p : pending) {
            if (left <= 0) {
                break;
            }
            int n = (int) Math.min(left, p.data.length);
            lowerIo(Op.WRITE, p.offset, p.data, 0, n);
            left -= n;
        }
        revive();
    }

    private void revive() {
        pending.clear();
        flushesBeforeFailure = -1;
        if (ownPower) {
            power.restore();
        }
    }

    @Override
    public synchronized void submit(Bio bio) {
        if (power.isOff()) {
            bio.complete(Errno.EIO);
            return;
        }
        switch (bio.op()) {
            case READ -> {
                byte[] data = new byte[(int) bio.length()];
                lowerIo(Op.READ, bio.offset(), data, 0, data.length);
                for (Pending p : pending) {
                    overlay(p, bio.offset(), data);
                }
                MemorySegment.copy(data, 0, bio.data(), ValueLayout.JAVA_BYTE, 0, data.length);
            }
            case WRITE -> {
                byte[] data = new byte[(int) bio.length()];
                MemorySegment.copy(bio.data(), ValueLayout.JAVA_BYTE, 0, data, 0, data.length);
                pending.add(new Pending(bio.offset(), data));
                if (bio.hasFlag(Bio.FUA) && !flush()) {
                    bio.complete(Errno.EIO);
                    return;
                }
            }
            case FLUSH -> {
                if (!flush()) {
                    bio.complete(Errno.EIO);
                    return;
                }
            }
            default -> {
                bio.complete(Errno.ENOTSUP);
                return;
            }
        }
        bio.complete(Errno.OK);
    }

    private boolean flush() {
        if (flushesBeforeFailure == 0) {
            power.cut();
            return false;
        }
        if (flushesBeforeFailure > 0) {
            flushesBeforeFailure--;
        }
        for (Pending p : pending) {
            lowerIo(Op.WRITE, p.offset, p.data, 0, p.data.length);
        }
        pending.clear();
        flushes++;
        return true;
    }

    private static void overlay(Pending p, long offset, byte[] data) {
        long from = Math.max(offset, p.offset);
        long to = Math.min(offset + data.length, p.offset + p.data.length);
        if (from < to) {
            System.arraycopy(p.data, (int) (from - p.offset), data, (int) (from - offset), (int) (to - from));
        }
    }

    /** Synchronous I/O on the durable medium, in pieces that fit the buffer. */
    private void lowerIo(Op op, long offset, byte[] data, int from, int length) {
        for (int done = 0; done < length; ) {
            int n = Math.min(length - done, buffer.capacity());
            if (op == Op.WRITE) {
                MemorySegment.copy(data, from + done, buffer.segment(), ValueLayout.JAVA_BYTE, 0, n);
            }
            lowerBio.reset(op, offset + done, n, 0, buffer);
            lowerBio.pushCompletion(signal, 0);
            // Directly, not through Dispatch: this runs inside our own submit, where Dispatch would
            // queue the bio until we return and the wait below would never end.
            lower.submit(lowerBio);
            this.done.acquireUninterruptibly();
            if (lowerBio.status() != Errno.OK) {
                throw new UncheckedIOException(new IOException(op + " " + (offset + done) + "+" + n + " on "
                        + lower.name() + ": " + Errno.name(lowerBio.status())));
            }
            if (op == Op.READ) {
                MemorySegment.copy(buffer.segment(), ValueLayout.JAVA_BYTE, 0, data, from + done, n);
            }
            done += n;
        }
    }

    /** Drops the pending writes (power off) and gives the buffer back; {@code lower} stays open. */
    @Override
    public synchronized void close() throws IOException {
        pending.clear();
        buffer.release();
    }
}
