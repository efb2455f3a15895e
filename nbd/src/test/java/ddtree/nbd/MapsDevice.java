package ddtree.nbd;

import ddtree.block.Extents;
import ddtree.block.ForwardingDevice;
import ddtree.block.StatusMaps;
import ddtree.block.device.RamDevice;
import java.util.ArrayList;
import java.util.List;

/**
 * A RAM device with two maps of its own: {@code ddtree:test:even} flags (bit 0) the even-numbered
 * 64 KiB chunks and is listed; {@code ddtree:test:odd} flags the odd ones and is valid but not
 * listed, as a map per snapshot would be.
 */
final class MapsDevice extends ForwardingDevice implements StatusMaps {
    static final String EVEN = "ddtree:test:even";
    static final String ODD = "ddtree:test:odd";
    static final int CHUNK = 64 << 10;

    MapsDevice(String name, long size) {
        super(new RamDevice(name, size));
    }

    /** The runs {@code name} has over {@code [offset, offset+length)}: {length, flags} pairs, merged. */
    static List<long[]> expected(String name, long offset, long length) {
        List<long[]> runs = new ArrayList<>();
        for (long pos = offset, end = offset + length; pos < end; ) {
            long chunk = pos / CHUNK;
            long next = Math.min(end, (chunk + 1) * CHUNK);
            int flags = (chunk % 2 == 0) == name.equals(EVEN) ? 1 : 0;
            if (!runs.isEmpty() && runs.getLast()[1] == flags) {
                runs.getLast()[0] += next - pos;
            } else {
                runs.add(new long[] {next - pos, flags});
            }
            pos = next;
        }
        return runs;
    }

    @Override
    public List<String> listMaps(String prefix) {
        return EVEN.startsWith(prefix) ? List.of(EVEN) : List.of();
    }

    @Override
    public boolean hasMap(String name) {
        return name.equals(EVEN) || name.equals(ODD);
    }

    @Override
    public void mapExtents(String name, long offset, long length, Extents out) {
        if (!hasMap(name)) {
            out.add(length, 0);
            return;
        }
        long end = Math.min(size(), offset + length);
        for (long pos = offset; pos < end; ) {
            long chunk = pos / CHUNK;
            long next = Math.min(end, (chunk + 1) * CHUNK);
            int flags = (chunk % 2 == 0) == name.equals(EVEN) ? 1 : 0;
            if (!out.add(next - pos, flags)) {
                return;
            }
            pos = next;
        }
    }
}
