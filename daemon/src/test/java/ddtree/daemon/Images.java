package ddtree.daemon;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

/** Disk images with known contents for the copy tests. */
final class Images {
    private Images() {}

    /**
     * Writes {@code size} bytes of seeded random data with runs of zeroes in it (every fourth
     * MiB, and a 4 KiB zero run in each other MiB), so copies exercise both data and zero paths.
     */
    static byte[] write(Path file, int size, long seed) throws IOException {
        byte[] data = new byte[size];
        new Random(seed).nextBytes(data);
        int mib = 1 << 20;
        for (int off = 0; off < size; off += mib) {
            int len = Math.min(mib, size - off);
            if ((off / mib) % 4 == 2) {
                Arrays.fill(data, off, off + len, (byte) 0);
            } else if (len > 12288) {
                Arrays.fill(data, off + 8192, off + 12288, (byte) 0);
            }
        }
        Files.write(file, data);
        return data;
    }

    /** The first offset where the two differ, or -1. */
    static long firstDifference(byte[] a, byte[] b) {
        int n = Math.min(a.length, b.length);
        int i = Arrays.mismatch(a, b);
        if (i < 0) {
            return -1;
        }
        return i < n ? i : n;
    }
}
