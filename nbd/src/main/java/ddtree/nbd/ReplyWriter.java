package ddtree.nbd;

import ddtree.block.Extents;
import ddtree.block.PooledBuffer;
import ddtree.block.sys.NativeMemory;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.WritableByteChannel;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Writes replies to one connection. Replies are corked in a buffer and go out when the buffer
 * fills or a caller {@link #flush}es: the reader flushes before it blocks for more input, and the
 * completion writer when it has nothing more queued, so a client with many requests in flight gets
 * many replies per system call. Payloads too large to copy are written straight from their buffer.
 * One lock keeps replies whole on the wire.
 */
final class ReplyWriter {
    /** Payloads up to this size are copied into the cork buffer rather than written separately. */
    static final int COPY_LIMIT = 64 << 10;
    private static final MemorySegment MEMORY = NativeMemory.ALL;
    /**
     * Views of lent memory: one per 512 MiB of address space, each reaching a payload's length
     * past its end so that every read starting inside fits, kept in 16 slots by address. A
     * connection makes each view once; only a device of more than 8 GiB read all over, or two
     * devices' memory falling on one slot, has it made again now and then.
     */
    private static final int LENT_VIEW_SHIFT = 29;
    private static final long LENT_VIEW_SPAN = (1L << LENT_VIEW_SHIFT) + NbdProtocol.MAX_PAYLOAD;
    private static final int LENT_VIEW_SLOTS = 16;

    private final WritableByteChannel channel;
    private final ByteBuffer out;
    private final MemorySegment outSeg;
    private final ReentrantLock lock = new ReentrantLock();
    private IOException failure;
    private final ByteBuffer[] lentViews = new ByteBuffer[LENT_VIEW_SLOTS];
    private final long[] lentViewBases = new long[LENT_VIEW_SLOTS];

    ReplyWriter(WritableByteChannel channel, int capacity) {
        this.channel = channel;
        this.out = ByteBuffer.allocateDirect(capacity).order(ByteOrder.BIG_ENDIAN);
        this.outSeg = MemorySegment.ofBuffer(out);
    }

    /** Sends whatever is corked. Failures are remembered and rethrown to every later writer. */
    void flush() throws IOException {
        lock.lock();
        try {
            flushLocked();
        } finally {
            lock.unlock();
        }
    }

    /** For the reader's before-block hook, which cannot throw: a failure shows on the next write. */
    void flushQuietly() {
        try {
            flush();
        } catch (IOException ignored) {
            // remembered in failure; the reader sees it when it next replies or reads EOF
        }
    }

    /**
     * Sends whatever is corked, unless another thread is writing: what is corked is then that
     * thread's to send, since every thread that writes replies besides the reader (the
     * connection's reply and submitter threads) flushes when its queue runs dry. The reader does
     * not wait behind a megabyte's write only to find nothing left to send, and a lock it does not
     * wait for allocates no queue node.
     */
    void flushUnlessBusy() {
        if (!lock.tryLock()) {
            return;
        }
        try {
            flushLocked();
        } catch (IOException ignored) {
            // remembered in failure; the reader sees it when it next replies or reads EOF
        } finally {
            lock.unlock();
        }
    }

    private void flushLocked() throws IOException {
        if (failure != null) {
            throw failure;
        }
        out.flip();
        try {
            while (out.hasRemaining()) {
                channel.write(out);
            }
        } catch (IOException e) {
            failure = e;
            throw e;
        } finally {
            out.clear();
        }
    }

    private void ensureRoom(int n) throws IOException {
        if (out.remaining() < n) {
            flushLocked();
        }
    }

    private void checkFailed() throws IOException {
        if (failure != null) {
            throw failure;
        }
    }

    /**
     * A simple reply; {@code data} is null when there is no payload. The payload is {@code length}
     * bytes from {@code dataOffset}: of {@code data}, or of the memory a device lent at
     * {@code lent} when that is not 0.
     */
    void simple(long cookie, int error, PooledBuffer data, long lent, int dataOffset, int length) throws IOException {
        lock.lock();
        try {
            checkFailed();
            ensureRoom(16);
            out.putInt(NbdProtocol.SIMPLE_REPLY_MAGIC).putInt(error).putLong(cookie);
            if (data != null && length > 0) {
                payload(data, lent, dataOffset, length, 16);
            }
        } finally {
            lock.unlock();
        }
    }

    /** An OFFSET_DATA chunk carrying {@code length} bytes, from the same sources as {@link #simple}. */
    void offsetData(long cookie, boolean done, long offset, PooledBuffer data, long lent, int dataOffset, int length)
            throws IOException {
        lock.lock();
        try {
            checkFailed();
            ensureRoom(28);
            chunkHeader(cookie, done, NbdProtocol.REPLY_TYPE_OFFSET_DATA, 8 + length);
            out.putLong(offset);
            payload(data, lent, dataOffset, length, 28);
        } finally {
            lock.unlock();
        }
    }

    /** An OFFSET_HOLE chunk: {@code length} bytes at {@code offset} read as zeroes. */
    void offsetHole(long cookie, boolean done, long offset, int length) throws IOException {
        lock.lock();
        try {
            checkFailed();
            ensureRoom(32);
            chunkHeader(cookie, done, NbdProtocol.REPLY_TYPE_OFFSET_HOLE, 12);
            out.putLong(offset).putInt(length);
        } finally {
            lock.unlock();
        }
    }

    /** A final ERROR chunk with a message for humans. */
    void errorChunk(long cookie, int error, String message) throws IOException {
        byte[] msg = message == null ? new byte[0] : Strings.utf8(message, NbdProtocol.MAX_STRING);
        lock.lock();
        try {
            checkFailed();
            ensureRoom(26 + msg.length);
            chunkHeader(cookie, true, NbdProtocol.REPLY_TYPE_ERROR, 6 + msg.length);
            out.putInt(error).putShort((short) msg.length).put(msg);
        } finally {
            lock.unlock();
        }
    }

    /** A final NONE chunk. */
    void none(long cookie) throws IOException {
        lock.lock();
        try {
            checkFailed();
            ensureRoom(20);
            chunkHeader(cookie, true, NbdProtocol.REPLY_TYPE_NONE, 0);
        } finally {
            lock.unlock();
        }
    }

    /**
     * A BLOCK_STATUS chunk for meta context {@code contextId} with the first {@code count} extents
     * of {@code extents}; {@code done} marks the reply's last chunk.
     */
    void blockStatus(long cookie, boolean done, int contextId, Extents extents, int count) throws IOException {
        lock.lock();
        try {
            checkFailed();
            int len = 4 + 8 * count;
            ensureRoom(20 + len);
            if (out.remaining() < 20 + len) {
                throw new IllegalArgumentException("block status of " + count + " extents does not fit a reply");
            }
            chunkHeader(cookie, done, NbdProtocol.REPLY_TYPE_BLOCK_STATUS, len);
            out.putInt(contextId);
            for (int i = 0; i < count; i++) {
                out.putInt((int) extents.length(i)).putInt(extents.flags(i));
            }
        } finally {
            lock.unlock();
        }
    }

    private void chunkHeader(long cookie, boolean done, int type, int length) {
        out.putInt(NbdProtocol.STRUCTURED_REPLY_MAGIC)
                .putShort((short) (done ? NbdProtocol.REPLY_FLAG_DONE : 0))
                .putShort((short) type)
                .putLong(cookie)
                .putInt(length);
    }

    /**
     * Puts {@code length} bytes of {@code data} after the {@code headerLength} bytes of header just
     * corked. Small payloads are copied into the cork. A large one is sent from its own buffer in
     * one plain write, its header moved in front of it: into the buffer's headroom, or over data
     * before {@code dataOffset} that an earlier chunk of the same reply has sent already. (A
     * gathering write of cork and payload would be one call too, but the JDK allocates on each for
     * a buffer that views a memory segment.) Lent memory has no room in front: the cork, header
     * last, goes out first, then the data from where it lies, however short. Only the kernel
     * reads lent memory: a file mapping's page past a truncated end fails that write, where a
     * copy here would fault the process.
     */
    private void payload(PooledBuffer data, long lent, int dataOffset, int length, int headerLength)
            throws IOException {
        if (lent != 0) {
            flushLocked();
            writeAll(lentView(lent + dataOffset, length));
            return;
        }
        if (length <= COPY_LIMIT) {
            ensureRoomKeepingHeader(length);
            MemorySegment.copy(data.segment(), dataOffset, outSeg, out.position(), length);
            out.position(out.position() + length);
            return;
        }
        int start = data.headroom() + dataOffset - headerLength;
        if (start < 0) {
            throw new IllegalArgumentException("no room for a " + headerLength + "-byte header before "
                    + length + " bytes at " + dataOffset + " of a buffer with " + data.headroom() + " bytes of headroom");
        }
        int header = out.position() - headerLength;
        MemorySegment.copy(outSeg, header, data.frame(), start, headerLength);
        out.position(header);
        flushLocked(); // earlier replies still corked go first
        ByteBuffer frame = data.frameBuffer();
        frame.limit(data.headroom() + dataOffset + length).position(start);
        writeAll(frame);
    }

    private void writeAll(ByteBuffer bytes) throws IOException {
        try {
            while (bytes.hasRemaining()) {
                channel.write(bytes);
            }
        } catch (IOException e) {
            failure = e;
            throw e;
        }
    }

    /**
     * A reused view positioned on {@code length} (at most a payload's) bytes at {@code address}.
     * Only those bytes are ever read through it; the rest of its span need not be mapped.
     */
    private ByteBuffer lentView(long address, int length) {
        long base = address & -(1L << LENT_VIEW_SHIFT);
        int slot = (int) (base >>> LENT_VIEW_SHIFT) & (LENT_VIEW_SLOTS - 1);
        ByteBuffer view = lentViews[slot];
        if (view == null || lentViewBases[slot] != base) {
            view = MEMORY.asSlice(base, LENT_VIEW_SPAN).asByteBuffer();
            lentViews[slot] = view;
            lentViewBases[slot] = base;
        }
        int at = (int) (address - base);
        view.limit(at + length).position(at);
        return view;
    }

    /** Makes room for {@code n} payload bytes after a header already in the buffer. */
    private void ensureRoomKeepingHeader(int n) throws IOException {
        if (out.remaining() >= n) {
            return;
        }
        // The header is at the end of the buffer; send everything before the payload first.
        flushLocked();
    }

    /** Writes handshake bytes at once (the handshake is not corked). */
    void raw(ByteBuffer bytes) throws IOException {
        lock.lock();
        try {
            checkFailed();
            flushLocked();
            while (bytes.hasRemaining()) {
                channel.write(bytes);
            }
        } finally {
            lock.unlock();
        }
    }
}
