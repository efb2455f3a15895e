package ddtree.nbd.client;

import ddtree.block.Extents;
import java.lang.foreign.MemorySegment;

/**
 * One request on the wire. Its index in the device's slot array is the NBD cookie, so a reply
 * finds its request without a map. Fields are set under the device lock before the request is
 * written; while the request is on a connection, only that connection's reader touches the
 * reply-side fields.
 */
final class Slot {
    static final int FREE = 0;
    /** Written (or being written) on connection {@link #generation}. */
    static final int SENT = 1;
    /** Was on a connection that dropped: to be written again on the next one. */
    static final int RESEND = 2;

    final int index;
    int state = FREE;
    long generation;
    Tracker tracker;

    int command;
    int commandFlags;
    long offset;
    /** Request length; for FLUSH the wire carries 0 whatever this says. */
    long length;
    /** The data of READ and WRITE: the bio's buffer, and where this piece starts in it. */
    MemorySegment data;
    long dataOffset;
    /** Block status replies land here. */
    Extents extents;
    /** How much of {@link #extents} was there before this request, to undo a dropped attempt. */
    long extentsMark;

    // Reply side, reset at each send.
    long covered;
    int errno;

    Slot(int index) {
        this.index = index;
    }

    void resetReply() {
        covered = 0;
        errno = 0;
    }

    void clear() {
        state = FREE;
        tracker = null;
        data = null;
        extents = null;
    }
}
