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
import ddtree.block.sys.NativeMemory;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.StampedLock;

/**
 * A sparse device in memory. All of it lies in one private anonymous mapping reserved when the
 * device is made; the kernel supplies a page when it is first written, and DISCARD and
 * WRITE_ZEROES hand the {@link #PAGE_SIZE} pages they cover whole back to it
 * ({@code MADV_DONTNEED}). A page never written reads as zeroes and takes no memory.
 *
 * <p>DISCARD and WRITE_ZEROES free the pages they cover whole and zero the parts of pages they
 * cover in part, so a discarded range reads back as zeroes. With {@link Bio#NO_HOLE},
 * WRITE_ZEROES zeroes in place instead. Zeroing memory is always fast, so {@link Bio#FAST_ZERO}
 * never fails. Out of memory is the machine's, as for any process that writes to memory it has
 * mapped; the mapping is made without reserve so that a large sparse device costs nothing until
 * written.
 *
 * <p>One bit per page says whether the page holds data, for block status. Writers set it and
 * copy under the read side of one of {@link #STRIPES} locks; freeing a page clears it and returns
 * the memory under the write side, so block status never calls a page written since it was freed
 * a hole. A request holds at most one lock at a time, so requests cannot deadlock each other.
 *
 * <p>A READ that allows it ({@link Bio#allowLending()}) is answered with the mapping's own
 * address for the range, no copy made: the reply goes to the socket from where the data lies. The
 * mapping stays until the device is closed and every loan given back.
 */
public final class RamDevice implements BlockDevice {
    public static final int PAGE_SIZE = 64 << 10;
    private static final int PAGE_SHIFT = Integer.numberOfTrailingZeros(PAGE_SIZE);
    private static final long PAGE_MASK = PAGE_SIZE - 1;
    /** Lock stripes; consecutive pages use different stripes so sequential I/O spreads out. */
    static final int STRIPES = 256;
    private static final MemorySegment MEMORY = NativeMemory.ALL;

    /**
     * Flush and FUA are advertised and complete at once, as nbdkit's memory plugin does: once a
     * write completes it is as durable as RAM ever gets, so there is nothing to wait for. Saying
     * "no flush" would tell clients the device has no volatile cache to manage, which is true only
     * in the narrow sense; stacked targets (ramback, raid) forward flushes and expect every
     * device below them to accept one.
     */
    private static final Capabilities CAPABILITIES = Capabilities.ALL;

    private final String name;
    private final long size;
    private final long base;
    private final long mappedBytes;
    /** One bit per page: set once written, clear when never written or freed since. */
    private final AtomicLongArray written;
    private final StampedLock[] locks = new StampedLock[STRIPES];
    private final AtomicLong allocatedBytes = new AtomicLong();
    private final InflightBudget budget = InflightBudget.defaults();
    private final MappingHolds mapping;
    private volatile boolean closed;

    static {
        if (Zeroes.SIZE < PAGE_SIZE) {
            throw new AssertionError("zero page smaller than a RAM page");
        }
    }

    /**
     * @param size the device size in bytes; any positive value, not only multiples of a page
     * @throws IllegalArgumentException if size is not positive, needs more pages than an array
     *     holds, or is more address space than the kernel will map
     */
    public RamDevice(String name, long size) {
        long pages = size <= 0 ? -1 : (size + PAGE_MASK) >>> PAGE_SHIFT;
        if (pages <= 0 || pages > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("RAM device " + name + " size (" + size
                    + ") must be positive and at most " + ((long) (Integer.MAX_VALUE - 8) << PAGE_SHIFT));
        }
        this.name = name;
        this.size = size;
        this.mappedBytes = pages << PAGE_SHIFT;
        try {
            this.base = MemoryMapping.reserve(mappedBytes);
        } catch (ErrnoException e) {
            throw new IllegalArgumentException("RAM device " + name + " of " + size + " bytes: " + e.getMessage(), e);
        }
        this.mapping = new MappingHolds(base, mappedBytes);
        this.written = new AtomicLongArray((int) ((pages + 63) >>> 6));
        for (int i = 0; i < STRIPES; i++) {
            locks[i] = new StampedLock();
        }
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public Capabilities capabilities() {
        return CAPABILITIES;
    }

    @Override
    public InflightBudget budget() {
        return budget;
    }

    /** Bytes of memory the device's pages take now. */
    public long allocatedBytes() {
        return allocatedBytes.get();
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
            status = Errno.EINVAL; // checked above us too, but here a bad range would corrupt memory
        } else {
            status = switch (op) {
                case READ -> badBuffer(bio) ? Errno.EINVAL
                        : bio.lendingAllowed() ? lend(bio) : read(bio.buffer().segment(), bio.bufferOffset(), offset, length);
                case WRITE -> badBuffer(bio) ? Errno.EINVAL : write(bio.buffer().segment(), bio.bufferOffset(), offset, length);
                case FLUSH -> Errno.OK;
                case DISCARD -> release(offset, length);
                case WRITE_ZEROES -> bio.hasFlag(Bio.NO_HOLE) ? zeroAllocated(offset, length) : release(offset, length);
            };
        }
        bio.complete(status);
    }

    private static boolean badBuffer(Bio bio) {
        long capacity = bio.buffer().segment().byteSize();
        return bio.bufferOffset() < 0 || bio.length() > capacity - bio.bufferOffset();
    }

    private StampedLock lockOf(int page) {
        return locks[page & (STRIPES - 1)];
    }

    private boolean isWritten(int page) {
        return (written.get(page >>> 6) & (1L << page)) != 0;
    }

