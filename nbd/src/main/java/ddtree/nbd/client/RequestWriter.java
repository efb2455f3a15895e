package ddtree.nbd.client;

import ddtree.nbd.NbdProtocol;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.WritableByteChannel;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Writes requests to one connection. Submitting threads and the device's sender thread all write
 * here, so one lock keeps each request whole on the wire. Payloads are copied from the bio's
 * memory through one direct buffer rather than written from a byte-buffer view of it, because
 * that view is shared by every user of the buffer (split children of one parent may be on their
 * way to different devices at once).
 */
final class RequestWriter {
    static final int HEADER = 28;

    private final WritableByteChannel channel;
    private final ByteBuffer out;
    private final MemorySegment outSeg;
    private final ReentrantLock lock = new ReentrantLock();

    RequestWriter(WritableByteChannel channel, int capacity) {
        this.channel = channel;
        this.out = ByteBuffer.allocateDirect(capacity).order(ByteOrder.BIG_ENDIAN);
        this.outSeg = MemorySegment.ofBuffer(out);
    }

    void lock() {
        lock.lock();
    }

    void unlock() {
        lock.unlock();
    }

    /**
     * Appends one request; the caller holds the lock and flushes when it has no more to send.
     *
     * @param payload the WRITE data, or null
     */
    void request(int flags, int type, long cookie, long offset, long length, MemorySegment payload, long payloadOffset)
            throws IOException {
        if (out.remaining() < HEADER) {
            flush();
        }
        out.putInt(NbdProtocol.REQUEST_MAGIC)
                .putShort((short) flags)
                .putShort((short) type)
                .putLong(cookie)
                .putLong(offset)
                .putInt((int) length);
        if (payload == null) {
            return;
        }
        long done = 0;
        while (done < length) {
            if (!out.hasRemaining()) {
                flush();
            }
            int n = (int) Math.min(length - done, out.remaining());
            MemorySegment.copy(payload, payloadOffset + done, outSeg, out.position(), n);
            out.position(out.position() + n);
            done += n;
        }
    }

    /** Sends what is buffered. After a failure the connection is dropped, so what was left is moot. */
    void flush() throws IOException {
        out.flip();
        try {
            while (out.hasRemaining()) {
                channel.write(out);
            }
        } finally {
            out.clear();
        }
    }
}
