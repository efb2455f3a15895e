package ddtree.nbd.client;

import ddtree.block.Bio;

/**
 * Bios waiting for a slot or for the connection to come back, oldest first, each with its
 * deadline. A ring that grows by doubling, so the steady state allocates nothing. Guarded by the
 * device lock.
 */
final class BioQueue {
    private Bio[] bios;
    private long[] deadlines;
    private int head;
    private int size;

    BioQueue(int initialCapacity) {
        bios = new Bio[Math.max(4, initialCapacity)];
        deadlines = new long[bios.length];
    }

    int size() {
        return size;
    }

    boolean isEmpty() {
        return size == 0;
    }

    void add(Bio bio, long deadline) {
        if (size == bios.length) {
            grow();
        }
        int at = (head + size) % bios.length;
        bios[at] = bio;
        deadlines[at] = deadline;
        size++;
    }

    Bio peek() {
        return size == 0 ? null : bios[head];
    }

    long peekDeadline() {
        return deadlines[head];
    }

    Bio poll() {
        if (size == 0) {
            return null;
        }
        Bio b = bios[head];
        bios[head] = null;
        head = (head + 1) % bios.length;
        size--;
        return b;
    }

    private void grow() {
        Bio[] nb = new Bio[bios.length * 2];
        long[] nd = new long[nb.length];
        for (int i = 0; i < size; i++) {
            nb[i] = bios[(head + i) % bios.length];
            nd[i] = deadlines[(head + i) % bios.length];
        }
        bios = nb;
        deadlines = nd;
        head = 0;
    }
}
