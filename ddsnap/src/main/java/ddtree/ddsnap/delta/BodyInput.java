package ddtree.ddsnap.delta;

import com.github.luben.zstd.ZstdDecompressCtx;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;

/**
 * The body of a delta stream as plain bytes: the rest of the source, or the one zstd frame the rest
 * of the source must be. Decoding the frame here rather than through a decompressing stream lets
 * the reader tell where the frame ends, so a second frame or any byte after it is refused.
 *
 * <p>I/O errors of the source pass through as they are; zstd's own errors surface as
 * {@link com.github.luben.zstd.ZstdException}, which the reader turns into a format error.
 */
final class BodyInput implements Closeable {
    private static final int BUFFER = 1 << 17;

    private final InputStream src;
    private final ZstdDecompressCtx zstd;
    /** Compressed bytes not yet decoded, between position and limit. */
    private final ByteBuffer in;
    /** Body bytes not yet handed out: {@code buf[pos, lim)}. */
    private final byte[] buf = new byte[BUFFER];
    private final ByteBuffer out = ByteBuffer.wrap(buf);
    private int pos;
    private int lim;
    private boolean srcEnded;
    private boolean frameEnded;
    private boolean outFull;

    BodyInput(InputStream src, boolean compressed) {
        this.src = src;
        this.in = compressed ? ByteBuffer.allocate(BUFFER).limit(0) : null;
        this.zstd = compressed ? new ZstdDecompressCtx() : null;
    }

    /** Reads {@code len} bytes into {@code b}; fewer only where the body ends. Returns how many. */
    int read(byte[] b, int off, int len) throws IOException {
        int done = 0;
        while (done < len) {
            if (pos == lim) {
                if (zstd == null && len - done >= buf.length && !srcEnded) {
                    int n = src.read(b, off + done, len - done);
                    if (n < 0) {
                        srcEnded = true;
                        break;
                    }
                    done += n;
                    continue;
                }
                if (!fill()) {
                    break;
                }
            }
            int n = Math.min(len - done, lim - pos);
            System.arraycopy(buf, pos, b, off + done, n);
            pos += n;
            done += n;
        }
        return done;
    }

    /**
     * Null when the body ends exactly here (and with it the source), otherwise what follows: the
     * problem, worded to follow "delta stream ".
     */
    String rest() throws IOException {
        if (pos < lim || fill()) {
            return "has data after its END record";
        }
        if (zstd != null) {
            if (!frameEnded) {
                return "is cut short after its END record (the compressed body stops inside its zstd frame)";
            }
            if (in.hasRemaining() || srcHasMore()) {
                return "has bytes after the end of its compressed body";
            }
        }
        return null;
    }

    /** True when the body is compressed and the source ended before the frame did. */
    boolean stoppedInsideFrame() {
        return zstd != null && srcEnded && !frameEnded;
    }

    private boolean srcHasMore() throws IOException {
        int n;
        do {
            n = src.read(buf, 0, buf.length);
        } while (n == 0);
        return n > 0;
    }

    /** Refills {@code buf}; false at the end of the body. */
    private boolean fill() throws IOException {
        pos = 0;
        lim = 0;
        if (zstd == null) {
            while (!srcEnded) {
                int n = src.read(buf, 0, buf.length);
                if (n < 0) {
                    srcEnded = true;
                } else if (n > 0) {
                    lim = n;
                    return true;
                }
            }
            return false;
        }
        while (!frameEnded) {
            if (!in.hasRemaining() && !srcEnded) {
                int n = src.read(in.array(), 0, in.capacity());
                in.position(0).limit(Math.max(n, 0));
                srcEnded = n < 0;
            }
            if (!in.hasRemaining() && !outFull) {
                if (srcEnded) {
                    return false; // the source stops inside the frame
                }
                continue;
            }
            out.clear();
            frameEnded = zstd.decompressByteBufferStream(out, in);
            lim = out.position();
            outFull = lim == buf.length;
            if (lim > 0) {
                return true;
            }
        }
        return false;
    }

    @Override
    public void close() throws IOException {
        try {
            if (zstd != null) {
                zstd.close();
            }
        } finally {
            src.close();
        }
    }
}
