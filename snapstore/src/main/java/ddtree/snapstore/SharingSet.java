package ddtree.snapstore;

import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * The snapshots that share one exception, as sorted, disjoint, non-adjacent ranges of snapshot
 * ids (unsigned 32-bit). Snapshots taken one after another share a chunk in runs, so the common
 * case is one range however many snapshots there are, and taking one out splits at most one range.
 * Immutable.
 */
public final class SharingSet {
    /** Largest snapshot id. */
    public static final long MAX_ID = 0xFFFF_FFFFL;
    public static final SharingSet EMPTY = new SharingSet(new long[0]);

    /** first0, last0, first1, last1, ... */
    private final long[] bounds;

    private SharingSet(long[] bounds) {
        this.bounds = bounds;
    }

    public static SharingSet of(long id) {
        return range(id, id);
    }

    /** The ids {@code first..last}, inclusive. */
    public static SharingSet range(long first, long last) {
        checkId(first);
        checkId(last);
        if (first > last) {
            throw new IllegalArgumentException("snapshot id range " + first + ".." + last + " is backwards");
        }
        return new SharingSet(new long[] {first, last});
    }

    private static void checkId(long id) {
        if (id < 0 || id > MAX_ID) {
            throw new IllegalArgumentException("snapshot id " + id + " outside 0.." + MAX_ID);
        }
    }

    public boolean isEmpty() {
        return bounds.length == 0;
    }

    public int rangeCount() {
        return bounds.length / 2;
    }

    public long first(int range) {
        return bounds[2 * range];
    }

    public long last(int range) {
        return bounds[2 * range + 1];
    }

    /** How many ids are in the set. */
    public long size() {
        long n = 0;
        for (int i = 0; i < bounds.length; i += 2) {
            n += bounds[i + 1] - bounds[i] + 1;
        }
        return n;
    }

