package ddtree.ddlink;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.ReadableByteChannel;
import java.util.function.LongConsumer;

/**
 * Bulk data inside a request, for the verbs that move a snapshot delta: the bytes travel in data
 * frames, whose 4-byte length has its top bit set and whose body is raw bytes (at most
 * {@link #CHUNK}), between the request and its reply. The sender may announce the total first
 * with {@code {"id":N,"total":BYTES}}; the stream ends with {@code {"id":N,"end":true}} from a
 * client, or with the request's ordinary reply from the daemon. Only the two delta verbs use data
 * frames, so a peer that does not know them never sees one.
 */
public final class DataFrames {
    private DataFrames() {}

    /** Most bytes in one data frame. */
    public static final int CHUNK = 1 << 20;
    /** Set in a frame's length word when the body is raw data rather than JSON. */
    static final int DATA_BIT = 0x8000_0000;

    /** Where frames go: JSON ones, and raw data ones. */
    public interface FrameSink {
        void send(ObjectNode frame) throws IOException;

        void sendData(byte[] data, int length) throws IOException;
    }

    /** A sink writing both kinds of frame to {@code channel}; the caller serialises writers. */
    public static FrameSink sink(java.nio.channels.WritableByteChannel channel) {
        return new FrameSink() {
            @Override
            public void send(ObjectNode frame) throws IOException {
                Frames.write(channel, Json.bytes(frame));
            }

            @Override
            public void sendData(byte[] data, int length) throws IOException {
                writeData(channel, data, length);
            }
        };
    }

    /** Writes one data frame. */
    static void writeData(java.nio.channels.WritableByteChannel channel, byte[] data, int length) throws IOException {
        java.nio.ByteBuffer header = java.nio.ByteBuffer.allocate(4).putInt(DATA_BIT | length).flip();
        java.nio.ByteBuffer body = java.nio.ByteBuffer.wrap(data, 0, length);
        while (header.hasRemaining()) {
            channel.write(header);
        }
        while (body.hasRemaining()) {
            channel.write(body);
        }
    }

    /** Turns bytes written into data frames. {@link #close()} sends what is buffered; it sends no end mark. */
    public static final class Output extends OutputStream {
        private final FrameSink sink;
        private final JsonNode id;
        private final byte[] buf = new byte[CHUNK];
        private int used;
        private long sent;

        public Output(FrameSink sink, JsonNode id) {
            this.sink = sink;
            this.id = id;
        }

        /** Announces how many bytes will follow, for a progress bar; may be an estimate. */
        public void total(long bytes) throws IOException {
            ObjectNode f = Json.object();
            f.set("id", id);
            f.put("total", bytes);
            sink.send(f);
        }

        @Override
        public void write(int b) throws IOException {
            if (used == buf.length) {
                flush();
            }
            buf[used++] = (byte) b;
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            while (len > 0) {
                if (used == buf.length) {
                    flush();
                }
                int n = Math.min(len, buf.length - used);
                System.arraycopy(b, off, buf, used, n);
                used += n;
                off += n;
                len -= n;
            }
        }

        @Override
        public void flush() throws IOException {
            if (used == 0) {
                return;
            }
            sink.sendData(buf, used);
            sent += used;
            used = 0;
        }

        /** Bytes sent so far. */
        public long sent() {
            return sent;
        }

        @Override
        public void close() throws IOException {
            flush();
        }
    }

    /**
     * Reads data frames back as bytes. Ends at an {@code end} frame, or at any other frame, which
     * it keeps for the caller as {@link #last()} (the daemon's reply to the request).
     */
    public static final class Input extends InputStream {
        private final ReadableByteChannel channel;
        private final LongConsumer total;
        private final java.nio.ByteBuffer header = java.nio.ByteBuffer.allocate(4);
        private byte[] buffer = new byte[0];
        private byte[] data = new byte[0];
        private int pos;
        private int limit;
        private boolean ended;
        private ObjectNode last;
        private long received;

        public Input(ReadableByteChannel channel, LongConsumer total) {
            this.channel = channel;
            this.total = total;
        }

        @Override
        public int read() throws IOException {
            if (!fill()) {
                return -1;
            }
            return data[pos++] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (len == 0) {
                return 0;
            }
            if (!fill()) {
                return -1;
            }
            int n = Math.min(len, limit - pos);
            System.arraycopy(data, pos, b, off, n);
            pos += n;
            return n;
        }

        private boolean fill() throws IOException {
            while (pos == limit) {
                if (ended) {
                    return false;
                }
                header.clear();
                fully(header);
                int word = header.flip().getInt();
                if ((word & DATA_BIT) != 0) {
                    int length = word & ~DATA_BIT;
                    if (length > CHUNK) {
                        throw new Frames.FrameException("data frame of " + length + " bytes is larger than the "
                                + CHUNK + "-byte limit");
                    }
                    if (buffer.length < length) {
                        buffer = new byte[CHUNK];
                    }
                    fully(java.nio.ByteBuffer.wrap(buffer, 0, length));
                    data = buffer;
                    pos = 0;
                    limit = length;
                    received += length;
                    continue;
                }
                if (word < 0 || word > Frames.MAX_FRAME) {
                    throw new Frames.FrameException("frame length " + Integer.toUnsignedLong(word) + " is larger than the "
                            + Frames.MAX_FRAME + "-byte limit");
                }
                byte[] body = new byte[word];
                fully(java.nio.ByteBuffer.wrap(body));
                ObjectNode f = Json.parseObject(body);
                if (f.has("event")) {
                    continue;
                }
                if (f.has("total")) {
                    total.accept(f.get("total").asLong());
                } else {
                    ended = true;
                    if (!f.path("end").asBoolean(false)) {
                        last = f;
                    }
                }
            }
            return true;
        }

        /** Reads and drops whatever is left of the stream, so the next frame is a new request's. */
        public void drain() throws IOException {
            pos = limit;
            while (fill()) {
                pos = limit;
            }
        }

        private void fully(java.nio.ByteBuffer b) throws IOException {
            while (b.hasRemaining()) {
                if (channel.read(b) < 0) {
                    throw new EOFException("the connection closed in the middle of a data stream");
                }
            }
        }

        /** The frame that ended the stream if it was not an end mark, else null. */
        public ObjectNode last() {
            return last;
        }

        /** Bytes received so far. */
        public long received() {
            return received;
        }
    }
}
