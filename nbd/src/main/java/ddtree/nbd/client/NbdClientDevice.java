package ddtree.nbd.client;

import ddtree.block.Bio;
import ddtree.block.BlockDevice;
import ddtree.block.BufferPool;
import ddtree.block.Capabilities;
import ddtree.block.Errno;
import ddtree.block.Extents;
import ddtree.block.InflightBudget;
import ddtree.block.Op;
import ddtree.nbd.NbdProtocol;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An export on another NBD server, as a {@link BlockDevice}.
 *
 * <p>Requests go out on one connection with cookie = slot index, from a fixed array of slots, so
 * the request path allocates nothing. A submitter writes its own request when a slot is free and
 * nothing is queued ahead of it; otherwise the bio waits in a queue that the sender thread
 * drains as slots free up. READ and WRITE larger than the server's payload limit, and TRIM and
 * WRITE_ZEROES larger than {@link #ZERO_PIECE}, are split into several wire requests; the bio
 * completes after the last one, with the first error.
 *
 * <p>When the connection drops, nothing fails: requests on the wire are marked to be sent again
 * (a repeated write at the same offset writes the same data; a repeated read reads again), new
 * ones queue, and the supervisor thread reconnects with exponential backoff. Each request waits
 * at most the request timeout from its submission, then fails with EIO. A server that holds a
 * request that long is taken as hung and its connection is dropped, since a request on the wire
 * cannot be failed while a reader might still copy its reply into the bio's buffer. If the server
 * comes back with a different size, smaller limits or fewer capabilities, the device fails for
 * good: it is no longer the disk its users were told about.
 */
public final class NbdClientDevice implements BlockDevice {
    private static final Logger LOG = LoggerFactory.getLogger(NbdClientDevice.class);
    /** TRIM and WRITE_ZEROES carry no payload; this keeps them well inside the 32-bit length. */
    static final long ZERO_PIECE = 1L << 30;
    /** Block-status round trips one {@link #extents} call may make. */
    private static final int MAX_STATUS_ROUNDS = 64;
    private static final long JOIN_MILLIS = 5000;
    private static final long CLOSE_DRAIN_NANOS = TimeUnit.SECONDS.toNanos(5);

    private final String name;
    private final String host;
    private final int port;
    private final String exportName;
    private final String where;
    private final ClientOptions options;
    private final ExportInfo promised;
    private final Capabilities capabilities;
    private final int splitBytes;
    private final long timeoutNanos;
    private final InflightBudget budget = InflightBudget.defaults();

    private final ReentrantLock lock = new ReentrantLock();
    /** The sender waits here for queued work, a free slot, or a connection. */
    private final Condition work = lock.newCondition();
    /** The supervisor waits here for a drop, or its next tick. */
    private final Condition supervise = lock.newCondition();
    /** Block-status callers and close wait here for answers. */
    private final Condition answers = lock.newCondition();

    private final Slot[] slots;
    private final int[] freeSlots;
    private int freeSlotCount;
    private final Tracker[] trackers;
    private final int[] freeTrackers;
    private int freeTrackerCount;
    private final BioQueue queue;
    /** The bio whose pieces the sender is issuing, if any. */
    private Tracker cursor;
    private int resendCount;
    private int sentCount;

    private ConnectionState state = ConnectionState.CONNECTED;
    private Connection conn;
    /** A dropped connection whose reader has not been waited for yet. */
    private Connection dropped;
    private long generation;
    private long nextAttempt;
    private long backoffNanos;
    private int attempts;
    private long reconnects;

    private final Completions supervisorDone = new Completions();
    /** What the connections' readers call back; a separate object keeps these calls off the public API. */
    private final ReplyReader.Requests requests = new ReplyReader.Requests() {
        @Override
        public Slot claim(long cookie, long gen) {
            return NbdClientDevice.this.claim(cookie, gen);
        }

        @Override
        public void answered(Slot slot, long gen, int errno) {
            NbdClientDevice.this.answered(slot, gen, errno);
        }

        @Override
        public void retry(Slot slot, long gen) {
            NbdClientDevice.this.retry(slot, gen);
        }
    };
    private final Thread sender;
    private final Thread supervisor;

    /**
     * Connects to {@code exportName} on {@code host:port} and returns the device once the export
     * is negotiated. The first connection must succeed: the size is learned from it.
     *
     * @throws IOException naming the server and export when it cannot be reached or refuses
     */
    public static NbdClientDevice connect(String name, String host, int port, String exportName,
            ClientOptions options) throws IOException {
        if (host == null || host.isBlank()) {
            throw new IllegalArgumentException("host '" + host + "' is empty");
        }
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("port " + port + " is not between 1 and 65535");
        }
        if (exportName.getBytes(StandardCharsets.UTF_8).length > NbdProtocol.MAX_STRING) {
            throw new IllegalArgumentException("export name is longer than " + NbdProtocol.MAX_STRING + " bytes");
        }
        return new NbdClientDevice(name, host, port, exportName, options);
    }

    private NbdClientDevice(String name, String host, int port, String exportName, ClientOptions options)
            throws IOException {
        this.name = name;
        this.host = host;
        this.port = port;
        this.exportName = exportName;
        this.options = options;
        this.where = "nbd://" + host + ":" + port + "/" + exportName;
        this.timeoutNanos = options.requestTimeout().toNanos();
        int n = options.maxInflight();
        slots = new Slot[n];
        freeSlots = new int[n];
        for (int i = 0; i < n; i++) {
            slots[i] = new Slot(i);
            freeSlots[i] = n - 1 - i;
        }
        freeSlotCount = n;
        // Every tracker but the sender's cursor holds a slot, except block-status trackers whose
        // callers have not yet woken: twice the slots covers both.
        int t = 2 * n + 1;
        trackers = new Tracker[t];
        freeTrackers = new int[t];
        for (int i = 0; i < t; i++) {
            trackers[i] = new Tracker(i);
            freeTrackers[i] = t - 1 - i;
        }
        freeTrackerCount = t;
        queue = new BioQueue(2 * n);

        generation = 1;
        Connection first = Connection.open(host, port, exportName, connectMillis(), generation, requests, where);
        ExportInfo info = first.info;
        if (info.size() < 0) {
            first.close();
            throw new IOException(where + " reported size " + info.size());
        }
        this.promised = info;
        this.capabilities = info.capabilities();
        int limit = Math.min(info.maxPayload(), BufferPool.MAX_BUFFER);
        if (options.maxRequestBytes() > 0) {
            limit = Math.min(limit, options.maxRequestBytes());
        }
        if (limit < info.minBlock()) {
            first.close();
            throw new IOException(where + " allows payloads of " + info.maxPayload() + " bytes, below its block size "
                    + info.minBlock());
        }
        this.splitBytes = Integer.highestOneBit(limit);
        lock.lock();
        try {
            conn = first;
            first.start(readerName(first), this::connectionLost);
        } finally {
            lock.unlock();
        }
        sender = Thread.ofPlatform().name("nbd-client-send " + name).daemon(true).start(this::sendLoop);
        supervisor = Thread.ofPlatform().name("nbd-client " + name).daemon(true).start(this::superviseLoop);
        LOG.info("{}: connected to {}: {} bytes, flags 0x{}, block {}/{}/{}{}{}", name, where, info.size(),
                Integer.toHexString(info.transmissionFlags()), info.minBlock(), info.preferredBlock(),
                info.maxPayload(), info.structuredReplies() ? ", structured replies" : "",
                info.baseAllocation() ? ", base:allocation" : "");
    }

    private int connectMillis() {
        return (int) Math.min(Integer.MAX_VALUE, Math.max(1, options.connectTimeout().toMillis()));
    }

    private String readerName(Connection c) {
        return "nbd-client-read " + name + " #" + c.generation;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public long size() {
        return promised.size();
    }

    /** The server's minimum block size, but never below the conventional sector. */
    @Override
    public int logicalBlockSize() {
        return Math.max(512, promised.minBlock());
    }

    @Override
    public Capabilities capabilities() {
        return capabilities;
    }

    @Override
    public InflightBudget budget() {
        return budget;
    }

    public boolean readOnly() {
        return promised.readOnly();
    }

    /** "host:port" as given. */
    public String remote() {
        return host + ":" + port;
    }

    public String exportName() {
        return exportName;
    }

    /** Largest READ or WRITE sent as one request. */
    public int splitBytes() {
        return splitBytes;
    }

    public ConnectionState state() {
        lock.lock();
        try {
            return state;
        } finally {
            lock.unlock();
        }
    }

    /** How many times the connection has been made again after a drop. */
    public long reconnects() {
        lock.lock();
        try {
            return reconnects;
        } finally {
            lock.unlock();
        }
    }

    // ---- submission -------------------------------------------------------------------------

    @Override
    public void submit(Bio bio) {
        int refusal = check(bio);
        if (refusal >= 0) {
            bio.complete(refusal);
            return;
        }
        long deadline = System.nanoTime() + timeoutNanos;
        Connection c = null;
        int flags = 0;
        int command = 0;
        int cookie = 0;
        long offset = 0;
        long length = 0;
        MemorySegment data = null;
        long dataOffset = 0;
        int closedStatus = -1;
        lock.lock();
        try {
            if (state == ConnectionState.CLOSED || state == ConnectionState.FAILED) {
                closedStatus = state == ConnectionState.CLOSED ? Errno.ESHUTDOWN : Errno.EIO;
            } else if (state == ConnectionState.CONNECTED && queue.isEmpty() && cursor == null && resendCount == 0
                    && freeSlotCount > 0 && freeTrackerCount > 0 && pieceLimit(bio) >= bio.length()
                    && !conn.isReader(Thread.currentThread())) {
                // The fast path: a slot is free and nobody is ahead, so write it from this thread.
                // Never from our own reader, which must keep reading replies or nothing frees.
                Tracker t = takeTracker();
                startTracker(t, bio, deadline);
                Slot s = takeSlot();
                issuePiece(t, s);
                c = conn;
                flags = s.commandFlags;
                command = s.command;
                cookie = s.index;
                offset = s.offset;
                length = s.command == NbdProtocol.CMD_FLUSH ? 0 : s.length;
                data = s.command == NbdProtocol.CMD_WRITE ? s.data : null;
                dataOffset = s.dataOffset;
            } else {
                queue.add(bio, deadline);
                work.signal();
            }
        } finally {
            lock.unlock();
        }
        if (closedStatus >= 0) {
            bio.complete(closedStatus);
        } else if (c != null) {
            write(c, flags, command, cookie, offset, length, data, dataOffset);
        }
    }

    /** The errno to refuse {@code bio} with at once, OK to complete it at once, or -1 to send it. */
    private int check(Bio bio) {
        Op op = bio.op();
        if (op == Op.FLUSH) {
            return capabilities.flush() ? -1 : Errno.OK; // no volatile cache to flush
        }
        if (bio.offset() > promised.size() || bio.length() > promised.size() - bio.offset()) {
            return op.modifies() ? Errno.ENOSPC : Errno.EINVAL;
        }
        if (op.modifies() && promised.readOnly()) {
            return Errno.EPERM;
        }
        if (op == Op.DISCARD && !capabilities.discard()) {
            return Errno.ENOTSUP;
        }
        if (op == Op.WRITE_ZEROES
                && (!capabilities.writeZeroes() || (bio.hasFlag(Bio.FAST_ZERO) && !capabilities.fastZero()))) {
            return Errno.ENOTSUP; // FAST_ZERO asks to fail rather than risk a slow zeroing
        }
        if (bio.length() == 0) {
            return Errno.OK; // NBD refuses zero-length requests; there is nothing to do
        }
        return -1;
    }

    private long pieceLimit(Bio bio) {
        return switch (bio.op()) {
            case READ, WRITE -> splitBytes;
            case FLUSH -> Long.MAX_VALUE;
            default -> ZERO_PIECE;
        };
    }

    private static int command(Op op) {
        return switch (op) {
            case READ -> NbdProtocol.CMD_READ;
            case WRITE -> NbdProtocol.CMD_WRITE;
            case FLUSH -> NbdProtocol.CMD_FLUSH;
            case DISCARD -> NbdProtocol.CMD_TRIM;
            case WRITE_ZEROES -> NbdProtocol.CMD_WRITE_ZEROES;
        };
    }

    private int commandFlags(Bio bio) {
        int f = 0;
        if (bio.hasFlag(Bio.FUA) && bio.op().modifies() && capabilities.fua()) {
            f |= NbdProtocol.CMD_FLAG_FUA;
        }
        if (bio.op() == Op.WRITE_ZEROES) {
            if (bio.hasFlag(Bio.NO_HOLE)) {
                f |= NbdProtocol.CMD_FLAG_NO_HOLE;
            }
            if (bio.hasFlag(Bio.FAST_ZERO)) {
                f |= NbdProtocol.CMD_FLAG_FAST_ZERO;
            }
        }
        return f;
    }

    /** Lock held. */
    private void startTracker(Tracker t, Bio bio, long deadline) {
        if (bio.op() == Op.FLUSH) {
            t.start(bio, 0, 1, deadline); // one piece, offset and length 0 on the wire
        } else {
            t.start(bio, bio.offset(), bio.offset() + bio.length(), deadline);
        }
    }

    /** Fills {@code s} with the next piece of {@code t} and marks it sent on the current connection. Lock held. */
    private void issuePiece(Tracker t, Slot s) {
        Bio bio = t.bio;
        s.tracker = t;
        s.command = command(bio.op());
        s.commandFlags = commandFlags(bio);
        s.extents = null;
        if (bio.op() == Op.FLUSH) {
            s.offset = 0;
            s.length = 0;
            s.data = null;
            t.next = t.end;
        } else {
            long n = Math.min(t.end - t.next, pieceLimit(bio));
            s.offset = t.next;
            s.length = n;
            if (bio.op().carriesData()) {
                s.data = bio.buffer().segment();
                s.dataOffset = bio.bufferOffset() + (t.next - bio.offset());
            } else {
                s.data = null;
            }
            t.next += n;
        }
        t.pending++;
        if (!t.issuing()) {
            t.pending--; // the issuing reference: every piece is out
        }
        markSent(s);
    }

    private void markSent(Slot s) {
        s.resetReply();
        s.state = Slot.SENT;
        s.generation = generation;
        sentCount++;
    }

    /** Writes one request; a failure drops the connection, and the request goes again on the next. */
    private void write(Connection c, int flags, int command, int cookie, long offset, long length,
            MemorySegment data, long dataOffset) {
        c.writer.lock();
        try {
            c.writer.request(flags, command, cookie, offset, length, data, dataOffset);
            c.writer.flush();
        } catch (IOException e) {
            connectionLost(c, e);
        } catch (RuntimeException e) {
            // A bug must not kill the sender and strand every queued request; the request goes
            // again on a new connection and fails by its deadline if the bug repeats.
            LOG.error("{}: writing a request to {} failed", name, where, e);
            connectionLost(c, e);
        } finally {
            c.writer.unlock();
        }
    }

    /** Drains the queue and resends after reconnects, one request at a time, as slots allow. */
    private void sendLoop() {
        while (true) {
            Connection c;
            int flags;
            int command;
            int cookie;
            long offset;
            long length;
            MemorySegment data;
            long dataOffset;
            lock.lock();
            try {
                Slot s;
                while ((s = nextToSend()) == null) {
                    if (state == ConnectionState.CLOSED) {
                        return;
                    }
                    work.await();
                }
                c = conn;
                flags = s.commandFlags;
                command = s.command;
                cookie = s.index;
                offset = s.offset;
                length = s.command == NbdProtocol.CMD_FLUSH ? 0 : s.length;
                data = s.command == NbdProtocol.CMD_WRITE ? s.data : null;
                dataOffset = s.dataOffset;
            } catch (InterruptedException e) {
                return;
            } finally {
                lock.unlock();
            }
            write(c, flags, command, cookie, offset, length, data, dataOffset);
        }
    }

    /** The next slot to write on the current connection, marked sent; null when there is none. Lock held. */
    private Slot nextToSend() {
        if (state != ConnectionState.CONNECTED) {
            return null;
        }
        if (resendCount > 0) {
            for (Slot s : slots) {
                if (s.state == Slot.RESEND) {
                    resendCount--;
                    if (s.extents != null) {
                        s.extents.truncate(s.extentsMark); // forget what the dropped connection added
                    }
                    markSent(s);
                    return s;
                }
            }
            throw new IllegalStateException(resendCount + " slots to resend, none found");
        }
        if (cursor == null && !queue.isEmpty() && freeTrackerCount > 0) {
            long deadline = queue.peekDeadline();
            Tracker t = takeTracker();
            startTracker(t, queue.poll(), deadline);
            cursor = t;
        }
        if (cursor != null && freeSlotCount > 0) {
            Tracker t = cursor;
            Slot s = takeSlot();
            issuePiece(t, s);
            if (!t.issuing()) {
                cursor = null;
            }
            return s;
        }
        return null;
    }

    // ---- replies (called by the reader thread of the connection named by generation) ---------

    private Slot claim(long cookie, long gen) {
        if (cookie < 0 || cookie >= slots.length) {
            return null;
        }
        lock.lock();
        try {
            Slot s = slots[(int) cookie];
            return s.state == Slot.SENT && s.generation == gen ? s : null;
        } finally {
            lock.unlock();
        }
    }

    private void answered(Slot s, long gen, int errno) {
        Bio done = null;
        int status = 0;
        lock.lock();
        try {
            if (s.state != Slot.SENT || s.generation != gen) {
                return;
            }
            Tracker t = s.tracker;
            t.fail(errno);
            sentCount--;
            freeSlot(s);
            if (--t.pending == 0) {
                done = t.bio;
                status = t.status;
                finish(t);
            }
        } finally {
            lock.unlock();
        }
        if (done != null) {
            done.complete(status);
        }
    }

    private void retry(Slot s, long gen) {
        lock.lock();
        try {
            if (s.state == Slot.SENT && s.generation == gen) {
                s.state = Slot.RESEND;
                sentCount--;
                resendCount++;
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * The tracker has no piece left. A bio's tracker is free again (the caller completes the bio
     * after unlocking); a block-status tracker is marked done for its waiting caller. Lock held.
     */
    private void finish(Tracker t) {
        if (t.bio != null) {
            freeTracker(t);
            return;
        }
        t.done = true;
        if (t.abandoned) {
            freeTracker(t);
        }
        answers.signalAll();
    }

    // ---- connection loss and reconnects -----------------------------------------------------

    /** {@code c} failed (read, write or timeout); the first report of it starts reconnecting. */
    private void connectionLost(Connection c, Throwable cause) {
        boolean first;
        lock.lock();
        try {
            first = c == conn && state == ConnectionState.CONNECTED;
            if (first) {
                state = ConnectionState.RECONNECTING;
                conn = null;
                dropped = c;
                for (Slot s : slots) {
                    if (s.state == Slot.SENT && s.generation == c.generation) {
                        s.state = Slot.RESEND;
                        sentCount--;
                        resendCount++;
                    }
                }
                attempts = 0;
                backoffNanos = options.reconnectMin().toNanos();
                nextAttempt = System.nanoTime() + backoffNanos;
                supervise.signalAll();
            }
        } finally {
            lock.unlock();
        }
        c.close();
        if (first) {
            String why = cause.getMessage() == null ? cause.toString() : cause.getMessage();
            LOG.warn("{}: connection to {} lost ({}); requests wait while it reconnects", name, where, why);
            emit("disconnected: " + why);
        }
    }

    private void superviseLoop() {
        long tick = Math.clamp(timeoutNanos / 8, TimeUnit.MILLISECONDS.toNanos(10), TimeUnit.MILLISECONDS.toNanos(250));
        while (true) {
            Connection hung = null;
            Connection join = null;
            boolean attempt = false;
            lock.lock();
            try {
                if (state == ConnectionState.CLOSED) {
                    return;
                }
                long now = System.nanoTime();
                if (dropped != null) {
                    // First wait for the reader of the dropped connection: until it has ended it
                    // may still copy a reply into a buffer, so none of its requests may be failed.
                    join = dropped;
                } else {
                    hung = expire(now);
                }
                if (join == null && hung == null) {
                    if (state == ConnectionState.RECONNECTING && now - nextAttempt >= 0) {
                        attempt = true;
                    } else {
                        long wait = tick;
                        if (state == ConnectionState.RECONNECTING) {
                            wait = Math.min(wait, nextAttempt - now);
                        }
                        supervise.awaitNanos(Math.max(wait, 1));
                    }
                }
            } catch (InterruptedException e) {
                return;
            } finally {
                lock.unlock();
            }
            supervisorDone.run();
            if (join != null) {
                if (!join.join(JOIN_MILLIS)) {
                    LOG.warn("{}: reader of the dropped connection to {} is still running", name, where);
                }
                lock.lock();
                try {
                    if (dropped == join) {
                        dropped = null;
                    }
                } finally {
                    lock.unlock();
                }
            } else if (hung != null) {
                connectionLost(hung, new IOException("a request got no answer within "
                        + options.requestTimeout().toMillis() + " ms"));
            } else if (attempt) {
                reconnect();
            }
        }
    }

    /**
     * Fails with EIO what has waited past its deadline: queued bios, the rest of the bio being
     * split, and requests waiting to be resent. Returns the connection to drop when a request on
     * it is overdue. Lock held; bios go to {@link #supervisorDone}.
     */
    private Connection expire(long now) {
        while (!queue.isEmpty() && now - queue.peekDeadline() >= 0) {
            supervisorDone.add(queue.poll(), Errno.EIO);
        }
        if (cursor != null && now - cursor.deadline >= 0) {
            Tracker t = cursor;
            cursor = null;
            t.fail(Errno.EIO);
            t.next = t.end;
            if (--t.pending == 0) {
                completeTracker(t);
            }
        }
        Connection overdue = null;
        for (Slot s : slots) {
            if (s.state == Slot.FREE || now - s.tracker.deadline < 0) {
                continue;
            }
            if (s.state == Slot.SENT) {
                overdue = conn; // only the current connection has SENT slots
                continue;
            }
            Tracker t = s.tracker;
            resendCount--;
            freeSlot(s);
            t.fail(Errno.EIO);
            if (--t.pending == 0) {
                completeTracker(t);
            }
        }
        return overdue;
    }

    /** Lock held; a bio goes to {@link #supervisorDone}. */
    private void completeTracker(Tracker t) {
        if (t.bio != null) {
            supervisorDone.add(t.bio, t.status);
        }
        finish(t);
    }

    private void reconnect() {
        long gen;
        lock.lock();
        try {
            if (state != ConnectionState.RECONNECTING) {
                return;
            }
            gen = ++generation;
            attempts++;
        } finally {
            lock.unlock();
        }
        Connection c;
        try {
            c = Connection.open(host, port, exportName, connectMillis(), gen, requests, where);
        } catch (IOException e) {
            int n;
            lock.lock();
            try {
                n = attempts;
                backoffNanos = Math.min(backoffNanos * 2, options.reconnectMax().toNanos());
                nextAttempt = System.nanoTime() + backoffNanos;
            } finally {
                lock.unlock();
            }
            if (n == 1 || n % 10 == 0) {
                LOG.warn("{}: reconnect attempt {} failed: {}", name, n, e.getMessage());
            } else {
                LOG.debug("{}: reconnect attempt {} failed: {}", name, n, e.getMessage());
            }
            return;
        }
        String incompatible = promised.incompatibility(c.info, splitBytes);
        if (incompatible != null) {
            c.disconnect();
            c.close();
            failForGood(where + " came back changed: " + incompatible);
            return;
        }
        int n;
        lock.lock();
        try {
            if (state != ConnectionState.RECONNECTING) { // closed meanwhile
                c.close();
                return;
            }
            conn = c;
            state = ConnectionState.CONNECTED;
            n = attempts;
            reconnects++;
            c.start(readerName(c), this::connectionLost);
            work.signalAll();
            answers.signalAll();
        } finally {
            lock.unlock();
        }
        LOG.info("{}: reconnected to {} after {} attempt(s)", name, where, n);
        emit("reconnected to " + remote() + " after " + n + " attempt(s)");
    }

    /** The server came back as a different disk: fail everything waiting, and all that comes. */
    private void failForGood(String why) {
        lock.lock();
        try {
            if (state != ConnectionState.RECONNECTING) {
                return;
            }
            state = ConnectionState.FAILED;
            failAll(Errno.EIO, supervisorDone);
            work.signalAll();
            answers.signalAll();
        } finally {
            lock.unlock();
        }
        // The event goes out before the requests fail, so whoever watches sees why they failed.
        LOG.error("{}: {}; the device fails all requests from now on", name, why);
        emit("failed: " + why);
        supervisorDone.run();
    }

    /**
     * Fails queued, partly issued and to-be-resent requests, and those sent on a connection that
     * is gone. Only once no reader is left that could still touch their buffers. Lock held.
     */
    private void failAll(int errno, Completions out) {
        failWaiting(errno, out);
        for (Slot s : slots) {
            if (s.state == Slot.RESEND || (s.state == Slot.SENT && conn == null)) {
                Tracker t = s.tracker;
                if (s.state == Slot.RESEND) {
                    resendCount--;
                } else {
                    sentCount--;
                }
                freeSlot(s);
                t.fail(errno);
                if (--t.pending == 0) {
                    if (t.bio != null) {
                        out.add(t.bio, t.status);
                    }
                    finish(t);
                }
            }
        }
    }

    /** Fails the queue and what the sender has yet to issue of the bio it is splitting. Lock held. */
    private void failWaiting(int errno, Completions out) {
        Bio b;
        while ((b = queue.poll()) != null) {
            out.add(b, errno);
        }
        if (cursor != null) {
            Tracker t = cursor;
            cursor = null;
            t.fail(errno);
            t.next = t.end;
            if (--t.pending == 0) {
                if (t.bio != null) {
                    out.add(t.bio, t.status);
                }
                finish(t);
            }
        }
    }

    private void emit(String event) {
        try {
            options.events().accept(event);
        } catch (RuntimeException e) {
            LOG.warn("{}: event listener failed on '{}'", name, event, e);
        }
    }

    // ---- block status -----------------------------------------------------------------------

    /**
     * {@code base:allocation} from the server, one BLOCK_STATUS round trip per stretch the server
     * describes. Without the context (or on our own reader thread, which must not wait for a
     * reply) the range is reported as data, which is always safe.
     */
    @Override
    public void extents(long offset, long length, Extents out) throws IOException {
        if (!capabilities.extents() || length <= 0) {
            out.add(length, 0);
            return;
        }
        Connection c0 = conn;
        if (c0 != null && c0.isReader(Thread.currentThread())) {
            out.add(length, 0);
            return;
        }
        long start = out.totalLength();
        long deadline = System.nanoTime() + timeoutNanos;
        long pos = offset;
        long end = offset + length;
        for (int round = 0; round < MAX_STATUS_ROUNDS && pos < end && !out.full(); round++) {
            long before = out.totalLength();
            long n = Math.min(end - pos, ZERO_PIECE);
            int status = blockStatus(pos, n, out, deadline);
            if (status != Errno.OK) {
                throw new IOException(where + ": block status at " + pos + "+" + n + " failed with "
                        + Errno.name(status));
            }
            out.truncate(before + n); // a server may describe past what was asked
            long got = out.totalLength() - before;
            if (got <= 0) {
                break;
            }
            pos += got;
        }
        out.truncate(start + length);
    }

    /** One BLOCK_STATUS request; its errno once answered. */
    private int blockStatus(long offset, long length, Extents out, long deadline) throws IOException {
        Tracker t;
        Connection c;
        int cookie;
        lock.lock();
        try {
            while (true) {
                if (state == ConnectionState.CLOSED) {
                    return Errno.ESHUTDOWN;
                }
                if (state == ConnectionState.FAILED) {
                    return Errno.EIO;
                }
                if (state == ConnectionState.CONNECTED && resendCount == 0 && freeSlotCount > 0
                        && freeTrackerCount > 0) {
                    break;
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return Errno.EIO;
                }
                // Short waits: the end of a resend after a reconnect is not signalled here.
                answers.awaitNanos(Math.min(left, TimeUnit.MILLISECONDS.toNanos(10)));
            }
            t = takeTracker();
            t.start(null, offset, offset + length, deadline);
            t.next = t.end;
            Slot s = takeSlot();
            s.tracker = t;
            s.command = NbdProtocol.CMD_BLOCK_STATUS;
            s.commandFlags = 0;
            s.offset = offset;
            s.length = length;
            s.data = null;
            s.extents = out;
            s.extentsMark = out.totalLength();
            markSent(s);
            c = conn;
            cookie = s.index;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted waiting to ask " + where + " for block status", e);
        } finally {
            lock.unlock();
        }
        write(c, 0, NbdProtocol.CMD_BLOCK_STATUS, cookie, offset, length, null, 0);
        lock.lock();
        try {
            // The supervisor fails the request by its deadline; the margin covers its tick and a
            // reconnect's wait for the old reader.
            long giveUp = deadline + TimeUnit.MILLISECONDS.toNanos(JOIN_MILLIS + 1000);
            while (!t.done) {
                long left = giveUp - System.nanoTime();
                if (left <= 0) {
                    t.abandoned = true; // freed when its answer or failure comes
                    throw new IOException(where + ": no block status answer in time");
                }
                answers.awaitNanos(left);
            }
            int status = t.status;
            freeTracker(t);
            return status;
        } catch (InterruptedException e) {
            t.abandoned = true;
            Thread.currentThread().interrupt();
            throw new IOException("interrupted waiting for block status from " + where, e);
        } finally {
            lock.unlock();
        }
    }

    // ---- slots and trackers (lock held) -----------------------------------------------------

    private Slot takeSlot() {
        return slots[freeSlots[--freeSlotCount]];
    }

    private void freeSlot(Slot s) {
        s.clear();
        freeSlots[freeSlotCount++] = s.index;
        if (cursor != null || !queue.isEmpty()) {
            work.signal(); // only then has the sender a use for the slot; waking it for nothing costs a context switch
        }
        if (freeSlotCount == 1) {
            answers.signalAll(); // a block-status caller may be waiting for a slot
        }
    }

    private Tracker takeTracker() {
        Tracker t = trackers[freeTrackers[--freeTrackerCount]];
        t.abandoned = false;
        return t;
    }

    private void freeTracker(Tracker t) {
        t.bio = null;
        freeTrackers[freeTrackerCount++] = t.index;
        if (!queue.isEmpty()) {
            work.signal();
        }
    }

    // ---- close ------------------------------------------------------------------------------

    /**
     * Stops reconnecting and fails what is waiting with ESHUTDOWN; requests on the wire get up to
     * five seconds to be answered, then NBD_CMD_DISC goes out and the socket closes.
     */
    @Override
    public void close() {
        Completions done = new Completions();
        Connection c;
        lock.lock();
        try {
            if (state == ConnectionState.CLOSED) {
                return;
            }
            state = ConnectionState.CLOSED;
            c = conn;
            failWaiting(Errno.ESHUTDOWN, done);
            work.signalAll();
            supervise.signalAll();
            answers.signalAll();
            long until = System.nanoTime() + CLOSE_DRAIN_NANOS;
            while (c != null && sentCount > 0) {
                long left = until - System.nanoTime();
                if (left <= 0) {
                    break;
                }
                answers.awaitNanos(Math.min(left, TimeUnit.MILLISECONDS.toNanos(10)));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            c = conn;
        } finally {
            lock.unlock();
        }
        done.run();
        if (c != null) {
            c.disconnect();
            c.close();
        }
        join(sender);
        join(supervisor); // it may be waiting for a dropped connection's reader
        Connection old;
        lock.lock();
        try {
            old = dropped;
            dropped = null;
        } finally {
            lock.unlock();
        }
        if (c != null) {
            c.join(JOIN_MILLIS);
        }
        if (old != null) {
            old.join(JOIN_MILLIS);
        }
        lock.lock();
        try {
            conn = null;
            failAll(Errno.ESHUTDOWN, done); // what the server never answered
        } finally {
            lock.unlock();
        }
        done.run();
        LOG.info("{}: closed connection to {}", name, where);
    }

    private static void join(Thread t) {
        try {
            t.join(JOIN_MILLIS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public String toString() {
        return "nbd " + name + " -> " + where;
    }
}
