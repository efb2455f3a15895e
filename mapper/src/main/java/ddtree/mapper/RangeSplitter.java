package ddtree.mapper;

import ddtree.block.Bio;
import ddtree.block.BioCompletion;
import java.util.ArrayDeque;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Splits a bio that crosses target boundaries, or multiples of a target's
 * {@link Target#maxIoBytes()}, into pieces, each a child bio sharing the parent's buffer, and
 * completes the parent when every piece has completed, the first error winning.
 *
 * <p>At most {@link #WINDOW} pieces of one bio are in flight; each completing piece lets the next
 * one go. A 4 GiB discard over 4 KiB stripe chunks is a million pieces, and holding them all at
 * once would take memory in proportion to the request, which the design forbids.
 *
 * <p>Splits and children come from pools that grow when empty rather than wait, so the submitter
 * never blocks; once they have grown to the peak in flight, splitting allocates nothing. Issuing
 * is serialised per split by a work counter: a piece that completes while another thread (or an
 * outer frame of this one) is issuing just leaves a note, so issuing never recurses.
 */
final class RangeSplitter {
    /** The most pieces of one bio in flight. */
    static final int WINDOW = 64;

    private final int childDepth;
    private final Mapper mapper;
    private final Runnable onDone;
    private final ArrayDeque<Bio> freeChildren = new ArrayDeque<>();
    private final ArrayDeque<Split> freeSplits = new ArrayDeque<>();

    /** Hands a piece to its target; never throws. */
    @FunctionalInterface
    interface Mapper {
        void map(Target target, Bio piece);
    }

    /**
     * @param childDepth completion depth of each piece
     * @param mapper how a piece reaches its target
     * @param onDone run once per split when its last piece completes, before the parent does
     */
    RangeSplitter(int childDepth, Mapper mapper, Runnable onDone) {
        this.childDepth = childDepth;
        this.mapper = mapper;
        this.onDone = onDone;
    }

    /** Splits {@code parent}, which starts {@code rel} bytes into target {@code index} of {@code table}. */
    void split(Table table, Bio parent, int index, long rel) {
        Split s;
        synchronized (freeSplits) {
            s = freeSplits.pollFirst();
        }
        if (s == null) {
            s = new Split();
        }
        s.start(table, parent, index, rel);
        s.pump();
    }

    private Bio takeChild() {
        Bio b;
        synchronized (freeChildren) {
            b = freeChildren.pollFirst();
        }
        return b != null ? b : new Bio(childDepth);
    }

    private void recycle(Bio child) {
        synchronized (freeChildren) {
            freeChildren.addFirst(child);
        }
    }

    /** Pieces pooled now, for tests of the steady state. */
    int pooledChildren() {
        synchronized (freeChildren) {
            return freeChildren.size();
        }
    }

    private final class Split implements BioCompletion {
        private Bio parent;
        private Table table;
        /** The cursor: touched only by the thread holding {@link #wip}. */
        private int index;
        private long rel;
        private long left;
        private int bufferOffset;
        private boolean data;
        private volatile boolean issuedAll;
        /** Pieces issued and not completed, plus one while pieces remain to issue. */
        private final AtomicInteger pending = new AtomicInteger();
        private final AtomicInteger inFlight = new AtomicInteger();
        private final AtomicInteger wip = new AtomicInteger();
        private final AtomicInteger error = new AtomicInteger();

        void start(Table t, Bio p, int i, long r) {
            parent = p;
            table = t;
            index = i;
            rel = r;
            left = p.length();
            bufferOffset = p.bufferOffset();
            data = p.op().carriesData();
            issuedAll = false;
            pending.set(1);
            inFlight.set(0);
            wip.set(0);
            error.set(0);
        }

        /** Issues pieces while the window has room; see the class comment. */
        void pump() {
            if (wip.getAndIncrement() != 0) {
                return;
            }
            int missed = 1;
            while (true) {
                while (left > 0 && inFlight.get() < WINDOW) {
                    if (rel == table.ends[index] - table.starts[index]) {
                        index++;
                        rel = 0;
                    }
                    long piece = Math.min(left, MappedDevice.pieceLimit(table, index, rel, parent.op()));
                    Bio child = takeChild().resetChild(parent, rel, piece, data ? bufferOffset : 0);
                    child.pushCompletion(this, 0);
                    Target target = table.targets[index];
                    left -= piece;
                    rel += piece;
                    if (data) {
                        bufferOffset += (int) piece;
                    }
                    inFlight.incrementAndGet();
                    pending.incrementAndGet();
                    mapper.map(target, child);
                }
                if (left == 0) {
                    issuedAll = true;
                    release(); // the last use of this split by the issuer: it may be recycled now
                    return;
                }
                missed = wip.addAndGet(-missed);
                if (missed == 0) {
                    return;
                }
            }
        }

        @Override
        public boolean bioDone(Bio child, long state) {
            int status = child.status();
            if (status != 0) {
                error.compareAndSet(0, status);
            }
            recycle(child);
            inFlight.decrementAndGet();
            if (!issuedAll) {
                pump();
            }
            release();
            return false; // the child is back in the pool; nothing above it
        }

        private void release() {
            if (pending.decrementAndGet() != 0) {
                return;
            }
            Bio p = parent;
            int e = error.get();
            parent = null;
            table = null;
            synchronized (freeSplits) {
                freeSplits.addFirst(this);
            }
            onDone.run();
            ParentCompletion.finish(p, e);
        }
    }
}
