package ddtree.block;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Requests against a device, for tests: each call submits one bio and waits for it, by default at most ten seconds. */
public final class DeviceIo implements AutoCloseable {
    private static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(10);

    private final BlockDevice device;
    private final BufferPool pool = new BufferPool(64L << 20, 0);
    private final int depth;
    private final Duration timeout;

    public DeviceIo(BlockDevice device) {
        this(device, Bio.DEFAULT_DEPTH);
    }

    /** @param depth the completion depth of the bios made, for deep stacks */
    public DeviceIo(BlockDevice device, int depth) {
        this(device, depth, DEFAULT_TIMEOUT);
    }

    /** @param timeout how long each request may take; longer for tests whose requests wait out a reconnect */
    public DeviceIo(BlockDevice device, Duration timeout) {
        this(device, Bio.DEFAULT_DEPTH, timeout);
    }

    private DeviceIo(BlockDevice device, int depth, Duration timeout) {
        this.device = device;
        this.depth = depth;
        this.timeout = timeout;
    }

    public BlockDevice device() {
        return device;
    }

    /** A request in flight; {@code buffer} is the one to give back to the pool, or null. */
    public record Pending(Bio bio, CompletableFuture<Integer> done, PooledBuffer buffer, Duration timeout) {
        /** Waits for the status. */
        public int await() {
            try {
                return status();
            } finally {
                release();
            }
        }

        /** For reads: asserts the status is OK and returns the data. */
        public byte[] data() {
            try {
                assertThat(Errno.name(status())).as("%s", bio).isEqualTo("OK");
                return buffer.segment().asSlice(0, bio.length()).toArray(ValueLayout.JAVA_BYTE);
            } finally {
                release();
            }
        }

        public boolean isDone() {
            return done.isDone();
        }

        private int status() {
            try {
                return done.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
            } catch (Exception e) {
                throw new AssertionError(bio + " did not complete", e);
            }
        }

        private void release() {
            if (buffer != null) {
                buffer.release();
            }
        }
    }

    /** Starts a request and returns without waiting; a read's buffer holds garbage the device must overwrite. */
    public Pending start(Op op, long offset, long length, int flags, byte[] data) {
        PooledBuffer buffer = null;
        if (op.carriesData()) {
            buffer = acquire((int) length);
            if (data != null) {
                MemorySegment.copy(data, 0, buffer.segment(), ValueLayout.JAVA_BYTE, 0, data.length);
            } else {
                buffer.segment().fill((byte) 0x5a);
            }
        }
        return dispatch(op, offset, length, flags, buffer, buffer);
    }

    public Pending start(Op op, long offset, long length, byte[] data) {
        return start(op, offset, length, 0, data);
    }

    /** Submits one request on the caller's buffer and returns its status. */
    public int submit(Op op, long offset, long length, int flags, PooledBuffer buffer) {
        return dispatch(op, offset, length, flags, buffer, null).await();
    }

    private Pending dispatch(Op op, long offset, long length, int flags, PooledBuffer buffer, PooledBuffer owned) {
        Bio bio = new Bio(depth);
        bio.reset(op, offset, length, flags, buffer);
        CompletableFuture<Integer> done = new CompletableFuture<>();
        bio.pushCompletion((b, state) -> {
            done.complete(b.status());
            return true;
        }, 0);
        Dispatch.submit(device, bio);
        return new Pending(bio, done, owned, timeout);
    }

    public int write(long offset, byte[] data, int flags) {
        return start(Op.WRITE, offset, data.length, flags, data).await();
    }

    public int write(long offset, byte[] data) {
        return write(offset, data, 0);
    }

    /** Reads and asserts the read succeeded. */
    public byte[] read(long offset, int length) {
        return start(Op.READ, offset, length, null).data();
    }

    public int readStatus(long offset, int length) {
        return start(Op.READ, offset, length, null).await();
    }

    public int discard(long offset, long length) {
        return start(Op.DISCARD, offset, length, null).await();
    }

    public int writeZeroes(long offset, long length, int flags) {
        return start(Op.WRITE_ZEROES, offset, length, flags, null).await();
    }

    public int writeZeroes(long offset, long length) {
        return writeZeroes(offset, length, 0);
    }

    public int flush() {
        return start(Op.FLUSH, 0, 0, null).await();
    }

    /** The device's extents over a range, with room for every run. */
    public Extents extents(long offset, long length) throws IOException {
        Extents out = new Extents(100_000);
        device.extents(offset, length, out);
        return out;
    }

    private PooledBuffer acquire(int length) {
        try {
            return pool.acquire(Math.max(length, 1), false);
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

    /**
     * Test data from a seeded generator: unlike {@link #pattern}, where only the seed's low byte counts,
     * every seed gives other bytes, so offsets can serve as seeds and a write that lands elsewhere shows.
     */
    public static byte[] randomBytes(int length, long seed) {
        byte[] b = new byte[length];
        long x = seed * 0x9E3779B97F4A7C15L + 1;
        for (int i = 0; i < length; i++) {
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
            b[i] = (byte) x;
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
