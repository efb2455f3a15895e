package ddtree.block;

/**
 * A reusable list of extents answering a block-status query: consecutive runs, each with a
 * length and flags. The flags are NBD's {@code base:allocation} bits, so they reach the wire as
 * they are; in an answer from {@link StatusMaps#mapExtents} they are that map's own bits.
 */
public final class Extents {
    /** The range is not allocated: reads return zeroes and it takes no space. */
    public static final int HOLE = 1;
    /** The range reads as zeroes. */
    public static final int ZERO = 2;

    private final long[] lengths;
    private final int[] flags;
    private int count;
    private long total;

    /** @param capacity the most extents one answer holds; a device stops adding when full */
    public Extents(int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity (" + capacity + ") must be positive");
        }
        lengths = new long[capacity];
        this.flags = new int[capacity];
    }

    public void clear() {
        count = 0;
        total = 0;
    }

    /**
     * Appends a run, merging it into the last one when the flags match.
     *
     * @return false when the list is full and the run was not added
     */
    public boolean add(long length, int runFlags) {
        if (length <= 0) {
            return true;
        }
        if (count > 0 && flags[count - 1] == runFlags) {
            lengths[count - 1] += length;
        } else {
            if (count == lengths.length) {
                return false;
            }
            lengths[count] = length;
            flags[count] = runFlags;
            count++;
        }
        total += length;
        return true;
    }

    public boolean full() {
        return count == lengths.length;
    }

    public int count() {
        return count;
    }

    public long length(int i) {
        return lengths[i];
    }

    public int flags(int i) {
        return flags[i];
    }

    /** Sum of the lengths. */
    public long totalLength() {
        return total;
    }

    /** Cuts the list so that it covers at most {@code max} bytes. */
    public void truncate(long max) {
        long sum = 0;
        for (int i = 0; i < count; i++) {
            if (sum + lengths[i] >= max) {
                lengths[i] = max - sum;
                count = lengths[i] > 0 ? i + 1 : i;
                total = max;
                return;
            }
            sum += lengths[i];
        }
    }
}
