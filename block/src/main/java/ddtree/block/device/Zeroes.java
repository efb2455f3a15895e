package ddtree.block.device;

import ddtree.block.sys.NativeMemory;
import java.lang.foreign.MemorySegment;

/** One shared page of zeroes, the source for filling holes and writing zeroes. Never written. */
final class Zeroes {
    static final int SIZE = 64 << 10;
    static final MemorySegment PAGE = NativeMemory.allocateZeroed(SIZE, 4096);

    private Zeroes() {}

    /** Fills {@code [offset, offset+length)} of {@code dst} with zeroes without making a slice. */
    static void fill(MemorySegment dst, long offset, long length) {
        while (length > 0) {
            long n = Math.min(length, SIZE);
            MemorySegment.copy(PAGE, 0, dst, offset, n);
            offset += n;
            length -= n;
        }
    }
}
