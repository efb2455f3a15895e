package ddtree.block.device;

import ddtree.block.Bio;
import ddtree.block.BlockDevice;
import ddtree.block.Capabilities;
import ddtree.block.Errno;
import ddtree.block.Extents;
import ddtree.block.InflightBudget;
import ddtree.block.Op;
import ddtree.block.sys.ErrnoException;
import ddtree.block.sys.MemoryMapping;
import ddtree.block.sys.PosixFile;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A block device over a regular file or a block-device node.
 *
 * <p>Reads and writes go straight between the file and the bio's buffer on the submitting thread:
 * with the page cache in between they finish at memory speed, and handing them to another thread
 * would cost more than it saves. FLUSH ({@code fdatasync}) can take seconds, so it runs on the
 * device's own flush thread; flushes queued together share one {@code fdatasync}.
 *
 * <p>DISCARD punches a hole over the whole 4 KiB blocks inside its range and leaves the partial
 * blocks at its edges as they are: discard is advisory, and rewriting the edges would turn a free
 * hint into a write. WRITE_ZEROES punches (or, with {@link Bio#NO_HOLE}, zero-ranges) the whole
 * blocks and writes zeroes over the edges; when the file system can do neither it writes zeroes,
 * or with {@link Bio#FAST_ZERO} fails with ENOTSUP. The device's last block counts as whole even
 * when the size is not a multiple of 4 KiB.
 *
 * <p>A regular file is also mapped read-only, so that a READ whose owner allows it can be lent
 * the file's own pages ({@link Bio#allowLending()}) instead of a copy: it is, when every page of
 * the range is in the page cache. A page that is not would have the thread sending the reply wait
 * for the disk, and a disk error met while sending could only end the connection; such reads are
 * copied, and a failure is the read's own error.
 */
public final class FileDevice implements BlockDevice {
    /** The unit holes are punched in: the page size, and the block size of common file systems. */
    public static final int HOLE_BLOCK = 4096;

    private static final Logger LOG = LoggerFactory.getLogger(FileDevice.class);
    private static final Bio STOP = new Bio(1);
    /** Longer reads are copied: the residency check's answer has room for this many bytes' pages. */
    private static final long LEND_MAX = 32 << 20;

    private final String name;
    private final Path path;
    private final PosixFile file;
    private final long size;
    private final boolean readOnly;
    /** A regular file may have holes punched past its end, which frees its last partial block. */
    private final boolean regularFile;
    private final InflightBudget budget = InflightBudget.defaults();
    /** Null for a read-only device, whose flushes complete at once. */
    private final Flusher flusher;
    /** Cleared on the first EOPNOTSUPP so later requests go straight to the fallback. */
    private volatile boolean canPunch = true;
    private volatile boolean canZeroRange = true;
    private volatile boolean closed;
    /** The file mapped for lending, or null where it is not mapped. */
    private final MappingHolds mapping;
    /** mincore's answer for the read being lent, one byte per page; guarded by residencyLock. */
    private final MemorySegment residency;
    private final ReentrantLock residencyLock = new ReentrantLock();

    private FileDevice(String name, Path path, PosixFile file, long size, boolean readOnly) {
        this.name = name;
        this.path = path;
        this.file = file;
        this.size = size;
        this.readOnly = readOnly;
        this.regularFile = Files.isRegularFile(path);
        this.mapping = regularFile ? mapped(name, file, size) : null;
        this.residency = mapping == null ? null : Arena.ofAuto().allocate(LEND_MAX / MemoryMapping.PAGE + 2);
        this.flusher = readOnly ? null : new Flusher(budget.maxRequests()); // nothing to flush otherwise
    }

    private static MappingHolds mapped(String name, PosixFile file, long size) {
        if (size <= 0) {
            return null;
        }
        try {
            return new MappingHolds(MemoryMapping.mapFile(file, size), size);
        } catch (ErrnoException e) {
            LOG.info("{}: reads are copied, the file cannot be mapped: {}", name, e.getMessage());
            return null;
        }
    }

    /**
     * Opens {@code path} as a device. A missing file is created sparse with {@code sizeIfCreated}
     * bytes; an existing file or block device keeps its size and {@code sizeIfCreated} is ignored.
     *
     * @param readOnly open read-only: the file must exist, and requests that modify it fail with EPERM
     * @throws IllegalArgumentException if the file had to be created and {@code sizeIfCreated} is not positive
     */
    public static FileDevice open(String name, Path path, long sizeIfCreated, boolean readOnly) throws IOException {
        PosixFile file = PosixFile.open(path, readOnly);
        try {
            if (file.created()) {
                if (sizeIfCreated <= 0) {
                    throw new IllegalArgumentException("cannot create " + path + " for device " + name
                            + ": size (" + sizeIfCreated + ") must be positive");
                }
                file.truncate(sizeIfCreated);
            }
            return new FileDevice(name, path, file, file.size(), readOnly);
        } catch (IOException | RuntimeException e) {
            try {
                file.close();
                if (file.created()) {
                    Files.deleteIfExists(path);
                }
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    @Override
    public String name() {
        return name;
    }

    public Path path() {
        return path;
    }

    @Override
    public long size() {
        return size;
    }

    public boolean readOnly() {
        return readOnly;
    }

    @Override
    public Capabilities capabilities() {
        return Capabilities.ALL;
    }

    @Override
    public InflightBudget budget() {
        return budget;
    }

    /** Bytes of storage the file takes now; holes do not count. */
    public long allocatedBytes() throws IOException {
        return file.allocatedBytes();
    }

    @Override
    public void submit(Bio bio) {
        Op op = bio.op();
        long offset = bio.offset();
        long length = bio.length();
        int status;
        if (closed) {
            status = Errno.ESHUTDOWN;
        } else if (offset > size || length > size - offset) {
            status = Errno.EINVAL; // checked above us too, but a file would silently grow
        } else if (readOnly && op.modifies()) {
            status = Errno.EPERM;
        } else if (op.carriesData() && badBuffer(bio)) {
            status = Errno.EINVAL;
        } else if (op == Op.FLUSH) {
            if (readOnly) {
                status = Errno.OK;
            } else {
                flusher.enqueue(bio);
                return;
            }
        } else {
            status = perform(bio, op, offset, length);
        }
        bio.complete(status);
    }

    private static boolean badBuffer(Bio bio) {
        long capacity = bio.buffer().segment().byteSize();
        return bio.bufferOffset() < 0 || bio.length() > capacity - bio.bufferOffset();
    }

    private int perform(Bio bio, Op op, long offset, long length) {
        try {
            int status = switch (op) {
                case READ -> {
                    if (!(bio.lendingAllowed() && lend(bio, offset, length))) {
                        file.read(bio.buffer().segment(), bio.bufferOffset(), length, offset);
                    }
                    yield Errno.OK;
                }
                case WRITE -> {
                    file.write(bio.buffer().segment(), bio.bufferOffset(), length, offset);
                    yield Errno.OK;
                }
                case DISCARD -> {
                    discard(offset, length);
                    yield Errno.OK;
                }
                case WRITE_ZEROES -> writeZeroes(offset, length, bio.hasFlag(Bio.NO_HOLE), bio.hasFlag(Bio.FAST_ZERO));
                case FLUSH -> throw new IllegalStateException("FLUSH is queued, not performed inline");
            };
            if (status == Errno.OK && op.modifies() && bio.hasFlag(Bio.FUA)) {
                file.dataSync();
            }
            return status;
        } catch (ErrnoException e) {
            LOG.warn("{}: {} failed: {}", name, bio, e.getMessage());
            return e.bioStatus();
        } catch (IOException | RuntimeException e) {
            LOG.error("{}: {} failed", name, bio, e);
            return Errno.EIO;
        }
    }

    /**
     * Lends {@code [offset, offset + length)} of the mapping to {@code bio} if all its pages are
     * in the page cache; false to have it copied. A read racing another one for the residency
     * check is copied rather than made to wait.
     */
    private boolean lend(Bio bio, long offset, long length) {
        if (mapping == null || length > LEND_MAX || !residencyLock.tryLock()) {
            return false;
        }
        try {
            if (closed || !MemoryMapping.resident(mapping.address() + offset, length, residency)) {
                return false;
            }
        } finally {
            residencyLock.unlock();
        }
        if (!mapping.acquire()) {
            return false;
        }
        bio.lend(mapping, mapping.address() + offset);
        return true;
    }

    private void discard(long offset, long length) throws IOException {
        long start = alignUp(offset);
        long end = wholeBlocksEnd(offset + length);
        if (end > start && canPunch && !file.punchHole(start, punchEnd(end) - start)) {
            canPunch = false;
        }
    }

    private int writeZeroes(long offset, long length, boolean noHole, boolean fastZero) throws IOException {
        long end = offset + length;
        long start = alignUp(offset);
        long wholeEnd = wholeBlocksEnd(end);
        if (wholeEnd <= start) { // no whole block inside: a write of less than two blocks
            writeZeroBytes(offset, length);
            return Errno.OK;
        }
        // The middle first, so that a FAST_ZERO refusal leaves the data untouched.
        if (!zeroWholeBlocks(start, wholeEnd - start, noHole)) {
            if (fastZero) {
                return Errno.ENOTSUP;
            }
            writeZeroBytes(start, wholeEnd - start);
        }
        writeZeroBytes(offset, start - offset);
        writeZeroBytes(wholeEnd, end - wholeEnd);
        return Errno.OK;
    }

    /** Zeroes block-aligned {@code [offset, offset+length)} without writing data; false if the file system cannot. */
    private boolean zeroWholeBlocks(long offset, long length, boolean noHole) throws IOException {
        if (!noHole && canPunch) {
            if (file.punchHole(offset, punchEnd(offset + length) - offset)) {
                return true;
            }
            canPunch = false;
        }
        if (canZeroRange) {
            if (file.zeroRange(offset, length)) {
                return true;
            }
            canZeroRange = false;
        }
        return false;
    }

    private void writeZeroBytes(long offset, long length) throws IOException {
        while (length > 0) {
            long n = Math.min(length, Zeroes.SIZE);
            file.write(Zeroes.PAGE, 0, n, offset);
            offset += n;
            length -= n;
        }
    }

    private static long alignUp(long offset) {
        return (offset + HOLE_BLOCK - 1) & -HOLE_BLOCK;
    }

    /** The end of the last whole block before {@code end}; the device's end counts as a block boundary. */
    private long wholeBlocksEnd(long end) {
        return end == size ? end : end & -HOLE_BLOCK;
    }

    /**
     * Where a punch ending at {@code end} should stop: at the device's end, a regular file's
     * last partial block is only freed when the punch runs to the block boundary past it.
     */
    private long punchEnd(long end) {
        return end == size && regularFile ? alignUp(end) : end;
    }

    /** Holes from {@code SEEK_DATA}/{@code SEEK_HOLE}; a file system without them reports all data. */
    @Override
    public void extents(long offset, long length, Extents out) throws IOException {
        long end = Math.min(offset + length, size);
        long pos = offset;
        while (pos < end) {
            long data = file.seekData(pos);
            if (data < 0 || data >= end) {
                out.add(end - pos, Extents.HOLE | Extents.ZERO);
                return;
            }
            if (!out.add(data - pos, Extents.HOLE | Extents.ZERO)) {
                return;
            }
            long hole = file.seekHole(data);
            long dataEnd = hole < 0 ? end : Math.min(hole, end);
            if (!out.add(dataEnd - data, 0)) {
                return;
            }
            pos = dataEnd;
        }
    }

    /**
     * Waits for queued flushes, makes the data durable and closes the file. Closing twice does
     * nothing. Pages lent to reads still being sent stay mapped until they are given back.
     */
    @Override
    public void close() throws IOException {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        try {
            if (!readOnly) {
                flusher.stop();
                file.dataSync();
            }
        } finally {
            try {
                file.close();
            } finally {
                if (mapping != null) {
                    mapping.release();
                }
            }
        }
    }

    @Override
    public String toString() {
        return "FileDevice[" + name + " " + path + " " + size + (readOnly ? " ro]" : "]");
    }

    /**
     * The flush thread: completes every FLUSH waiting when it wakes with one {@code fdatasync}.
     * Flushes wait in a ring guarded by this object's monitor: a monitor wait allocates nothing,
     * where a lock condition's (a blocking queue's) allocates a node each time the thread sleeps.
     */
    private final class Flusher implements Runnable {
        private final Bio[] ring;
        private int head;
        private int count;
        private final Bio[] batch;
        /** Set once this thread has taken STOP; read and written on this thread only. */
        private boolean stopping;
        private final Thread thread;

        Flusher(int capacity) {
            ring = new Bio[capacity];
            batch = new Bio[capacity];
            thread = Thread.ofPlatform().daemon().name("flush-" + name).start(this);
        }

        /** Queues a flush; waits while as many flushes are queued as the device admits in flight. */
        void enqueue(Bio bio) {
            boolean interrupted = false;
            synchronized (this) {
                while (count == ring.length) {
                    try {
                        wait();
                    } catch (InterruptedException e) {
                        interrupted = true; // the bio must not be lost; keep the interrupt for the caller
                    }
                }
                ring[(head + count) % ring.length] = bio;
                count++;
                notifyAll();
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }

        /** Moves what is queued, up to a STOP, into {@link #batch}, and returns how many. */
        private synchronized int takeBatch() {
            while (count == 0) {
                try {
                    wait();
                } catch (InterruptedException e) {
                    // only stop() ends this thread, by queueing STOP
                }
            }
            int n = 0;
            while (count > 0 && !stopping) {
                Bio b = poll();
                if (b == STOP) {
                    stopping = true;
                } else {
                    batch[n++] = b;
                }
            }
            notifyAll(); // room for waiting enqueuers
            return n;
        }

        /** Lock held. */
        private Bio poll() {
            Bio b = ring[head];
            ring[head] = null;
            head = (head + 1) % ring.length;
            count--;
            return b;
        }

        @Override
        public void run() {
            while (!stopping) {
                int n = takeBatch();
                if (n == 0) {
                    continue;
                }
                int status = sync();
                for (int i = 0; i < n; i++) {
                    Bio done = batch[i];
                    batch[i] = null;
                    try {
                        done.complete(status);
                    } catch (RuntimeException e) {
                        LOG.error("{}: completion of {} threw", name, done, e);
                    }
                }
            }
        }

        private int sync() {
            try {
                file.dataSync();
                return Errno.OK;
            } catch (ErrnoException e) {
                LOG.warn("{}: flush failed: {}", name, e.getMessage());
                return e.bioStatus();
            } catch (IOException | RuntimeException e) {
                LOG.error("{}: flush failed", name, e);
                return Errno.EIO;
            }
        }

        /** Lets the flushes queued so far finish, then ends the thread. */
        void stop() {
            enqueue(STOP);
            boolean interrupted = false;
            while (thread.isAlive()) {
                try {
                    thread.join();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
            while (true) {
                Bio late;
                synchronized (this) {
                    if (count == 0) {
                        break;
                    }
                    late = poll();
                }
                late.complete(Errno.ESHUTDOWN); // submitted while closing, against the contract
            }
        }
    }
}
