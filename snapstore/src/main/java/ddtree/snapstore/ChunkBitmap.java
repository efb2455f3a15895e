package ddtree.snapstore;

import java.util.concurrent.atomic.AtomicLongArray;

/**
 * One bit per logical chunk of the origin, set when every live snapshot already holds its own
 * copy of that chunk, so an origin write there needs no copy-out and no metadata lookup. Read on
 * the request path without locks; set by the store's worker only after the exception that makes
 * it true is durable; cleared whole when a snapshot is taken.
 */
final class ChunkBitmap {
    private final AtomicLongArray words;

    ChunkBitmap(long chunks) {
        words = new AtomicLongArray(Math.toIntExact((chunks + 63) >>> 6));
    }

    boolean get(long chunk) {
        return (words.get((int) (chunk >>> 6)) & (1L << chunk)) != 0;
    }

    void set(long chunk) {
        int w = (int) (chunk >>> 6);
        long bit = 1L << chunk;
        long old;
        do {
            old = words.get(w);
        } while ((old & bit) == 0 && !words.compareAndSet(w, old, old | bit));
    }

    void clearAll() {
        for (int i = 0; i < words.length(); i++) {
            words.set(i, 0);
        }
    }
}
