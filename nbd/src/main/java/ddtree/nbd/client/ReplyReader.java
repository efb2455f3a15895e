package ddtree.nbd.client;

import ddtree.block.Errno;
import ddtree.nbd.NbdProtocol;
import java.io.EOFException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ReadableByteChannel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Parses the replies of one connection, simple and structured, and hands each finished request
 * back to the device. Read data is copied from one direct input buffer into the bio's memory, so
 * nothing is allocated per reply. Anything the spec does not allow (an unknown cookie, a chunk
 * outside its request, an unknown reply type) is a broken connection: it is dropped and made
 * again, and the requests on it are sent again.
 */
final class ReplyReader {
    private static final Logger LOG = LoggerFactory.getLogger(ReplyReader.class);
    static final int REPLY_TYPE_ERROR_OFFSET = (1 << 15) + 2;
    private static final int ZERO_SIZE = 64 << 10;
    private static final MemorySegment ZEROES = Arena.global().allocate(ZERO_SIZE, 4096);

    /** What the reader needs from the device; every call names the connection's generation. */
    interface Requests {
        /** The slot of {@code cookie} if it is on this connection, else null. */
        Slot claim(long cookie, long generation);

        /** The request in {@code slot} is answered with {@code errno}. */
        void answered(Slot slot, long generation, int errno);

        /** The server refused the request because it is going away: send it again after reconnecting. */
        void retry(Slot slot, long generation);
    }

    private final ReadableByteChannel channel;
    private final ByteBuffer buf;
    private final MemorySegment seg;
    private final Requests requests;
    private final long generation;
    private final int contextId;
    private final String where;

    ReplyReader(ReadableByteChannel channel, int capacity, Requests requests, long generation, int contextId,
            String where) {
        this.channel = channel;
        this.buf = ByteBuffer.allocateDirect(capacity).order(ByteOrder.BIG_ENDIAN);
        this.seg = MemorySegment.ofBuffer(buf);
        this.buf.limit(0);
        this.requests = requests;
        this.generation = generation;
        this.contextId = contextId;
        this.where = where;
    }

    /** Reads replies until the connection fails; always ends by throwing. */
    void run() throws IOException {
        while (true) {
            int magic = readInt();
            if (magic == NbdProtocol.SIMPLE_REPLY_MAGIC) {
                simple();
            } else if (magic == NbdProtocol.STRUCTURED_REPLY_MAGIC) {
                structured();
            } else {
                throw new IOException(String.format("%s sent reply magic 0x%08x", where, magic));
            }
        }
    }

    private void simple() throws IOException {
        int error = readInt();
        long cookie = readLong();
        Slot s = claim(cookie);
        if (error == 0 && s.command == NbdProtocol.CMD_READ) {
            copyTo(s.data, s.dataOffset, s.length);
            s.covered = s.length;
        } else if (error == 0 && s.command == NbdProtocol.CMD_BLOCK_STATUS) {
            throw new IOException(where + " sent a simple reply to BLOCK_STATUS");
        }
        finish(s, error);
    }

    private void structured() throws IOException {
        int flags = readShort() & 0xffff;
        int type = readShort() & 0xffff;
        long cookie = readLong();
        long length = readInt() & 0xffffffffL;
        Slot s = claim(cookie);
        switch (type) {
            case NbdProtocol.REPLY_TYPE_OFFSET_DATA -> {
                if (s.command != NbdProtocol.CMD_READ || length < 8) {
                    throw protocol("OFFSET_DATA of " + length + " bytes", s);
                }
                long offset = readLong();
                long n = length - 8;
                checkWithin(s, offset, n);
                copyTo(s.data, s.dataOffset + (offset - s.offset), n);
                s.covered += n;
            }
            case NbdProtocol.REPLY_TYPE_OFFSET_HOLE -> {
                if (s.command != NbdProtocol.CMD_READ || length != 12) {
                    throw protocol("OFFSET_HOLE of " + length + " bytes", s);
                }
                long offset = readLong();
                long n = readInt() & 0xffffffffL;
                checkWithin(s, offset, n);
                zero(s.data, s.dataOffset + (offset - s.offset), n);
                s.covered += n;
            }
            case NbdProtocol.REPLY_TYPE_NONE -> {
                if (length != 0) {
                    throw protocol("NONE chunk of " + length + " bytes", s);
                }
            }
            case NbdProtocol.REPLY_TYPE_BLOCK_STATUS -> blockStatus(s, length);
            default -> {
                if ((type & (1 << 15)) == 0) {
                    throw protocol("reply type " + type, s);
                }
                error(s, type, length);
            }
        }
        if ((flags & NbdProtocol.REPLY_FLAG_DONE) != 0) {
            finish(s, s.errno);
        }
    }

