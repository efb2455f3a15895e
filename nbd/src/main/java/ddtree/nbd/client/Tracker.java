package ddtree.nbd.client;

import ddtree.block.Bio;
import ddtree.block.Errno;

/**
 * One bio (or one block-status query) in progress, however many wire requests it is split into.
 * {@link #pending} counts the pieces not yet answered plus one while pieces remain to be issued,
 * so the bio completes exactly once, after its last piece. Guarded by the device lock.
 */
final class Tracker {
    final int index;
    /** Null for a block-status query, whose caller waits for {@link #done}. */
    Bio bio;
    long deadline;
    int pending;
    int status;
    /** The next byte (device offset) not yet issued, and the end of the range. */
    long next;
    long end;
    boolean done;
    /** A block-status caller gave up waiting; the tracker is freed when its answer comes. */
    boolean abandoned;

    Tracker(int index) {
        this.index = index;
    }

    void start(Bio bio, long start, long end, long deadline) {
        this.bio = bio;
        this.next = start;
        this.end = end;
        this.deadline = deadline;
        this.pending = 1;
        this.status = Errno.OK;
        this.done = false;
    }

    /** Records a piece's outcome; the first error is the one the bio reports. */
    void fail(int errno) {
        if (errno != Errno.OK && status == Errno.OK) {
            status = errno;
        }
    }

    boolean issuing() {
        return next < end;
    }
}
