package ddtree.nbd;

import ddtree.block.Bio;
import ddtree.block.BioCompletion;
import ddtree.block.BlockDevice;
import ddtree.block.BufferPool;
import ddtree.block.Dispatch;
import ddtree.block.Errno;
import ddtree.block.Extents;
import ddtree.block.InflightBudget;
import ddtree.block.Op;
import ddtree.block.PooledBuffer;
import ddtree.block.StatusMaps;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.ByteChannel;
import java.nio.channels.SocketChannel;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One client connection: the handshake, then the transmission phase. The thread that calls
 * {@link #run} reads requests, validates them, and submits them to the device; replies are sent
 * by whichever thread completes a request.
 *
 * <p>Each connection has a fixed number of request slots, each with its own {@link Bio}, so the
 * request path allocates nothing. A request needs a slot, a share of the device's in-flight
 * budget, and (for READ and WRITE) a buffer from the pool; while any of these is spent the
 * reader waits and stops reading its socket, which is how load pushes back on clients.
 */
public final class NbdConnection implements BioCompletion {
    private static final Logger LOG = LoggerFactory.getLogger(NbdConnection.class);
    private static final int INPUT_BUFFER = 128 << 10;
    private static final int OUTPUT_BUFFER = 256 << 10;
    /** Reads at least this long are checked for holes, to send them as hole chunks. */
    private static final int SPARSE_READ_MIN = 64 << 10;
    /** Reads at least this long set the socket's unsent-data cap to suit the server's load. */
    private static final int UNSENT_LIMIT_MIN = 64 << 10;
    /** Most extents in one block-status reply. */
    private static final int MAX_EXTENTS = 2048;

    private final ByteChannel channel;
    private final ExportCatalog exports;
    private final BufferPool buffers;
    private final String peer;
    private final WireInput in;
    private final ReplyWriter out;
    private final Slot[] slots;
    private final int[] freeSlots;
    private int freeCount;
    private final ReentrantLock slotLock = new ReentrantLock();
    private final Condition slotFreed = slotLock.newCondition();
    private final CountDownLatch closed = new CountDownLatch(1);
    private final Extents extents = new Extents(MAX_EXTENTS);
    /** One list per device map the session selected, filled by the reader for BLOCK_STATUS. */
    private Extents[] mapExtents = new Extents[0];
    private final Extents readExtents = new Extents(MAX_EXTENTS);
    private final Object readExtentsLock = new Object();

    private final BusyPoll busyPoll;
    private final int offloadMinBytes;
    private final BusyConnections busyConnections;
    private final int handoffMinBytes;
    private final UnsentLimit unsentLimit;
    /** The socket's stream, for its byte count while polling; null when the channel is no socket. */
    private final InputStream socketInput;
    private final SlotWorker completions;
    private final SlotWorker submitter;
    private volatile Thread reader;
    private volatile boolean shuttingDown;
    private volatile Session session;
    private volatile BlockDevice device;

    /** The state of one request in flight. */
    private static final class Slot {
        final Bio bio = new Bio();
        long cookie;
        int type;
        int flags;
        long dataBytes;
        PooledBuffer buffer;
        long offset;
        long length;
    }

    /**
     * @param channel the client's byte stream; a {@link SocketChannel} also lets {@link #shutdown}
     *     stop reading while replies still go out
     * @param slots requests this client may have in flight at once
     */
    public NbdConnection(ByteChannel channel, ExportCatalog exports, BufferPool buffers, int slots, String peer) {
        this(channel, exports, buffers, slots, peer, BusyPoll.OFF, NbdServerConfig.defaultOffloadMinBytes(),
                BusyConnections.ofThisMachine(), Integer.MAX_VALUE);
    }

    /**
     * @param offloadMinBytes requests with at least this much data go to the submitter thread
     *     (see {@link NbdServerConfig#offloadMinBytes})
     * @param busyConnections the server's count of busy connections, which this one joins while
     *     it has requests in flight
     * @param handoffMinBytes read replies this large may go to the reply thread
     *     (see {@link NbdServerConfig#handoffMinBytes})
     */
    NbdConnection(ByteChannel channel, ExportCatalog exports, BufferPool buffers, int slots, String peer,
            BusyPoll busyPoll, int offloadMinBytes, BusyConnections busyConnections, int handoffMinBytes) {
        this.channel = channel;
        this.exports = exports;
        this.buffers = buffers;
        this.peer = peer;
        this.out = new ReplyWriter(channel, OUTPUT_BUFFER);
        this.busyPoll = busyPoll;
        this.offloadMinBytes = offloadMinBytes;
        this.busyConnections = busyConnections;
        this.handoffMinBytes = handoffMinBytes;
        this.unsentLimit = UnsentLimit.of(channel);
        this.socketInput = inputOf(channel);
        this.in = new WireInput(channel, INPUT_BUFFER, out::flushUnlessBusy, this::beforeMessage);
        this.slots = new Slot[slots];
        this.freeSlots = new int[slots];
        for (int i = 0; i < slots; i++) {
            this.slots[i] = new Slot();
            this.freeSlots[i] = slots - 1 - i;
        }
        this.freeCount = slots;
        this.completions = new SlotWorker(slots, new SlotWorker.Handler() {
            @Override
            public void handle(int slot) {
                send(slot);
            }

            @Override
            public void idle() {
                out.flushQuietly();
            }
        });
        this.submitter = new SlotWorker(slots, new SlotWorker.Handler() {
            @Override
            public void handle(int slot) {
                Dispatch.submit(device, NbdConnection.this.slots[slot].bio);
            }

            @Override
            public void idle() {
                out.flushQuietly();
            }
        });
    }

    private static InputStream inputOf(ByteChannel channel) {
        if (channel instanceof SocketChannel sc) {
            try {
                return sc.socket().getInputStream();
            } catch (IOException e) {
                return null; // closed already: the first read says so
            }
        }
        return null;
    }

    /**
     * Before waiting for the next request: send the corked replies, then, when none of this
     * connection's requests is left for another thread to finish, poll for the client's next one.
     * With requests in flight elsewhere the poll would only take a CPU from the threads that serve
     * them.
     */
    private void beforeMessage() {
        out.flushUnlessBusy();
        if (freeCount == slots.length) { // a racy read is enough for a hint
            busyPoll.await(socketInput);
        }
    }

    public String peer() {
        return peer;
    }

    /** The device this connection serves, once the handshake chose one; else null. */
    public BlockDevice device() {
        return device;
    }

    /** Serves the connection on the calling thread until the client leaves or the server stops. */
    public void run() {
        reader = Thread.currentThread();
        try {
            Optional<Session> s = new Handshake(in, out, exports, () -> shuttingDown, peer).negotiate();
            if (s.isPresent()) {
                session = s.get();
                device = session.export().device();
                mapExtents = new Extents[session.maps().size()];
                for (int i = 0; i < mapExtents.length; i++) {
                    mapExtents[i] = new Extents(MAX_EXTENTS);
                }
                LOG.debug("{}: serving '{}'", peer, session.export().name());
                completions.start("nbd-reply " + peer);
                submitter.start("nbd-submit " + peer);
                transmit();
            }
        } catch (EOFException e) {
            LOG.debug("{}: {}", peer, e.getMessage());
        } catch (ProtocolException e) {
            LOG.warn("{}: protocol error, closing: {}", peer, e.getMessage());
        } catch (IOException e) {
            LOG.debug("{}: connection failed: {}", peer, e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            LOG.error("{}: closing after an unexpected failure", peer, e);
        } finally {
            awaitInflight();
            submitter.stop();
            completions.stop();
            out.flushQuietly();
            NbdServer.closeQuietly(channel);
            closed.countDown();
        }
    }

    /** Stops taking requests: the reader sees end of input, finishes what is in flight, closes. */
    void shutdown() {
        shuttingDown = true;
        if (channel instanceof SocketChannel sc) {
            try {
                sc.shutdownInput();
            } catch (IOException e) {
                abort();
            }
        } else {
            abort();
        }
    }

    /** Closes the socket at once. */
    void abort() {
        NbdServer.closeQuietly(channel);
    }

    boolean awaitClosed(long nanos) {
        try {
            return closed.await(nanos, TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private void transmit() throws IOException, InterruptedException {
        Session s = session;
        BlockDevice dev = device;
        long size = dev.size();
        while (in.awaitMessage()) {
            in.require(28);
            int magic = in.readInt();
            if (magic != NbdProtocol.REQUEST_MAGIC) {
                throw new ProtocolException(String.format("bad request magic 0x%08x", magic));
            }
            int flags = in.readShort() & 0xffff;
            int type = in.readShort() & 0xffff;
            long cookie = in.readLong();
            long offset = in.readLong();
            long length = in.readInt() & 0xffffffffL;
            if (type == NbdProtocol.CMD_DISC) {
                LOG.debug("{}: disconnect requested", peer);
                return;
            }
            int errno = shuttingDown ? Errno.ESHUTDOWN : RequestCheck.check(s, size, type, flags, offset, length);
            if (errno != Errno.OK) {
                if (type == NbdProtocol.CMD_WRITE) {
                    in.skip(length); // keep the stream in step with the client
                }
                refuse(s, size, cookie, type, flags, offset, length, errno);
                continue;
            }
            switch (type) {
                case NbdProtocol.CMD_CACHE -> reply(s, cookie, type, Errno.OK);
                case NbdProtocol.CMD_BLOCK_STATUS -> blockStatus(dev, cookie, flags, offset, length);
                default -> submit(dev, type, flags, cookie, offset, length);
            }
        }
    }

    private void submit(BlockDevice dev, int type, int flags, long cookie, long offset, long length)
            throws IOException, InterruptedException {
        Op op = switch (type) {
            case NbdProtocol.CMD_READ -> Op.READ;
            case NbdProtocol.CMD_WRITE -> Op.WRITE;
            case NbdProtocol.CMD_FLUSH -> Op.FLUSH;
            case NbdProtocol.CMD_TRIM -> Op.DISCARD;
            case NbdProtocol.CMD_WRITE_ZEROES -> Op.WRITE_ZEROES;
            default -> throw new IllegalStateException("unexpected command " + type);
        };
        int bioFlags = 0;
        if ((flags & NbdProtocol.CMD_FLAG_FUA) != 0 && op.modifies()) {
            bioFlags |= Bio.FUA;
        }
        if ((flags & NbdProtocol.CMD_FLAG_NO_HOLE) != 0) {
            bioFlags |= Bio.NO_HOLE;
        }
        if ((flags & NbdProtocol.CMD_FLAG_FAST_ZERO) != 0) {
            bioFlags |= Bio.FAST_ZERO;
        }
        boolean reserve = op == Op.FLUSH;
        if (reserve) {
            bioFlags |= Bio.RESERVE;
        }
        long dataBytes = op.carriesData() ? length : 0;

        int index = takeSlot();
        Slot slot = slots[index];
        InflightBudget budget = dev.budget();
        PooledBuffer buffer = null;
        try {
            if (!budget.tryAcquire(dataBytes, reserve)) {
                out.flush();
                budget.acquire(dataBytes, reserve);
            }
            try {
                if (op.carriesData()) {
                    buffer = buffers.acquire((int) length, reserve, 0);
                    if (buffer == null) {
                        out.flush();
                        buffer = buffers.acquire((int) length, reserve);
                    }
                    if (op == Op.WRITE) {
                        in.readFully(buffer.segment(), 0, length, buffer.byteBuffer());
                    }
                }
            } catch (IOException | InterruptedException | RuntimeException e) {
                budget.release(dataBytes);
                throw e;
            }
        } catch (IOException | InterruptedException | RuntimeException e) {
            if (buffer != null) {
                buffer.release();
            }
            freeSlot(index);
            throw e;
        }
        slot.cookie = cookie;
        slot.type = type;
        slot.flags = flags;
        slot.dataBytes = dataBytes;
        slot.buffer = buffer;
        slot.offset = offset;
        slot.length = length;
        Bio bio = slot.bio.reset(op, offset, length, bioFlags, buffer);
        bio.pushCompletion(this, index);
        if (op == Op.READ && length > ReplyWriter.COPY_LIMIT) {
            // A device that lends its memory saves the copy; the reader then sends the reply itself
            // (see handOff), since there is no copy left for a second thread to overlap with.
            bio.allowLending();
        }
        if (dataBytes >= offloadMinBytes) {
            submitter.post(index);
        } else {
            Dispatch.submit(dev, bio);
        }
    }

    /**
     * Completion of a request this connection submitted; {@code state} is its slot index. On a
     * thread of this connection (the reader or the submitter, for a device that completed inline)
     * the reply is corked at once, which saves a hand-off and a wake-up; from any other thread it
     * is handed to this connection's reply worker. So is a large read the reader copied while a
     * CPU is to spare, so that its socket write overlaps with the next request's copy.
     */
    @Override
    public boolean bioDone(Bio bio, long state) {
        int index = (int) state;
        Slot slot = slots[index];
        device.budget().release(slot.dataBytes);
        Thread t = Thread.currentThread();
        boolean here = t == reader ? !handOff(slot) : submitter.isCurrent();
        if (here) {
            send(index);
        } else {
            completions.post(index);
        }
        // False ends the completion walk here. Once posted, the slot may be replied to, freed and
        // reused for the next request (its bio reset and a new step pushed) before this thread
        // returns; a walk that went on would read the new request's step and complete it early.
        return false;
    }

    /**
     * A read lent its data is not handed off: no copy is left to overlap with its write. One fio
     * client's 1 MiB reads from a RAM device, sent by the reader from lent memory, took 225-261 us
     * of server CPU each against 296-329 copied and handed off, with 0.02 thread switches per
     * request against 0.9, and ran a median 6% faster over 14 alternating rounds.
     */
    private boolean handOff(Slot slot) {
        return slot.type == NbdProtocol.CMD_READ && slot.length >= handoffMinBytes && !slot.bio.lent()
                && busyConnections.cpuToSpare();
    }

    /** Replies for the request in {@code index} and frees its slot. */
    private void send(int index) {
        Slot slot = slots[index];
        Bio bio = slot.bio;
        try {
            int status = bio.status();
            if (slot.type == NbdProtocol.CMD_READ) {
                if (slot.length >= UNSENT_LIMIT_MIN) {
                    unsentLimit.crowded(!busyConnections.cpuToSpare());
                }
                replyRead(slot, status);
            } else {
                reply(session, slot.cookie, slot.type, status);
            }
        } catch (IOException e) {
            LOG.debug("{}: reply lost: {}", peer, e.toString());
            abort(); // the client is gone; wake the reader so it ends
        } catch (RuntimeException e) {
            LOG.error("{}: failed to reply to {}", peer, bio, e);
            abort();
        } finally {
            bio.giveBackLent();
            if (slot.buffer != null) {
                slot.buffer.release();
                slot.buffer = null;
            }
            freeSlot(index);
        }
    }

    private void replyRead(Slot slot, int status) throws IOException {
        Session s = session;
        int len = (int) slot.length;
        long lent = slot.bio.lent() ? slot.bio.lentAddress() : 0;
        if (!s.structuredReplies()) {
            out.simple(slot.cookie, status, status == Errno.OK ? slot.buffer : null, lent, 0, len);
            return;
        }
        if (status != Errno.OK) {
            out.errorChunk(slot.cookie, status, "read at " + slot.offset + "+" + len + " failed: " + Errno.name(status));
            return;
        }
        if (len < SPARSE_READ_MIN || !device.capabilities().extents()) {
            out.offsetData(slot.cookie, true, slot.offset, slot.buffer, lent, 0, len);
            return;
        }
        sparseRead(slot, lent, len, (slot.flags & NbdProtocol.CMD_FLAG_DF) != 0);
    }

    /**
     * Sends a large read as data and hole chunks, so sparse areas cost no bandwidth; the data from
     * the slot's buffer, or from lent memory at {@code lent} when that is not 0.
     */
    private void sparseRead(Slot slot, long lent, int len, boolean dontFragment) throws IOException {
        synchronized (readExtentsLock) {
            Extents e = readExtents;
            e.clear();
            try {
                device.extents(slot.offset, len, e);
            } catch (IOException ex) {
                e.clear(); // cannot tell holes: send it all as data
            }
            e.truncate(len);
            boolean allHole = e.count() == 1 && (e.flags(0) & Extents.ZERO) != 0 && e.length(0) == len;
            boolean mixed = e.count() > 1 && e.totalLength() == len;
            if (allHole) {
                out.offsetHole(slot.cookie, true, slot.offset, len);
            } else if (!mixed || dontFragment) {
                out.offsetData(slot.cookie, true, slot.offset, slot.buffer, lent, 0, len);
            } else {
                int pos = 0;
                for (int i = 0; i < e.count(); i++) {
                    int n = (int) e.length(i);
                    boolean last = i == e.count() - 1;
                    if ((e.flags(i) & Extents.ZERO) != 0) {
                        out.offsetHole(slot.cookie, last, slot.offset + pos, n);
                    } else {
                        out.offsetData(slot.cookie, last, slot.offset + pos, slot.buffer, lent, pos, n);
                    }
                    pos += n;
                }
            }
        }
    }

    /**
     * Answers BLOCK_STATUS with one chunk per selected meta context: base:allocation first, then
     * the device's maps, the last chunk marked done. Every context is asked before anything is
     * sent, so a failure is one error chunk rather than a reply cut short.
     */
    private void blockStatus(BlockDevice dev, long cookie, int flags, long offset, long length) throws IOException {
        Session s = session;
        boolean one = (flags & NbdProtocol.CMD_FLAG_REQ_ONE) != 0;
        int n = mapExtents.length;
        if (s.baseAllocation()) {
            Extents e = extents;
            e.clear();
            try {
                dev.extents(offset, length, e);
            } catch (IOException ex) {
                blockStatusFailed(dev, cookie, NbdProtocol.BASE_ALLOCATION, offset, length, ex);
                return;
            }
            settle(e, length);
        }
        for (int i = 0; i < n; i++) {
            Extents e = mapExtents[i];
            e.clear();
            String name = s.maps().get(i).name();
            try {
                ((StatusMaps) dev).mapExtents(name, offset, length, e);
            } catch (IOException ex) {
                blockStatusFailed(dev, cookie, name, offset, length, ex);
                return;
            }
            settle(e, length);
        }
        if (s.baseAllocation()) {
            out.blockStatus(cookie, n == 0, NbdProtocol.BASE_ALLOCATION_ID, extents, one ? 1 : extents.count());
        }
        for (int i = 0; i < n; i++) {
            Extents e = mapExtents[i];
            out.blockStatus(cookie, i == n - 1, s.maps().get(i).id(), e, one ? 1 : e.count());
        }
    }

    /** Cuts a block-status answer to the request; a device that reported nothing gets one run of flags 0. */
    private static void settle(Extents e, long length) {
        e.truncate(length);
        if (e.count() == 0) { // for base:allocation, "data", which is always safe
            e.add(length, 0);
        }
    }

    private void blockStatusFailed(BlockDevice dev, long cookie, String context, long offset, long length,
            IOException ex) throws IOException {
        LOG.warn("{}: block status ({}) of {} at {}+{} failed: {}", peer, context, dev.name(), offset, length,
                ex.getMessage());
        out.errorChunk(cookie, Errno.EIO, "block status failed: " + ex.getMessage());
    }

    private void reply(Session s, long cookie, int type, int errno) throws IOException {
        if (s.structuredReplies() && errno != Errno.OK) {
            out.errorChunk(cookie, errno, NbdProtocol.commandName(type) + " failed: " + Errno.name(errno));
        } else {
            out.simple(cookie, errno, null, 0, 0, 0);
        }
    }

    private void refuse(Session s, long size, long cookie, int type, int flags, long offset, long length, int errno)
            throws IOException {
        String why = errno == Errno.ESHUTDOWN
                ? "server is shutting down"
                : RequestCheck.message(s, size, type, flags, offset, length, errno);
        LOG.debug("{}: refused: {}", peer, why);
        if (s.structuredReplies()) {
            out.errorChunk(cookie, errno, why);
        } else {
            out.simple(cookie, errno, null, 0, 0, 0);
        }
    }

    private int takeSlot() throws IOException, InterruptedException {
        slotLock.lock();
        try {
            if (freeCount == 0) {
                slotLock.unlock();
                try {
                    out.flush(); // replies waiting in the cork may be what frees a slot
                } finally {
                    slotLock.lock();
                }
                while (freeCount == 0) {
                    slotFreed.await();
                }
            }
            if (freeCount == slots.length) {
                busyConnections.started();
            }
            return freeSlots[--freeCount];
        } finally {
            slotLock.unlock();
        }
    }

    private void freeSlot(int index) {
        slotLock.lock();
        try {
            freeSlots[freeCount++] = index;
            if (freeCount == slots.length) {
                busyConnections.finished();
                slotFreed.signalAll();
            } else if (freeCount == 1) {
                slotFreed.signal();
            }
        } finally {
            slotLock.unlock();
        }
    }

    /** Waits until every submitted request has completed, so nothing outlives the connection. */
    private void awaitInflight() {
        boolean interrupted = false;
        slotLock.lock();
        try {
            while (freeCount < slots.length) {
                try {
                    slotFreed.await();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        } finally {
            slotLock.unlock();
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}
