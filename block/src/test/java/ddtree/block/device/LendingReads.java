package ddtree.block.device;

import ddtree.block.Bio;
import ddtree.block.BioCompletion;
import ddtree.block.BlockDevice;
import ddtree.block.BufferPool;
import ddtree.block.Dispatch;
import ddtree.block.Op;
import ddtree.block.PooledBuffer;
import ddtree.block.sys.NativeMemory;
import java.lang.foreign.ValueLayout;

/** READs that allow lending, for the devices' tests, and what they were lent. */
final class LendingReads {
    /** What a lending read's buffer is filled with first, to show whether anything was copied in. */
    static final byte MARK = 0x5a;
    private static final BioCompletion NOTHING = (bio, state) -> true;

    private LendingReads() {}

    /** Submits a READ that allows lending and returns it, completed. */
    static Bio read(BlockDevice device, BufferPool pool, long offset, int length) throws InterruptedException {
        return submit(device, pool, offset, length, true);
    }

    /** Submits a READ that does not allow lending and returns it, completed. */
    static Bio readWithoutLending(BlockDevice device, BufferPool pool, long offset, int length)
            throws InterruptedException {
        return submit(device, pool, offset, length, false);
    }

    private static Bio submit(BlockDevice device, BufferPool pool, long offset, int length, boolean lending)
            throws InterruptedException {
        PooledBuffer buffer = pool.acquire(length, false);
        buffer.segment().fill(MARK);
        Bio bio = new Bio().reset(Op.READ, offset, length, 0, buffer);
        bio.pushCompletion(NOTHING, 0);
        if (lending) {
            bio.allowLending();
        }
        Dispatch.submit(device, bio);
        return bio;
    }

    /** The {@code length} bytes the bio was lent. */
    static byte[] lentBytes(Bio bio) {
        return NativeMemory.ALL.asSlice(bio.lentAddress(), bio.length())
                .toArray(ValueLayout.JAVA_BYTE);
    }

    /** The first {@code length} bytes of the bio's buffer. */
    static byte[] bufferBytes(Bio bio, int length) {
        return bio.buffer().segment().asSlice(0, length).toArray(ValueLayout.JAVA_BYTE);
    }
}
