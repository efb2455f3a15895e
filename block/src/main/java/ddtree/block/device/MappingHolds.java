package ddtree.block.device;

import ddtree.block.Lender;
import ddtree.block.sys.MemoryMapping;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A device's mapping and the holds on it: the device's own, given up when it closes, and one per
 * loan of its memory to a read. The mapping is unmapped when the last hold ends, so memory lent
 * to a reply still being sent stays readable after the device is closed.
 */
final class MappingHolds implements Lender {
    private final long address;
    private final long size;
    private final AtomicInteger holds = new AtomicInteger(1);

    MappingHolds(long address, long size) {
        this.address = address;
        this.size = size;
    }

    long address() {
        return address;
    }

    /** Takes a hold for a loan; false once the last hold has ended and the mapping is gone. */
    boolean acquire() {
        int h;
        do {
            h = holds.get();
            if (h == 0) {
                return false;
            }
        } while (!holds.compareAndSet(h, h + 1));
        return true;
    }

    /** Ends a loan's hold. */
    @Override
    public void giveBack() {
        release();
    }

    /** Ends a hold: a loan's, or the device's own when it closes. */
    void release() {
        if (holds.decrementAndGet() == 0) {
            MemoryMapping.unmap(address, size);
        }
    }
}
