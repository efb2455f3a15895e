package ddtree.snapstore;

import ddtree.block.Bio;
import ddtree.block.BlockDevice;
import ddtree.block.Dispatch;
import ddtree.block.ForwardingDevice;
import ddtree.block.Op;
import java.util.concurrent.TimeUnit;

/**
 * A device that holds back the first WRITE of one given length until {@link #release}, so a test
 * can keep a request in flight below the store while the store does something else.
 */
final class HoldingDevice extends ForwardingDevice {
    private final int heldLength;
    private boolean released;
    private Bio held;

    HoldingDevice(BlockDevice inner, int heldLength) {
        super(inner);
        this.heldLength = heldLength;
    }

    @Override
    public void submit(Bio bio) {
        synchronized (this) {
            if (bio.op() == Op.WRITE && bio.length() == heldLength && held == null && !released) {
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
            released = true;
            b = held;
        }
        if (b != null) {
            Dispatch.submit(inner, b);
        }
    }
}
