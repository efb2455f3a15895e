package ddtree.block;

import java.io.IOException;
import java.util.List;

/**
 * Block-status maps a device offers besides allocation, by name: NBD meta contexts such as
 * {@code ddtree:changed:a}. A name is {@code namespace:leaf}; each map gives a range flags of its
 * own meaning (for {@code ddtree:changed:OTHER}, bit 0 marks what differs from snapshot OTHER), 0
 * meaning none set. A {@link BlockDevice} offers maps by implementing this interface too.
 */
public interface StatusMaps {

    /**
     * The names this device lists that start with {@code prefix}: {@code ""} gives all of them,
     * {@code "ddtree:"} those of that namespace. A device need not list every map it can answer
     * (there may be one per snapshot); listing enough for a client to know the form is fine.
     */
    List<String> listMaps(String prefix);

    /** True if {@code name} is a map this device can answer now, listed or not. */
    boolean hasMap(String name);

    /**
     * Fills {@code out} with runs of {@code [offset, offset+length)} carrying the map's flags, from
     * {@code offset} on, stopping early when {@code out} is full, like
     * {@link BlockDevice#extents}. A map the device does not have reads as one run of flags 0.
     */
    void mapExtents(String name, long offset, long length, Extents out) throws IOException;
}
