package ddtree.snapstore;

import ddtree.block.Bio;
import ddtree.block.BlockDevice;
import ddtree.block.Capabilities;
import ddtree.block.Dispatch;
import ddtree.block.InflightBudget;
import ddtree.block.Op;
import java.io.IOException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * A device that holds back the first WRITE of one given length until {@link #release}, so a test
 * can keep a request in flight below the store while the store does something else.
 */
final class HoldingDevice implements BlockDevice {
    private final BlockDevice inner;
    private final int heldLength;
    private final CountDownLatch holding = new CountDownLatch(1);
    private Bio held;

    HoldingDevice(BlockDevice inner, int heldLength) {
        this.inner = inner;
        this.heldLength = heldLength;
    }

    @Override
    public String name() {
        return inner.name();
    }

    @Override
    public long size() {
        return inner.size();
    }

    @Override
    public Capabilities capabilities() {
        return inner.capabilities();
    }

    @Override
    public InflightBudget budget() {
        return inner.budget();
    }

    @Override
    public void submit(Bio bio) {
        synchronized (this) {
            if (bio.op() == Op.WRITE && bio.length() == heldLength && held == null && holding.getCount() > 0) {
                held = bio;
                notifyAll();
                return;
            }
        }
        Dispatch.submit(inner, bio);
    }

    /** Waits until the write to hold has arrived. */
    synchronized boolean awaitHeld(long millis) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        while (held == null) {
            long left = end - System.nanoTime();
            if (left <= 0) {
                return false;
            }
            TimeUnit.NANOSECONDS.timedWait(this, left);
        }
        return true;
    }

    /** Lets the held write go down. */
    void release() {
        Bio b;
        synchronized (this) {
            holding.countDown();
            b = held;
        }
        if (b != null) {
            Dispatch.submit(inner, b);
        }
    }

    @Override
    public void close() throws IOException {
        inner.close();
    }
}
