package ddtree.nbd.client;

import ddtree.block.Bio;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Bios to complete once the device lock is released: completion runs the layers above, which may
 * submit again, and must never run under our lock. Grows on demand and is reused, so a steady
 * state allocates nothing. Each thread that fails bios in bulk has its own.
 */
final class Completions {
    private static final Logger LOG = LoggerFactory.getLogger(Completions.class);

    private Bio[] bios = new Bio[16];
    private int[] status = new int[16];
    private int count;

    void add(Bio bio, int errno) {
        if (count == bios.length) {
            bios = java.util.Arrays.copyOf(bios, count * 2);
            status = java.util.Arrays.copyOf(status, count * 2);
        }
        bios[count] = bio;
        status[count] = errno;
        count++;
    }

    boolean isEmpty() {
        return count == 0;
    }

    /** Completes every bio collected, in order, and forgets them. Call without the device lock. */
    void run() {
        int n = count;
        count = 0;
        for (int i = 0; i < n; i++) {
            Bio b = bios[i];
            bios[i] = null;
            try {
                b.complete(status[i]);
            } catch (RuntimeException e) {
                // A layer above that throws must not cost the other bios their completion.
                LOG.error("completion of {} failed", b, e);
            }
        }
    }
}
