package ddtree.mapper;

import ddtree.block.Bio;
import ddtree.block.BioCompletion;
import java.util.ArrayDeque;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Splits a bio into child bios and completes it when every child has completed, the first error
 * winning. Children and the groups that track them come from pools that grow when empty rather
 * than wait, so a submitter never blocks here; once the pools have grown to the peak number of
 * splits in flight, splitting allocates nothing.
 *
 * <p>Children point into the parent's buffer ({@link Bio#resetChild}), so no data is copied.
 *
 * <p>This is for fan-outs of a few children (a flush to each stripe); splitting a range into
 * pieces, which may be many, is {@link RangeSplitter}'s job.
 */
public final class BioSplitter {
    private final int childDepth;
    private final ArrayDeque<Bio> freeChildren = new ArrayDeque<>();
    private final ArrayDeque<Group> freeGroups = new ArrayDeque<>();
    /** Runs when a group's last child completes, before the parent does; may be null. */
    private final Runnable onGroupDone;

    /**
     * @param childDepth completion depth of each child, the room the layers below have
     * @param onGroupDone run once per split when its last child completes, before the parent
     *     completes (the device's in-flight count); null for none
     */
    public BioSplitter(int childDepth, Runnable onGroupDone) {
        this.childDepth = childDepth;
        this.onGroupDone = onGroupDone;
    }

    public BioSplitter() {
        this(Bio.DEFAULT_DEPTH, null);
    }

    /**
     * Starts splitting {@code parent}. Take children with {@link Group#child}, pass each down, then
     * call {@link Group#end}; the parent completes after the end and every child.
     */
    public Group begin(Bio parent) {
        Group g;
        synchronized (freeGroups) {
            g = freeGroups.pollFirst();
        }
        if (g == null) {
            g = new Group();
        }
        g.parent = parent;
        g.error.set(0);
        g.remaining.set(1); // held by the splitter until end(), so early completions cannot finish it
        return g;
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
            freeChildren.addFirst(child); // most recently used first: still warm in cache
        }
    }

    /** Children pooled now, for tests of the steady state. */
    int pooledChildren() {
        synchronized (freeChildren) {
            return freeChildren.size();
        }
    }

    /** One split parent and its children. */
    public final class Group implements BioCompletion {
        private Bio parent;
        private final AtomicInteger remaining = new AtomicInteger();
        private final AtomicInteger error = new AtomicInteger();

        private Group() {}

        /**
         * A child covering {@code length} bytes at {@code offset}, its data at {@code bufferOffset}
         * of the parent's buffer. The caller remaps and submits it.
         */
        public Bio child(long offset, long length, int bufferOffset) {
            Bio c = takeChild().resetChild(parent, offset, length, bufferOffset);
            remaining.incrementAndGet();
            c.pushCompletion(this, 0);
            return c;
        }

        /** Ends the split: no more children follow. */
        public void end() {
            release();
        }

        /** Fails the parent with {@code errno} (if nothing failed first) without a child. */
        public void fail(int errno) {
            error.compareAndSet(0, errno);
        }

        @Override
        public boolean bioDone(Bio child, long state) {
            int status = child.status();
            if (status != 0) {
                error.compareAndSet(0, status);
            }
            recycle(child);
            release();
            return false; // the child is back in the pool; nothing above it
        }

        private void release() {
            if (remaining.decrementAndGet() != 0) {
                return;
            }
            Bio p = parent;
            int e = error.get();
            parent = null;
            synchronized (freeGroups) {
                freeGroups.addFirst(this);
            }
            if (onGroupDone != null) {
                onGroupDone.run();
            }
            ParentCompletion.finish(p, e);
        }
    }
}
