package ddtree.mapper;

import static org.assertj.core.api.Assertions.assertThat;

import ddtree.block.Bio;
import ddtree.block.BlockDevice;
import ddtree.block.BufferPool;
import ddtree.block.Dispatch;
import ddtree.block.Errno;
import ddtree.block.Op;
import ddtree.block.PooledBuffer;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Requests against a device for tests: submit one bio, wait at most ten seconds for it. */
public final class SyncIo implements AutoCloseable {
    private final BlockDevice device;
    private final BufferPool pool = new BufferPool(64L << 20, 0);
    private final int depth;

    public SyncIo(BlockDevice device) {
        this(device, Bio.DEFAULT_DEPTH);
    }

    /** @param depth the completion depth of the bios made, for deep stacks */
    public SyncIo(BlockDevice device, int depth) {
        this.device = device;
        this.depth = depth;
    }

    /** A request in flight. */
    public record Pending(Bio bio, CompletableFuture<Integer> done, PooledBuffer buffer) {
        /** Waits for the status; the buffer goes back to the pool. */
        public int await() {
            try {
                return status();
            } finally {
                if (buffer != null) {
                    buffer.release();
                }
            }
        }

        /** For reads: asserts the status is OK and returns the data. */
        public byte[] data() {
            try {
                assertThat(Errno.name(status())).as("%s", bio).isEqualTo("OK");
                return buffer.segment().asSlice(0, bio.length()).toArray(ValueLayout.JAVA_BYTE);
            } finally {
                buffer.release();
            }
        }

        public boolean isDone() {
            return done.isDone();
        }

        private int status() {
            try {
                return done.get(10, TimeUnit.SECONDS);
            } catch (Exception e) {
                throw new AssertionError(bio + " did not complete", e);
            }
        }
    }

    /** Starts a request and returns without waiting. */
    public Pending start(Op op, long offset, long length, byte[] data) {
        PooledBuffer buffer = null;
        if (op.carriesData()) {
            buffer = acquire((int) length);
            if (data != null) {
                MemorySegment.copy(data, 0, buffer.segment(), ValueLayout.JAVA_BYTE, 0, data.length);
            } else {
                buffer.segment().fill((byte) 0x5a); // stale garbage a read must overwrite
            }
        }
        Bio bio = new Bio(depth);
        bio.reset(op, offset, length, 0, buffer);
        CompletableFuture<Integer> done = new CompletableFuture<>();
        bio.pushCompletion((b, state) -> {
            done.complete(b.status());
            return true;
        }, 0);
        Dispatch.submit(device, bio);
        return new Pending(bio, done, buffer);
    }

    public int write(long offset, byte[] data) {
        return start(Op.WRITE, offset, data.length, data).await();
    }

    public byte[] read(long offset, int length) {
        return start(Op.READ, offset, length, null).data();
    }

    public int readStatus(long offset, int length) {
        return start(Op.READ, offset, length, null).await();
    }

    public int discard(long offset, long length) {
        return start(Op.DISCARD, offset, length, null).await();
    }

    public int writeZeroes(long offset, long length) {
        return start(Op.WRITE_ZEROES, offset, length, null).await();
    }

    public int flush() {
        return start(Op.FLUSH, 0, 0, null).await();
    }

    private PooledBuffer acquire(int length) {
        try {
            return pool.acquire(Math.max(length, 1), false);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    /** Test data that differs with the seed and along the array, with few zero bytes. */
    public static byte[] pattern(int length, int seed) {
        byte[] b = new byte[length];
        for (int i = 0; i < length; i++) {
            b[i] = (byte) (seed * 31 + i * 7 + (i >>> 9) + 1);
        }
        return b;
    }

    @Override
    public void close() {
        pool.close();
    }
}
