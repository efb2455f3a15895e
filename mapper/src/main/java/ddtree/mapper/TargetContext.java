package ddtree.mapper;

import ddtree.block.BlockDevice;
import ddtree.block.BufferPool;

/** What a target needs from the daemon while it is being built and while it runs. */
public interface TargetContext {
    /**
     * A lower device by ddtree device name, or by path (a regular file or block device). The
     * context decides what the name means and counts the reference; the target must not close
     * the device.
     *
     * @throws TableException naming {@code nameOrPath} when there is no such device
     */
    BlockDevice lowerDevice(String nameOrPath) throws TableException;

    /**
     * Gives back a device {@link #lowerDevice} lent: called once per successful lookup, when the
     * target closes or when its construction fails after the lookup.
     */
    default void releaseLowerDevice(String nameOrPath, BlockDevice device) {}

    /** Reports a target event (flakey going down, an NBD member reconnecting) to subscribers. */
    void event(String deviceName, String text);

    /** Where split children and other per-request memory come from. */
    BufferPool buffers();
}