    /** Index of the range holding {@code id}, or -(insertion point) - 1. */
    private int find(long id) {
        int lo = 0;
        int hi = rangeCount() - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            if (id < first(mid)) {
                hi = mid - 1;
            } else if (id > last(mid)) {
                lo = mid + 1;
            } else {
                return mid;
            }
        }
        return -lo - 1;
    }

    public boolean contains(long id) {
        return id >= 0 && id <= MAX_ID && find(id) >= 0;
    }

    /** This set plus {@code id}. */
    public SharingSet with(long id) {
        checkId(id);
        int at = find(id);
        if (at >= 0) {
            return this;
        }
        int r = -at - 1; // ranges before r end below id, r and after start above it
        boolean joinLeft = r > 0 && last(r - 1) + 1 == id;
        boolean joinRight = r < rangeCount() && first(r) - 1 == id;
        long[] b;
        if (joinLeft && joinRight) {
            b = new long[bounds.length - 2];
            System.arraycopy(bounds, 0, b, 0, 2 * r - 1);
            System.arraycopy(bounds, 2 * r + 1, b, 2 * r - 1, bounds.length - 2 * r - 1);
        } else if (joinLeft) {
            b = bounds.clone();
            b[2 * r - 1] = id;
        } else if (joinRight) {
            b = bounds.clone();
            b[2 * r] = id;
        } else {
            b = new long[bounds.length + 2];
            System.arraycopy(bounds, 0, b, 0, 2 * r);
            b[2 * r] = id;
            b[2 * r + 1] = id;
            System.arraycopy(bounds, 2 * r, b, 2 * r + 2, bounds.length - 2 * r);
        }
        return new SharingSet(b);
    }

    /** This set without {@code id}. */
    public SharingSet without(long id) {
        int r = find(id);
        if (r < 0 || id < 0 || id > MAX_ID) {
            return this;
        }
        long f = first(r);
        long l = last(r);
        long[] b;
        if (f == l) {
            b = new long[bounds.length - 2];
            System.arraycopy(bounds, 0, b, 0, 2 * r);
            System.arraycopy(bounds, 2 * r + 2, b, 2 * r, bounds.length - 2 * r - 2);
        } else if (id == f || id == l) {
            b = bounds.clone();
            b[id == f ? 2 * r : 2 * r + 1] = id == f ? f + 1 : l - 1;
        } else {
            b = new long[bounds.length + 2];
            System.arraycopy(bounds, 0, b, 0, 2 * r);
            b[2 * r] = f;
            b[2 * r + 1] = id - 1;
            b[2 * r + 2] = id + 1;
            b[2 * r + 3] = l;
            System.arraycopy(bounds, 2 * r + 2, b, 2 * r + 4, bounds.length - 2 * r - 2);
        }
        return new SharingSet(b);
    }

    /** The set of the given ids, which must be sorted ascending without repeats. */
    public static SharingSet ofSorted(long[] ids, int count) {
        long[] b = new long[2 * count];
        int n = 0;
        for (int i = 0; i < count; i++) {
            long id = ids[i];
            checkId(id);
            if (n > 0 && b[n - 1] + 1 == id) {
                b[n - 1] = id;
            } else if (n > 0 && b[n - 1] >= id) {
                throw new IllegalArgumentException("snapshot ids not ascending at " + id);
            } else {
                b[n++] = id;
                b[n++] = id;
            }
        }
        return new SharingSet(java.util.Arrays.copyOf(b, n));
    }

    /** The ids of this set that are not in {@code other}. */
    public SharingSet minus(SharingSet other) {
        if (other.isEmpty() || isEmpty()) {
            return this;
        }
        long[] out = new long[bounds.length + other.bounds.length];
        int n = 0;
        int j = 0;
        for (int i = 0; i < rangeCount(); i++) {
            long f = first(i);
            long l = last(i);
            while (j < other.rangeCount() && other.last(j) < f) {
                j++;
            }
            int k = j;
            while (f <= l && k < other.rangeCount() && other.first(k) <= l) {
                if (other.first(k) > f) {
                    out = grow(out, n);
                    out[n++] = f;
                    out[n++] = other.first(k) - 1;
                }
                f = Math.max(f, other.last(k) + 1);
                k++;
            }
            if (f <= l) {
                out = grow(out, n);
                out[n++] = f;
                out[n++] = l;
            }
        }
        return n == bounds.length && java.util.Arrays.equals(out, 0, n, bounds, 0, n)
                ? this : new SharingSet(java.util.Arrays.copyOf(out, n));
    }

    /** The ids in either set. */
    public SharingSet union(SharingSet other) {
        SharingSet s = this;
        for (int i = 0; i < other.rangeCount(); i++) {
            if (other.last(i) - other.first(i) < 64) {
                for (long id = other.first(i); id <= other.last(i); id++) {
                    s = s.with(id);
                }
            } else {
                s = s.unionRange(other.first(i), other.last(i));
            }
        }
        return s;
    }

    private SharingSet unionRange(long f, long l) {
        long[] out = new long[bounds.length + 2];
        int n = 0;
        boolean placed = false;
        for (int i = 0; i < rangeCount(); i++) {
            long a = first(i);
            long b = last(i);
            if (b + 1 < f) {
                out[n++] = a;
                out[n++] = b;
            } else if (l + 1 < a) {
                if (!placed) {
                    out[n++] = f;
                    out[n++] = l;
                    placed = true;
                }
                out[n++] = a;
                out[n++] = b;
            } else {
                f = Math.min(f, a);
                l = Math.max(l, b);
            }
        }
        if (!placed) {
            out[n++] = f;
            out[n++] = l;
        }
        return new SharingSet(java.util.Arrays.copyOf(out, n));
    }

    private static long[] grow(long[] a, int n) {
        return n + 2 <= a.length ? a : java.util.Arrays.copyOf(a, a.length * 2 + 2);
    }

    /** Bytes this set takes on disk: a u16 range count and two u32 per range. */
    int encodedSize() {
        return 2 + 4 * bounds.length;
    }

    void encode(ByteBuffer b) {
        b.putShort((short) rangeCount());
        for (long x : bounds) {
            b.putInt((int) x);
        }
    }

    /** Reads a set written by {@link #encode}, checking it is sorted, disjoint and non-adjacent. */
    static SharingSet decode(ByteBuffer b, String where) throws MetadataCorruptException {
        int n = Short.toUnsignedInt(b.getShort());
        long[] bounds = new long[2 * n];
        if (b.remaining() < 8L * n) {
            throw new MetadataCorruptException(where + ": sharing set of " + n + " ranges runs past the block");
        }
        for (int i = 0; i < bounds.length; i++) {
            bounds[i] = Integer.toUnsignedLong(b.getInt());
        }
        for (int i = 0; i < n; i++) {
            if (bounds[2 * i] > bounds[2 * i + 1] || (i > 0 && bounds[2 * i - 1] + 1 >= bounds[2 * i])) {
                throw new MetadataCorruptException(where + ": sharing set range " + i + " ("
                        + bounds[2 * i] + ".." + bounds[2 * i + 1] + ") out of order");
            }
        }
        return new SharingSet(bounds);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SharingSet s && Arrays.equals(bounds, s.bounds);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(bounds);
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("{");
        for (int i = 0; i < rangeCount(); i++) {
            sb.append(i > 0 ? "," : "").append(first(i));
            if (last(i) != first(i)) {
                sb.append("..").append(last(i));
            }
        }
        return sb.append('}').toString();
    }
}
