package ddtree.block;

/**
 * What a device can do beyond plain reads and writes. Exports advertise only what the device
 * under them reports here, the way nbdkit asks each layer {@code can_flush}, {@code can_trim}...
 *
 * @param flush a FLUSH makes completed writes durable (false: writes are durable on completion
 *     or the device is volatile by nature, and FLUSH completes at once)
 * @param fua a write with {@link Bio#FUA} is durable when it completes
 * @param discard DISCARD releases space
 * @param writeZeroes WRITE_ZEROES is done without transferring data
 * @param fastZero WRITE_ZEROES with {@link Bio#FAST_ZERO} fails fast rather than writing slowly
 * @param extents {@link BlockDevice#extents} reports holes and zeroes rather than all-data
 */
public record Capabilities(
        boolean flush, boolean fua, boolean discard, boolean writeZeroes, boolean fastZero, boolean extents) {

    /** Everything supported. */
    public static final Capabilities ALL = new Capabilities(true, true, true, true, true, true);
}
