package ddtree.bench;

import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;

/**
 * A minimal NBD client for benchmarks: fixed-newstyle handshake with {@code NBD_OPT_GO}, simple
 * replies, and batches of equal-sized READ or WRITE requests sent back to back (pipelined) before
 * their replies are read.
 *
 * <p>Everything it needs is allocated when it connects: one direct buffer holds a whole batch of
 * requests (headers and write payloads), another a whole batch of replies. Issuing a batch only
 * patches handles and offsets in place, so the client itself allocates nothing per request and an
 * allocation figure measured around it belongs to the server.
 *
 * <p>Not thread-safe: one client per benchmark thread.
 */
public final class NbdBenchClient implements AutoCloseable {
    static final long NBDMAGIC = 0x4e42444d41474943L;
    static final long IHAVEOPT = 0x49484156454F5054L;
    static final long OPTION_REPLY_MAGIC = 0x3e889045565a9L;
    static final int REQUEST_MAGIC = 0x25609513;
    static final int SIMPLE_REPLY_MAGIC = 0x67446698;
    static final int FLAG_FIXED_NEWSTYLE = 1;
    static final int FLAG_NO_ZEROES = 2;
    static final int OPT_GO = 7;
    static final int REP_ACK = 1;
    static final int REP_INFO = 3;
    static final int INFO_EXPORT = 0;
    static final int INFO_BLOCK_SIZE = 3;
    static final int CMD_READ = 0;
    static final int CMD_WRITE = 1;
    static final int CMD_DISC = 2;
    static final int CMD_FLUSH = 3;

    static final int REQUEST_HEADER = 28;
    static final int REPLY_HEADER = 16;

    private final SocketChannel channel;
    private final long exportSize;
    private final int transmissionFlags;
    private final int requestSize;
    private final int maxDepth;

    /** Requests of one batch, laid out back to back: header, then payload for writes. */
    private final ByteBuffer requests;
    /** Replies of one batch: header, then payload for reads. */
    private final ByteBuffer replies;
    private final ByteBuffer control = ByteBuffer.allocateDirect(REQUEST_HEADER).order(ByteOrder.BIG_ENDIAN);
    private long nextHandle = 1;
    private long rng = 0x9E3779B97F4A7C15L;