    private void blockStatus(Slot s, long length) throws IOException {
        if (s.command != NbdProtocol.CMD_BLOCK_STATUS || length < 4 || (length - 4) % 8 != 0) {
            throw protocol("BLOCK_STATUS chunk of " + length + " bytes", s);
        }
        int ctx = readInt();
        long count = (length - 4) / 8;
        for (long i = 0; i < count; i++) {
            long len = readInt() & 0xffffffffL;
            int extentFlags = readInt();
            if (ctx == contextId && s.covered < s.length) {
                // Later extents are dropped once the list is full; the caller asks again from there.
                if (s.extents.add(len, extentFlags & (ddtree.block.Extents.HOLE | ddtree.block.Extents.ZERO))) {
                    s.covered += len;
                } else {
                    s.covered = s.length;
                }
            }
        }
    }

    private void error(Slot s, int type, long length) throws IOException {
        if (length < 6) {
            throw protocol("error chunk of " + length + " bytes", s);
        }
        int error = readInt();
        int messageLength = readShort() & 0xffff;
        if (6L + messageLength > length) {
            throw protocol("error message of " + messageLength + " bytes in a chunk of " + length, s);
        }
        if (LOG.isDebugEnabled()) {
            byte[] m = new byte[messageLength];
            for (int i = 0; i < messageLength; i++) {
                m[i] = readByte();
            }
            LOG.debug("{}: {} at {}+{} failed with {} (type {}): {}", where, NbdProtocol.commandName(s.command),
                    s.offset, s.length, error, type, new String(m, java.nio.charset.StandardCharsets.UTF_8));
        } else {
            skip(messageLength);
        }
        skip(length - 6 - messageLength); // the offset of ERROR_OFFSET, or what a newer type adds
        int errno = error == 0 ? Errno.EIO : error; // an error chunk that says 0 is still an error
        if (s.errno == 0) {
            s.errno = errno;
        }
    }

    private void finish(Slot s, int wireError) throws IOException {
        int errno = errnoOf(wireError);
        if (errno == Errno.ESHUTDOWN) {
            requests.retry(s, generation);
            throw new IOException(where + " is shutting down");
        }
        if (errno == Errno.OK && s.command == NbdProtocol.CMD_READ && s.covered != s.length) {
            LOG.warn("{}: read at {}+{} answered with {} bytes", where, s.offset, s.length, s.covered);
            errno = Errno.EIO;
        }
        requests.answered(s, generation, errno);
    }

    /** NBD error numbers are Linux errno values; the spec says to read an unknown one as EINVAL. */
    static int errnoOf(int wireError) {
        return switch (wireError) {
            case Errno.OK, Errno.EPERM, Errno.EIO, Errno.ENOMEM, Errno.EINVAL, Errno.ENOSPC, Errno.EOVERFLOW,
                    Errno.ENOTSUP, Errno.ESHUTDOWN -> wireError;
            default -> Errno.EINVAL;
        };
    }

    private Slot claim(long cookie) throws IOException {
        Slot s = requests.claim(cookie, generation);
        if (s == null) {
            throw new IOException(where + " replied to cookie " + cookie + ", which has no request in flight");
        }
        return s;
    }

    private void checkWithin(Slot s, long offset, long n) throws IOException {
        if (offset < s.offset || n > s.length || offset - s.offset > s.length - n) {
            throw protocol("chunk at " + offset + "+" + n, s);
        }
    }

    private IOException protocol(String what, Slot s) {
        return new IOException(where + " sent " + what + " for " + NbdProtocol.commandName(s.command) + " at "
                + s.offset + "+" + s.length);
    }

    private void fill() throws IOException {
        buf.compact();
        try {
            if (channel.read(buf) < 0) {
                throw new EOFException(where + " closed the connection");
            }
        } finally {
            buf.flip();
        }
    }

    private void require(int n) throws IOException {
        while (buf.remaining() < n) {
            fill();
        }
    }

    private int readInt() throws IOException {
        require(4);
        return buf.getInt();
    }

    private long readLong() throws IOException {
        require(8);
        return buf.getLong();
    }

    private short readShort() throws IOException {
        require(2);
        return buf.getShort();
    }

    private byte readByte() throws IOException {
        require(1);
        return buf.get();
    }

    private void copyTo(MemorySegment dest, long destOffset, long n) throws IOException {
        long done = 0;
        while (done < n) {
            if (!buf.hasRemaining()) {
                fill();
            }
            int step = (int) Math.min(n - done, buf.remaining());
            MemorySegment.copy(seg, buf.position(), dest, destOffset + done, step);
            buf.position(buf.position() + step);
            done += step;
        }
    }

    private void skip(long n) throws IOException {
        long left = n;
        while (left > 0) {
            if (!buf.hasRemaining()) {
                fill();
            }
            int step = (int) Math.min(left, buf.remaining());
            buf.position(buf.position() + step);
            left -= step;
        }
    }

    private static void zero(MemorySegment dest, long offset, long n) {
        long done = 0;
        while (done < n) {
            long step = Math.min(n - done, ZERO_SIZE);
            MemorySegment.copy(ZEROES, 0, dest, offset + done, step);
            done += step;
        }
    }
}
