package ddtree.block.device;

import ddtree.block.Bio;
import ddtree.block.BlockDevice;
import ddtree.block.Capabilities;
import ddtree.block.Errno;
import ddtree.block.Extents;
import ddtree.block.InflightBudget;
import ddtree.block.Op;
import ddtree.block.sys.NativeMemory;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.StampedLock;

/**
 * A sparse device in off-heap memory. Memory is taken in {@link #PAGE_SIZE} pages on first write
 * and given back by DISCARD and WRITE_ZEROES; a page never written reads as zeroes.
 *
 * <p>DISCARD and WRITE_ZEROES both free the pages they cover whole and zero the parts of pages
 * they cover in part, so a discarded range reads back as zeroes. With {@link Bio#NO_HOLE},
 * WRITE_ZEROES allocates and zeroes instead. Zeroing memory is always fast, so
 * {@link Bio#FAST_ZERO} never fails. When no memory is left, writes fail with ENOSPC: a RAM disk
 * out of memory is a disk out of space to its user.
 *
 * <p>Pages are freed while other threads read and write, so each page is guarded by one of
 * {@link #STRIPES} locks: copies hold the read side for the one page they touch, freeing a page
 * takes the write side. A copy can therefore never touch freed memory, and a request holds at
 * most one lock at a time, so requests cannot deadlock each other.
 */
public final class RamDevice implements BlockDevice {
    public static final int PAGE_SIZE = 64 << 10;
    private static final int PAGE_SHIFT = Integer.numberOfTrailingZeros(PAGE_SIZE);
    private static final long PAGE_MASK = PAGE_SIZE - 1;
    /** Lock stripes; consecutive pages use different stripes so sequential I/O spreads out. */
    static final int STRIPES = 256;
    /** All of memory, so that copies to and from a page need no per-request segment. */
    private static final MemorySegment MEMORY = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);

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
    /** Page addresses; 0 is a hole. */
    private final AtomicLongArray pages;
    private final StampedLock[] locks = new StampedLock[STRIPES];
    private final AtomicLong allocatedBytes = new AtomicLong();
    private final InflightBudget budget = InflightBudget.defaults();
    private volatile boolean closed;

    static {
        if (Zeroes.SIZE < PAGE_SIZE) {
            throw new AssertionError("zero page smaller than a RAM page");
        }
    }

    /**
     * @param size the device size in bytes; any positive value, not only multiples of a page
     * @throws IllegalArgumentException if size is not positive or needs more pages than an array holds
     */
    public RamDevice(String name, long size) {
        long pageCount = size <= 0 ? -1 : (size + PAGE_MASK) >>> PAGE_SHIFT;
        if (pageCount <= 0 || pageCount > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("RAM device " + name + " size (" + size
                    + ") must be positive and at most " + ((long) (Integer.MAX_VALUE - 8) << PAGE_SHIFT));
        }
        this.name = name;
        this.size = size;
        this.pages = new AtomicLongArray((int) pageCount);
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
                case READ -> badBuffer(bio) ? Errno.EINVAL : read(bio.buffer().segment(), bio.bufferOffset(), offset, length);
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
                long address = pages.get(page);
                if (address == 0) {
                    MemorySegment.copy(Zeroes.PAGE, 0, dst, dstOffset, n);
                } else {
                    NativeMemory.copy(MEMORY, address + inPage, dst, dstOffset, n);
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
     * Copies {@code length} bytes into the device at {@code offset}, allocating pages as needed;
     * from {@code src} at {@code srcOffset}, or zeroes when {@code src} is null.
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
                long address = pageForWrite(page);
                if (address == 0) {
                    return Errno.ENOSPC;
                }
                if (src == null) {
                    MemorySegment.copy(Zeroes.PAGE, 0, MEMORY, address + inPage, n);
                } else {
                    NativeMemory.copy(src, srcOffset, MEMORY, address + inPage, n);
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
                long address;
                long stamp = lock.writeLock();
                try {
                    address = pages.get(page);
                    pages.set(page, 0);
                } finally {
                    lock.unlockWrite(stamp);
                }
                // No copy can still be using the page: they hold the read side while they copy.
                freePage(address);
            } else {
                long stamp = lock.readLock();
                try {
                    if (closed) {
                        return Errno.ESHUTDOWN;
                    }
                    long address = pages.get(page);
                    if (address != 0) {
                        MemorySegment.copy(Zeroes.PAGE, 0, MEMORY, address + inPage, n);
                    }
                } finally {
                    lock.unlockRead(stamp);
                }
            }
            offset += n;
        }
        return Errno.OK;
    }

    /**
     * The page's address, allocating a zeroed page if it is a hole; 0 when memory is exhausted.
     * The caller holds the page's read lock, so nobody frees the page meanwhile; two writers
     * racing to fill the same hole settle it with a compare-and-set.
     */
    private long pageForWrite(int page) {
        long address = pages.get(page);
        if (address != 0) {
            return address;
        }
        MemorySegment fresh;
        try {
            fresh = NativeMemory.allocateZeroed(PAGE_SIZE, 4096);
        } catch (OutOfMemoryError e) {
            return 0;
        }
        if (pages.compareAndSet(page, 0, fresh.address())) {
            allocatedBytes.addAndGet(PAGE_SIZE);
            return fresh.address();
        }
        NativeMemory.free(fresh);
        return pages.get(page);
    }

    private void freePage(long address) {
        if (address != 0) {
            NativeMemory.free(MemorySegment.ofAddress(address));
            allocatedBytes.addAndGet(-PAGE_SIZE);
        }
    }

    /** Pages never written (or freed since) are holes that read as zeroes; allocated pages are data. */
    @Override
    public void extents(long offset, long length, Extents out) {
        long end = Math.min(offset + length, size);
        while (offset < end) {
            int page = (int) (offset >>> PAGE_SHIFT);
            long runEnd = Math.min(((long) page + 1) << PAGE_SHIFT, end);
            int flags = pages.get(page) == 0 ? Extents.HOLE | Extents.ZERO : 0;
            if (!out.add(runEnd - offset, flags)) {
                return;
            }
            offset = runEnd;
        }
    }

    /** Frees every page. Requests submitted afterwards fail with ESHUTDOWN. */
    @Override
    public void close() {
        closed = true;
        // Copies check 'closed' under their page's lock, so once a stripe's write lock is held
        // here no copy can reach that stripe's pages again.
        for (int stripe = 0; stripe < STRIPES; stripe++) {
            StampedLock lock = locks[stripe];
            long stamp = lock.writeLock();
            try {
                for (int page = stripe; page < pages.length(); page += STRIPES) {
                    long address = pages.getAndSet(page, 0);
                    freePage(address);
                }
            } finally {
                lock.unlockWrite(stamp);
            }
        }
    }

    @Override
    public String toString() {
        return "RamDevice[" + name + " " + size + ", " + allocatedBytes() + " bytes allocated]";
    }
}
