package ddtree.nbd.client;

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

/** Requests against a device for tests: submit one bio, wait for its status. */
final class Io implements AutoCloseable {
    final BlockDevice device;
    final BufferPool pool = new BufferPool(256L << 20, 0);

    Io(BlockDevice device) {
        this.device = device;
    }

    /** Submits and returns a future of the status, so tests can have many in flight. */
    CompletableFuture<Integer> start(Op op, long offset, long length, int flags, PooledBuffer buffer) {
        Bio bio = new Bio().reset(op, offset, length, flags, buffer);
        CompletableFuture<Integer> done = new CompletableFuture<>();
        bio.pushCompletion((b, state) -> {
            done.complete(b.status());
            return true;
        }, 0);
        Dispatch.submit(device, bio);
        return done;
    }

    int run(Op op, long offset, long length, int flags, PooledBuffer buffer) {
        try {
            return start(op, offset, length, flags, buffer).get(60, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new AssertionError(op + " " + offset + "+" + length + " did not complete", e);
        }
    }

    PooledBuffer buffer(byte[] data) throws InterruptedException {
        PooledBuffer b = pool.acquire(data.length, false);
        MemorySegment.copy(data, 0, b.segment(), ValueLayout.JAVA_BYTE, 0, data.length);
        return b;
    }

    int write(long offset, byte[] data) throws InterruptedException {
        PooledBuffer b = buffer(data);
        try {
            return run(Op.WRITE, offset, data.length, 0, b);
        } finally {
            b.release();
        }
    }

    /** Reads {@code length} bytes; fails the test unless the read succeeds. */
    byte[] read(long offset, int length) throws InterruptedException {
        PooledBuffer b = pool.acquire(length, false);
        try {
            b.segment().fill((byte) 0x5a); // garbage the reply must overwrite
            int status = run(Op.READ, offset, length, 0, b);
            if (status != Errno.OK) {
                throw new AssertionError("read at " + offset + "+" + length + " failed: " + Errno.name(status));
            }
            byte[] out = new byte[length];
            MemorySegment.copy(b.segment(), ValueLayout.JAVA_BYTE, 0, out, 0, length);
            return out;
        } finally {
            b.release();
        }
    }

    static byte[] pattern(int length, long seed) {
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

    @Override
    public void close() {
        pool.close();
    }
}