    /**
     * Sets a page's written bit to {@code value}; true if that changed it, so the caller counts
     * the page's memory in or out.
     */
    private boolean markWritten(int page, boolean value) {
        int i = page >>> 6;
        long bit = 1L << page;
        long w;
        do {
            w = written.get(i);
            if (((w & bit) != 0) == value) {
                return false;
            }
        } while (!written.compareAndSet(i, w, w ^ bit));
        return true;
    }

    /** Answers a READ with the range's own address; ESHUTDOWN once the mapping is going away. */
    private int lend(Bio bio) {
        if (closed || !mapping.acquire()) {
            return Errno.ESHUTDOWN;
        }
        bio.lend(mapping, base + bio.offset());
        return Errno.OK;
    }

    private int read(MemorySegment dst, long dstOffset, long offset, long length) {
        long end = offset + length;
        while (offset < end) {
            int page = (int) (offset >>> PAGE_SHIFT);
            long inPage = offset & PAGE_MASK;
            long n = Math.min(PAGE_SIZE - inPage, end - offset);
            StampedLock lock = lockOf(page);
            long stamp = lock.readLock();
            try {
                if (closed) {
                    return Errno.ESHUTDOWN;
                }
                if (isWritten(page)) {
                    NativeMemory.copy(MEMORY, base + offset, dst, dstOffset, n);
                } else {
                    MemorySegment.copy(Zeroes.PAGE, 0, dst, dstOffset, n); // leaves the mapping untouched
                }
            } finally {
                lock.unlockRead(stamp);
            }
            offset += n;
            dstOffset += n;
        }
        return Errno.OK;
    }

    private int write(MemorySegment src, long srcOffset, long offset, long length) {
        return store(src, srcOffset, offset, length);
    }

    /** WRITE_ZEROES with NO_HOLE: the range stays (or becomes) allocated. */
    private int zeroAllocated(long offset, long length) {
        return store(null, 0, offset, length);
    }

    /**
     * Copies {@code length} bytes into the device at {@code offset}, marking pages written; from
     * {@code src} at {@code srcOffset}, or zeroes when {@code src} is null.
     */
    private int store(MemorySegment src, long srcOffset, long offset, long length) {
        long end = offset + length;
        while (offset < end) {
            int page = (int) (offset >>> PAGE_SHIFT);
            long inPage = offset & PAGE_MASK;
            long n = Math.min(PAGE_SIZE - inPage, end - offset);
            StampedLock lock = lockOf(page);
            long stamp = lock.readLock();
            try {
                if (closed) {
                    return Errno.ESHUTDOWN;
                }
                if (markWritten(page, true)) {
                    allocatedBytes.addAndGet(PAGE_SIZE);
                }
                if (src == null) {
                    MemorySegment.copy(Zeroes.PAGE, 0, MEMORY, base + offset, n);
                } else {
                    NativeMemory.copy(src, srcOffset, MEMORY, base + offset, n);
                }
            } finally {
                lock.unlockRead(stamp);
            }
            offset += n;
            srcOffset += n;
        }
        return Errno.OK;
    }

    /** DISCARD and WRITE_ZEROES: frees the pages covered whole, zeroes the parts of the others. */
    private int release(long offset, long length) {
        long end = offset + length;
        while (offset < end) {
            int page = (int) (offset >>> PAGE_SHIFT);
            long pageStart = (long) page << PAGE_SHIFT;
            long inPage = offset - pageStart;
            long n = Math.min(PAGE_SIZE - inPage, end - offset);
            boolean whole = inPage == 0 && offset + n == Math.min(pageStart + PAGE_SIZE, size);
            StampedLock lock = lockOf(page);
            if (whole) {
                if (isWritten(page)) { // a page never written needs no system call
                    long stamp = lock.writeLock();
                    try {
                        if (closed) {
                            return Errno.ESHUTDOWN;
                        }
                        if (markWritten(page, false)) {
                            MemoryMapping.discard(base + pageStart, PAGE_SIZE);
                            allocatedBytes.addAndGet(-PAGE_SIZE);
                        }
                    } finally {
                        lock.unlockWrite(stamp);
                    }
                }
            } else {
                long stamp = lock.readLock();
                try {
                    if (closed) {
                        return Errno.ESHUTDOWN;
                    }
                    if (isWritten(page)) {
                        MemorySegment.copy(Zeroes.PAGE, 0, MEMORY, base + offset, n);
                    }
                } finally {
                    lock.unlockRead(stamp);
                }
            }
            offset += n;
        }
        return Errno.OK;
    }

    /** Pages never written (or freed since) are holes that read as zeroes; allocated pages are data. */
    @Override
    public void extents(long offset, long length, Extents out) {
        long end = Math.min(offset + length, size);
        while (offset < end) {
            int page = (int) (offset >>> PAGE_SHIFT);
            long runEnd = Math.min(((long) page + 1) << PAGE_SHIFT, end);
            int flags = isWritten(page) ? 0 : Extents.HOLE | Extents.ZERO;
            if (!out.add(runEnd - offset, flags)) {
                return;
            }
            offset = runEnd;
        }
    }

    /**
     * Frees every page. Requests submitted afterwards fail with ESHUTDOWN. Memory lent to reads
     * still being sent stays mapped until they give it back.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        // Copies check 'closed' under their page's lock, so once every stripe's write lock has
        // been held here no copy can reach the mapping again.
        for (StampedLock lock : locks) {
            lock.unlockWrite(lock.writeLock());
        }
        allocatedBytes.set(0);
        mapping.release();
    }

    @Override
    public String toString() {
        return "RamDevice[" + name + " " + size + ", " + allocatedBytes() + " bytes allocated]";
    }
}
