package ddtree.block;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Synchronous requests against a device, for tests: each call submits one bio and waits for it. */
public final class DeviceIo implements AutoCloseable {
    private final BlockDevice device;
    private final BufferPool pool = new BufferPool(64L << 20, 0);

    public DeviceIo(BlockDevice device) {
        this.device = device;
    }

    public BlockDevice device() {
        return device;
    }

    /** Submits one request through {@link Dispatch} and returns its status. */
    public int submit(Op op, long offset, long length, int flags, PooledBuffer buffer) {
        Bio bio = new Bio();
        bio.reset(op, offset, length, flags, buffer);
        CompletableFuture<Integer> done = new CompletableFuture<>();
        bio.pushCompletion((b, state) -> {
            done.complete(b.status());
            return true;
        }, 0);
        Dispatch.submit(device, bio);
        try {
            return done.get(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new AssertionError(bio + " did not complete", e);
        }
    }

    public int write(long offset, byte[] data, int flags) {
        PooledBuffer buffer = acquire(data.length);
        try {
            MemorySegment.copy(data, 0, buffer.segment(), ValueLayout.JAVA_BYTE, 0, data.length);
            return submit(Op.WRITE, offset, data.length, flags, buffer);
        } finally {
            buffer.release();
        }
    }

    public int write(long offset, byte[] data) {
        return write(offset, data, 0);
    }

    /** Reads and asserts the read succeeded. */
    public byte[] read(long offset, int length) {
        PooledBuffer buffer = acquire(length);
        try {
            buffer.segment().fill((byte) 0x5a); // stale garbage a device must overwrite
            assertThat(Errno.name(submit(Op.READ, offset, length, 0, buffer)))
                    .as("read %d+%d", offset, length).isEqualTo("OK");
            return buffer.segment().asSlice(0, length).toArray(ValueLayout.JAVA_BYTE);
        } finally {
            buffer.release();
        }
    }

    public int readStatus(long offset, int length) {
        PooledBuffer buffer = acquire(length);
        try {
            return submit(Op.READ, offset, length, 0, buffer);
        } finally {
            buffer.release();
        }
    }

    public int discard(long offset, long length) {
        return submit(Op.DISCARD, offset, length, 0, null);
    }

    public int writeZeroes(long offset, long length, int flags) {
        return submit(Op.WRITE_ZEROES, offset, length, flags, null);
    }

    public int flush() {
        return submit(Op.FLUSH, 0, 0, 0, null);
    }

    /** The device's extents over a range, with room for every run. */
    public Extents extents(long offset, long length) throws IOException {
        Extents out = new Extents(100_000);
        device.extents(offset, length, out);
        return out;
    }

    private PooledBuffer acquire(int length) {
        try {
            return pool.acquire(length, false);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    /** Test data: a pattern that differs with the seed and along the array, with few zero bytes. */
    public static byte[] pattern(int length, int seed) {
        byte[] b = new byte[length];
        for (int i = 0; i < length; i++) {
            b[i] = (byte) (seed * 31 + i * 7 + (i >>> 9) + 1);
        }
        return b;
    }

    /** Runs {@code round} {@code rounds} times and returns the fewest bytes this thread allocated in one. */
    public static long leastAllocatedPerRound(Runnable round, int rounds) {
        var threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        long least = Long.MAX_VALUE;
        for (int i = 0; i < rounds; i++) {
            long before = threads.getCurrentThreadAllocatedBytes();
            round.run();
            least = Math.min(least, threads.getCurrentThreadAllocatedBytes() - before);
        }
        return least;
    }

    @Override
    public void close() {
        pool.close();
    }
}