    /**
     * Connects, negotiates the export, and sizes the buffers for batches of up to {@code maxDepth}
     * requests of {@code requestSize} bytes each.
     */
    public static NbdBenchClient connect(InetSocketAddress address, String exportName, int requestSize, int maxDepth)
            throws IOException {
        SocketChannel ch = SocketChannel.open();
        try {
            ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
            ch.connect(address);
            long[] negotiated = handshake(ch, exportName);
            return new NbdBenchClient(ch, negotiated[0], (int) negotiated[1], requestSize, maxDepth);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    private NbdBenchClient(SocketChannel channel, long exportSize, int transmissionFlags, int requestSize, int maxDepth) {
        if (requestSize <= 0 || maxDepth <= 0) {
            throw new IllegalArgumentException("requestSize and maxDepth must be positive");
        }
        if (exportSize < requestSize) {
            throw new IllegalArgumentException("export of " + exportSize + " bytes is smaller than one request");
        }
        this.channel = channel;
        this.exportSize = exportSize;
        this.transmissionFlags = transmissionFlags;
        this.requestSize = requestSize;
        this.maxDepth = maxDepth;
        this.requests = ByteBuffer.allocateDirect(maxDepth * (REQUEST_HEADER + requestSize)).order(ByteOrder.BIG_ENDIAN);
        this.replies = ByteBuffer.allocateDirect(maxDepth * (REPLY_HEADER + requestSize)).order(ByteOrder.BIG_ENDIAN);
        // Recognisable payload for writes.
        for (int i = 0; i < requests.capacity(); i++) {
            requests.put(i, (byte) (i * 31 + 7));
        }
    }

    /** Returns {export size, transmission flags}. */
    private static long[] handshake(SocketChannel ch, String exportName) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(18);
        readFully(ch, b);
        b.flip();
        if (b.getLong() != NBDMAGIC || b.getLong() != IHAVEOPT) {
            throw new IOException("not a fixed-newstyle NBD server");
        }
        int handshakeFlags = b.getShort() & 0xffff;
        if ((handshakeFlags & FLAG_FIXED_NEWSTYLE) == 0) {
            throw new IOException("server does not speak fixed newstyle");
        }
        boolean noZeroes = (handshakeFlags & FLAG_NO_ZEROES) != 0;
        byte[] name = exportName.getBytes(StandardCharsets.UTF_8);
        ByteBuffer out = ByteBuffer.allocate(4 + 16 + 4 + name.length + 2 + 2);
        out.putInt(FLAG_FIXED_NEWSTYLE | (noZeroes ? FLAG_NO_ZEROES : 0));
        out.putLong(IHAVEOPT).putInt(OPT_GO).putInt(4 + name.length + 2 + 2);
        out.putInt(name.length).put(name).putShort((short) 1).putShort((short) INFO_BLOCK_SIZE);
        out.flip();
        writeFully(ch, out);

        long size = -1;
        int flags = -1;
        ByteBuffer header = ByteBuffer.allocate(20);
        while (true) {
            header.clear();
            readFully(ch, header);
            header.flip();
            if (header.getLong() != OPTION_REPLY_MAGIC) {
                throw new IOException("bad option reply magic");
            }
            int option = header.getInt();
            int type = header.getInt();
            int length = header.getInt();
            if (option != OPT_GO) {
                throw new IOException("reply to option " + option + ", expected GO");
            }
            if (length < 0 || length > 65536) {
                throw new IOException("option reply length " + length);
            }
            ByteBuffer data = ByteBuffer.allocate(length);
            readFully(ch, data);
            data.flip();
            if (type == REP_ACK) {
                break;
            }
            if (type < 0) {
                throw new IOException("export '" + exportName + "' refused: error reply 0x" + Integer.toHexString(type)
                        + " " + StandardCharsets.UTF_8.decode(data));
            }
            if (type == REP_INFO && length >= 2 && data.getShort(0) == INFO_EXPORT && length >= 12) {
                size = data.getLong(2);
                flags = data.getShort(10) & 0xffff;
            }
        }
        if (size < 0) {
            throw new IOException("server acknowledged GO without NBD_INFO_EXPORT");
        }
        return new long[] {size, flags};
    }

    public long exportSize() {
        return exportSize;
    }

    public int transmissionFlags() {
        return transmissionFlags;
    }

    /** One request, waiting for its reply. */
    public void read(long offset) throws IOException {
        prepare(CMD_READ, 0, offset);
        exchange(CMD_READ, 1);
    }

    public void write(long offset) throws IOException {
        prepare(CMD_WRITE, 0, offset);
        exchange(CMD_WRITE, 1);
    }

    /**
     * {@code depth} requests of type {@code cmd} (READ or WRITE) at pseudo-random aligned offsets,
     * all sent before any reply is read.
     */
    public void batch(int cmd, int depth) throws IOException {
        if (depth > maxDepth) {
            throw new IllegalArgumentException("depth " + depth + " exceeds " + maxDepth);
        }
        for (int i = 0; i < depth; i++) {
            prepare(cmd, i, randomOffset());
        }
        exchange(cmd, depth);
    }

    /** A pseudo-random offset aligned to the request size (xorshift; allocates nothing). */
    public long randomOffset() {
        long x = rng;
        x ^= x << 13;
        x ^= x >>> 7;
        x ^= x << 17;
        rng = x;
        long slots = exportSize / requestSize;
        return Long.remainderUnsigned(x, slots) * requestSize;
    }

    private int slotStride(int cmd) {
        return REQUEST_HEADER + (cmd == CMD_WRITE ? requestSize : 0);
    }

    private void prepare(int cmd, int slot, long offset) {
        if (slot == 0) {
            requests.clear(); // absolute puts are checked against the limit the last send left
        }
        int at = slot * slotStride(cmd);
        requests.putInt(at, REQUEST_MAGIC);
        requests.putShort(at + 4, (short) 0);
        requests.putShort(at + 6, (short) cmd);
        requests.putLong(at + 8, nextHandle++);
        requests.putLong(at + 16, offset);
        requests.putInt(at + 24, requestSize);
    }

    private void exchange(int cmd, int depth) throws IOException {
        requests.limit(depth * slotStride(cmd)).position(0);
        writeFully(channel, requests);
        int replyStride = REPLY_HEADER + (cmd == CMD_READ ? requestSize : 0);
        // Replies may come in any order, but every one has the same size, so a batch is read whole.
        replies.limit(depth * replyStride).position(0);
        readFully(channel, replies);
        for (int i = 0; i < depth; i++) {
            int at = i * replyStride;
            if (replies.getInt(at) != SIMPLE_REPLY_MAGIC) {
                throw new IOException("bad reply magic 0x" + Integer.toHexString(replies.getInt(at)));
            }
            int error = replies.getInt(at + 4);
            if (error != 0) {
                throw new IOException("request failed with NBD error " + error);
            }
        }
    }

    /** FLUSH, waiting for its reply. */
    public void flush() throws IOException {
        control.clear();
        control.putInt(REQUEST_MAGIC).putShort((short) 0).putShort((short) CMD_FLUSH)
                .putLong(nextHandle++).putLong(0).putInt(0).flip();
        writeFully(channel, control);
        control.clear().limit(REPLY_HEADER);
        readFully(channel, control);
        if (control.getInt(0) != SIMPLE_REPLY_MAGIC || control.getInt(4) != 0) {
            throw new IOException("flush failed");
        }
    }

    /** Sends NBD_CMD_DISC and closes the socket. */
    @Override
    public void close() throws IOException {
        try {
            if (channel.isOpen()) {
                control.clear();
                control.putInt(REQUEST_MAGIC).putShort((short) 0).putShort((short) CMD_DISC)
                        .putLong(nextHandle++).putLong(0).putInt(0).flip();
                writeFully(channel, control);
            }
        } catch (IOException ignored) {
            // the server went first; closing is all that is left
        } finally {
            channel.close();
        }
    }

    private static void readFully(SocketChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            if (ch.read(b) < 0) {
                throw new EOFException("server closed the connection");
            }
        }
    }

    private static void writeFully(SocketChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }
}
