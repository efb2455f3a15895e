package ddtree.mapper;

import ddtree.block.Bio;
import ddtree.block.Capabilities;
import ddtree.block.Extents;
import java.io.IOException;
import java.util.List;

/**
 * One table line's worth of mapping, like a device-mapper target.
 *
 * <p>{@link #map} receives bios whose offsets are relative to the target's start, in bytes, that
 * lie wholly inside the target and never cross a multiple of {@link #maxIoBytes()}; the device
 * above has split them. A zero-length FLUSH reaches every target. A target may push at most one
 * completion step on a bio it maps: the device guarantees room for one.
 */
public interface Target extends AutoCloseable {

    /** Remaps {@code bio} and passes it down with {@code Dispatch.submit}, or completes it. Never throws. */
    void map(Bio bio);

    /** INFO: health and counters. TABLE: the line's arguments, which the type accepts back unchanged. */
    String status(StatusType type);

    /** Runs a runtime command; returns the reply text (often empty). */
    default String message(List<String> args) throws TableException {
        throw new TableException("the target takes no messages, so '" + String.join(" ", args) + "' was refused");
    }

    /** The lower devices, by the name or path given in the table. */
    List<String> dependencies();

    /** The core splits so that a bio never crosses a multiple of this many bytes from the target start; 0: no limit. */
    default long maxIoBytes() {
        return 0;
    }

    /**
     * {@link #maxIoBytes()} for one operation: a target that can map a whole DISCARD or
     * WRITE_ZEROES range itself (striped sends one piece to each stripe) returns 0 for those.
     */
    default long maxIoBytes(ddtree.block.Op op) {
        return maxIoBytes();
    }

    Capabilities capabilities();

    /**
     * The one lower device that a FLUSH to this target amounts to flushing, or null when the
     * target handles flushes its own way. The device sends a zero-length FLUSH only once per such
     * device, so that several targets over one device do not multiply flushes down a stack.
     */
    default ddtree.block.BlockDevice flushDevice() {
        return null;
    }

    /** Like {@code BlockDevice.extents}, with {@code offset} relative to the target start. */
    default void extents(long offset, long length, Extents out) throws IOException {
        out.add(length, 0);
    }

    /**
     * The device is being suspended: bios the target holds itself (a delay queue) must go down now,
     * because the device waits for every bio in flight before it suspends.
     */
    default void presuspend() {}

    /** The device resumed with this target live, after a suspend or as a newly swapped-in table. */
    default void resume() {}

    /** Releases what the target holds; lower devices go back to the context, never closed here. */
    @Override
    void close();
}
