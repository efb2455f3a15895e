package ddtree.block;

import java.io.IOException;

/**
 * A virtual block device: a size, a logical block size, capabilities, an in-flight budget and an
 * asynchronous {@link #submit}. Devices and targets both implement it, so they stack.
 *
 * <p>Callers submit through {@link Dispatch#submit} rather than calling {@link #submit} directly,
 * so that stacks of any depth run in constant call-stack depth.
 */
public interface BlockDevice extends AutoCloseable {

    /** The device's name in logs and status. */
    String name();

    /** Size in bytes. */
    long size();

    /** The smallest unit the device addresses; requests need not be aligned to it. */
    default int logicalBlockSize() {
        return 512;
    }

    Capabilities capabilities();

    /** The allowance submitters take from before submitting. */
    InflightBudget budget();

    /**
     * Starts {@code bio} and returns. The device completes it, on this thread or another, with
     * {@link Bio#complete(int)}. The range has been checked against {@link #size()} by the caller;
     * a device completes with an errno rather than throw.
     */
    void submit(Bio bio);

    /**
     * Fills {@code out} with the allocation state of {@code [offset, offset+length)} from its start,
     * stopping early when {@code out} is full. A device that does not track holes reports one data
     * run.
     */
    default void extents(long offset, long length, Extents out) throws IOException {
        out.add(length, 0);
    }

    /** Makes data durable and releases resources; in-flight requests have completed. */
    @Override
    void close() throws IOException;
}
