package ddtree.nbd;

import java.io.EOFException;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ReadableByteChannel;

/**
 * Buffered big-endian reads from a channel. Requests are parsed straight out of one direct
 * buffer, so many small requests cost one read system call; payloads larger than what is
 * buffered are read directly into their destination. Before any read that may block, the
 * {@code beforeBlock} hook runs, which lets the connection send the replies it has corked.
 */
final class WireInput {
    private final ReadableByteChannel channel;
    private final ByteBuffer buf;
    private final MemorySegment seg;
    private final Runnable beforeBlock;
    private final Runnable beforeMessage;

    /**
     * @param beforeBlock runs before a read in the middle of a message may block
     * @param beforeMessage runs instead when the read waits for the next message to start
     */
    WireInput(ReadableByteChannel channel, int capacity, Runnable beforeBlock, Runnable beforeMessage) {
        this.channel = channel;
        this.buf = ByteBuffer.allocateDirect(capacity).order(ByteOrder.BIG_ENDIAN);
        this.seg = MemorySegment.ofBuffer(buf); // before limit(0): the segment spans position..limit
        this.buf.limit(0);
        this.beforeBlock = beforeBlock;
        this.beforeMessage = beforeMessage;
    }

    /** Bytes buffered and not yet consumed. */
    int available() {
        return buf.remaining();
    }

    /** Makes sure {@code n} bytes are buffered, reading as needed; EOF before that is an error. */
    void require(int n) throws IOException {
        if (buf.remaining() >= n) {
            return;
        }
        if (n > buf.capacity()) {
            throw new IllegalArgumentException("cannot buffer " + n + " bytes");
        }
        buf.compact();
        try {
            while (buf.position() < n) {
                beforeBlock.run();
                if (channel.read(buf) < 0) {
                    throw new EOFException("peer closed the connection");
                }
            }
        } finally {
            buf.flip();
        }
    }

    /**
     * Waits for the start of the next message. Returns false on a clean EOF (the peer closed
     * between messages), true when at least one byte is buffered.
     */
    boolean awaitMessage() throws IOException {
        if (buf.hasRemaining()) {
            return true;
        }
        buf.clear();
        try {
            beforeMessage.run();
            int n;
            do { // a blocking channel never returns 0, but an in-memory one may
                n = channel.read(buf);
            } while (n == 0);
            return n > 0;
        } finally {
            buf.flip();
        }
    }

    int readInt() throws IOException {
        require(4);
        return buf.getInt();
    }

    long readLong() throws IOException {
        require(8);
        return buf.getLong();
    }

    short readShort() throws IOException {
        require(2);
        return buf.getShort();
    }

    /** Reads {@code n} bytes into a new array: handshake strings only, never the request path. */
    byte[] readBytes(int n) throws IOException {
        byte[] out = new byte[n];
        int done = 0;
        while (done < n) {
            int chunk = Math.min(n - done, buf.capacity());
            require(chunk);
            buf.get(out, done, chunk);
            done += chunk;
        }
        return out;
    }

    /** Reads exactly {@code n} bytes into {@code dest} at {@code offset}. */
    void readFully(MemorySegment dest, long offset, long n, ByteBuffer destView) throws IOException {
        int fromBuf = (int) Math.min(n, buf.remaining());
        if (fromBuf > 0) {
            MemorySegment.copy(seg, buf.position(), dest, offset, fromBuf);
            buf.position(buf.position() + fromBuf);
        }
        long rest = n - fromBuf;
        if (rest == 0) {
            return;
        }
        destView.limit((int) (offset + n)).position((int) (offset + fromBuf));
        while (destView.hasRemaining()) {
            beforeBlock.run();
            if (channel.read(destView) < 0) {
                throw new EOFException("peer closed the connection with " + destView.remaining()
                        + " of " + n + " payload bytes unsent");
            }
        }
    }

    /** Reads and throws away {@code n} bytes, for payloads of requests that are refused. */
    void skip(long n) throws IOException {
        long left = n;
        while (left > 0) {
            if (!buf.hasRemaining()) {
                require(1);
            }
            int step = (int) Math.min(left, buf.remaining());
            buf.position(buf.position() + step);
            left -= step;
        }
    }
}
