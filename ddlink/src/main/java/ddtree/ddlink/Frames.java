package ddtree.ddlink;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;

/**
 * The ddlink framing: a 4-byte big-endian length, then that many bytes of UTF-8 JSON. A frame
 * holds at most {@link #MAX_FRAME} bytes, so a peer can never make the other side allocate more.
 */
public final class Frames {
    private Frames() {}

    /** The largest frame body either side sends or accepts: 1 MiB. */
    public static final int MAX_FRAME = 1 << 20;

    /** Writes one frame; the caller serialises writers of the same channel. */
    public static void write(WritableByteChannel channel, byte[] body) throws IOException {
        if (body.length > MAX_FRAME) {
            throw new FrameException("frame of " + body.length + " bytes is larger than the " + MAX_FRAME + "-byte limit");
        }
        ByteBuffer buf = ByteBuffer.allocate(4 + body.length);
        buf.putInt(body.length).put(body).flip();
        while (buf.hasRemaining()) {
            channel.write(buf);
        }
    }

    /**
     * Reads one frame.
     *
     * @return the body, or null when the peer closed the connection between frames
     * @throws FrameException on a length over the limit, or a connection closed inside a frame
     */
    public static byte[] read(ReadableByteChannel channel) throws IOException {
        ByteBuffer header = ByteBuffer.allocate(4);
        if (!fill(channel, header, true)) {
            return null;
        }
        int length = header.flip().getInt();
        if (length < 0 || length > MAX_FRAME) {
            throw new FrameException("frame length " + Integer.toUnsignedLong(length) + " is larger than the "
                    + MAX_FRAME + "-byte limit");
        }
        ByteBuffer body = ByteBuffer.allocate(length);
        fill(channel, body, false);
        return body.array();
    }

    /** Fills {@code buf}; false if the channel ended before its first byte and that is allowed. */
    private static boolean fill(ReadableByteChannel channel, ByteBuffer buf, boolean eofAtStartOk) throws IOException {
        boolean first = true;
        while (buf.hasRemaining()) {
            int n = channel.read(buf);
            if (n < 0) {
                if (first && eofAtStartOk) {
                    return false;
                }
                throw new EOFException("connection closed inside a frame (" + buf.position() + " of "
                        + buf.limit() + " bytes read)");
            }
            first &= n == 0;
        }
        return true;
    }

    /** A frame that breaks the protocol's limits. */
    public static final class FrameException extends IOException {
        public FrameException(String message) {
            super(message);
        }
    }
}
