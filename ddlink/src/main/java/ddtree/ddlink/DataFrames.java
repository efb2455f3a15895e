package ddtree.ddlink;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.ReadableByteChannel;
import java.util.Base64;
import java.util.function.LongConsumer;

/**
 * Bulk data inside a request, for the verbs that move a snapshot delta: the bytes travel as
 * {@code {"id":N,"data":"<base64>"}} frames of at most {@link #CHUNK} bytes each, so the framing
 * and its size limit stay as they are. The sender may announce the total first with
 * {@code {"id":N,"total":BYTES}}; the stream ends with {@code {"id":N,"end":true}} from a client,
 * or with the request's ordinary reply from the daemon.
 */
public final class DataFrames {
    private DataFrames() {}

    /** Raw bytes per data frame; base64 keeps the frame under {@link Frames#MAX_FRAME}. */
    public static final int CHUNK = 512 << 10;

    /** Where a frame goes. */
    @FunctionalInterface
    public interface FrameSink {
        void send(ObjectNode frame) throws IOException;
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
            ObjectNode f = Json.object();
            f.set("id", id);
            f.put("data", Base64.getEncoder().encodeToString(used == buf.length ? buf : java.util.Arrays.copyOf(buf, used)));
            sink.send(f);
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
        private byte[] data = new byte[0];
        private int pos;
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
            int n = Math.min(len, data.length - pos);
            System.arraycopy(data, pos, b, off, n);
            pos += n;
            return n;
        }

        private boolean fill() throws IOException {
            while (pos == data.length) {
                if (ended) {
                    return false;
                }
                byte[] body = Frames.read(channel);
                if (body == null) {
                    throw new EOFException("the connection closed in the middle of a data stream");
                }
                ObjectNode f = Json.parseObject(body);
                if (f.has("event")) {
                    continue;
                }
                if (f.has("data")) {
                    try {
                        data = Base64.getDecoder().decode(f.get("data").asText());
                    } catch (IllegalArgumentException e) {
                        throw new IOException("a data frame is not base64: " + e.getMessage());
                    }
                    pos = 0;
                    received += data.length;
                } else if (f.has("total")) {
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
            pos = data.length;
            while (fill()) {
                pos = data.length;
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
