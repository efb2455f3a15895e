package ddtree.block.sys;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Memory mapped in one piece. A RAM device keeps all its data in private anonymous memory
 * ({@link #reserve}: address space at once, pages from the kernel on first write), and a file
 * device maps its file read-only ({@link #mapFile}), so a range of the device is a range of
 * addresses that stays valid until the mapping is unmapped, and can be written to a socket
 * straight from where it lies.
 */
public final class MemoryMapping {
    private static final int PROT_READ = 0x1;
    private static final int PROT_WRITE = 0x2;
    private static final int MAP_SHARED = 0x01;
    private static final int MAP_PRIVATE = 0x02;
    private static final int MAP_ANONYMOUS = 0x20;
    /** Untouched pages cost nothing, so a sparse device's size is not charged to the machine up front. */
    private static final int MAP_NORESERVE = 0x4000;
    private static final int MADV_DONTNEED = 4;
    private static final long MAP_FAILED = -1;

    private static final MemoryLayout LONG = ValueLayout.JAVA_LONG;
    private static final MemoryLayout INT = ValueLayout.JAVA_INT;
    /** void *mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset), addresses as longs. */
    private static final MethodHandle MMAP = PosixFile.syscall("mmap64", LONG, LONG, LONG, INT, INT, INT, LONG);
    private static final MethodHandle MUNMAP = PosixFile.syscall("munmap", INT, LONG, LONG);
    private static final MethodHandle MADVISE = PosixFile.syscall("madvise", INT, LONG, LONG, INT);
    /** int mincore(void *addr, size_t length, unsigned char *vec), addresses as longs. */
    private static final MethodHandle MINCORE = PosixFile.syscall("mincore", INT, LONG, LONG, LONG);
    /** The page size {@link #resident} assumes; where the kernel's is larger it answers false. */
    public static final int PAGE = 4096;

    private MemoryMapping() {}

    /**
     * Reserves {@code size} bytes of zeroed, page-aligned memory.
     *
     * @return the address
     * @throws ErrnoException when the kernel refuses, for example with no address space left
     */
    public static long reserve(long size) throws ErrnoException {
        return map(size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1);
    }

    /**
     * Maps the first {@code size} bytes of an open file read-only and shared: the page cache's
     * own pages, so writes through the file show in the mapping. Reading a page past the file's
     * end (after someone truncated it) faults: only the kernel may read such a mapping, through
     * a system call, where the fault is an error and not a signal.
     *
     * @return the address
     * @throws ErrnoException when the kernel refuses, for example for a file that cannot be mapped
     */
    public static long mapFile(PosixFile file, long size) throws ErrnoException {
        return map(size, PROT_READ, MAP_SHARED, file.fd());
    }

    private static long map(long size, int prot, int flags, int fd) throws ErrnoException {
        long address;
        try {
            address = (long) MMAP.invokeExact(PosixFile.CAPTURE.get(), 0L, size, prot, flags, fd, 0L);
        } catch (Throwable t) {
            throw PosixFile.linkFailure(t);
        }
        if (address == MAP_FAILED) {
            int errno = PosixFile.errno();
            throw new ErrnoException("mmap of " + size + " bytes: " + PosixFile.strerror(errno) + " (errno " + errno + ")",
                    errno);
        }
        return address;
    }

    /**
     * Gives the pages of a page-aligned range back to the kernel; the range stays mapped and reads
     * as zeroes until written again.
     */
    public static void discard(long address, long length) {
        int r;
        try {
            r = (int) MADVISE.invokeExact(PosixFile.CAPTURE.get(), address, length, MADV_DONTNEED);
        } catch (Throwable t) {
            throw PosixFile.linkFailure(t);
        }
        check(r, "madvise(DONTNEED)", address, length);
    }

    /**
     * Whether every page of {@code [address, address + length)}, a range of a file mapping, is in
     * the page cache, so that reading it does not wait for (or fail on) the disk.
     *
     * @param vec one byte per page for the kernel's answer: at least {@code length / PAGE + 2}
     * @return false also when {@code vec} is too small or the kernel refuses
     */
    public static boolean resident(long address, long length, MemorySegment vec) {
        long start = address & -PAGE;
        long span = address + length - start;
        long pages = (span + PAGE - 1) / PAGE;
        if (pages > vec.byteSize()) {
            return false;
        }
        int r;
        try {
            r = (int) MINCORE.invokeExact(PosixFile.CAPTURE.get(), start, span, vec.address());
        } catch (Throwable t) {
            throw PosixFile.linkFailure(t);
        }
        if (r != 0) {
            return false;
        }
        for (long i = 0; i < pages; i++) {
            if ((vec.get(ValueLayout.JAVA_BYTE, i) & 1) == 0) {
                return false;
            }
        }
        return true;
    }

    /** Unmaps a range from {@link #reserve} or {@link #mapFile}; nothing may touch it afterwards. */
    public static void unmap(long address, long size) {
        int r;
        try {
            r = (int) MUNMAP.invokeExact(PosixFile.CAPTURE.get(), address, size);
        } catch (Throwable t) {
            throw PosixFile.linkFailure(t);
        }
        check(r, "munmap", address, size);
    }

    /** Neither call fails on a range this class mapped, so a failure is a bug, not an I/O error. */
    private static void check(int result, String call, long address, long length) {
        if (result != 0) {
            int errno = PosixFile.errno();
            throw new IllegalStateException(call + " of " + length + " bytes at 0x" + Long.toHexString(address)
                    + ": " + PosixFile.strerror(errno) + " (errno " + errno + ")");
        }
    }
}
