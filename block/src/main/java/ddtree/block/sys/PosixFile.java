package ddtree.block.sys;

import java.io.Closeable;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.file.Path;
import java.util.Objects;

/**
 * A raw Linux file descriptor, for the calls {@code FileChannel} lacks: hole punching, zero
 * ranges, {@code SEEK_DATA}/{@code SEEK_HOLE}, {@code fdatasync}, and reads and writes straight
 * into native memory without a {@code ByteBuffer} view. x86_64 Linux with glibc.
 *
 * <p>Failures throw {@link ErrnoException} naming the call, the path, the range and the error.
 * Reads and writes allocate nothing: pointers are passed to C as plain {@code long}s and errno is
 * captured into a per-thread segment made once.
 */
public final class PosixFile implements Closeable {
    // <fcntl.h>, <unistd.h>, <linux/falloc.h> on x86_64 Linux.
    private static final int O_RDONLY = 0;
    private static final int O_RDWR = 02;
    private static final int O_CREAT = 0100;
    private static final int O_EXCL = 0200;
    private static final int O_CLOEXEC = 02000000;
    private static final int MODE_0644 = 0644;
    private static final int SEEK_END = 2;
    private static final int SEEK_DATA = 3;
    private static final int SEEK_HOLE = 4;
    private static final int FALLOC_FL_KEEP_SIZE = 0x01;
    private static final int FALLOC_FL_PUNCH_HOLE = 0x02;
    private static final int FALLOC_FL_ZERO_RANGE = 0x10;
    // struct stat on x86_64.
    private static final long STAT_SIZE = 144;
    private static final long STAT_BLOCKS_OFFSET = 64;
    /** glibc before 2.33 exports fstat only as __fxstat(_STAT_VER_LINUX, ...). */
    private static final int STAT_VER_LINUX = 1;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO =
            CAPTURE_LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT;
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG;

    private static final MethodHandle OPEN = LINKER.downcallHandle(LIBC.find("open").orElseThrow(),
            FunctionDescriptor.of(INT, ValueLayout.ADDRESS, INT, INT),
            CAPTURE_ERRNO, Linker.Option.firstVariadicArg(2));
    /** ssize_t pread(int fd, void *buf, size_t count, off_t offset), with buf as a raw address. */
    private static final MethodHandle PREAD = syscall("pread64", LONG, INT, LONG, LONG, LONG);
    private static final MethodHandle PWRITE = syscall("pwrite64", LONG, INT, LONG, LONG, LONG);
    private static final MethodHandle FDATASYNC = syscall("fdatasync", INT, INT);
    private static final MethodHandle FALLOCATE = syscall("fallocate64", INT, INT, INT, LONG, LONG);
    private static final MethodHandle LSEEK = syscall("lseek64", LONG, INT, LONG, INT);
    private static final MethodHandle FTRUNCATE = syscall("ftruncate64", INT, INT, LONG);
    private static final MethodHandle CLOSE = syscall("close", INT, INT);
    private static final MethodHandle FSTAT;
    private static final boolean FSTAT_IS_FXSTAT;
    private static final MethodHandle STRERROR = LINKER.downcallHandle(LIBC.find("strerror").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.ADDRESS, INT));

    static {
        var fstat = LIBC.find("fstat64");
        FSTAT_IS_FXSTAT = fstat.isEmpty();
        FSTAT = FSTAT_IS_FXSTAT
                ? syscall("__fxstat64", INT, INT, INT, ValueLayout.ADDRESS)
                : LINKER.downcallHandle(fstat.get(), FunctionDescriptor.of(INT, INT, ValueLayout.ADDRESS), CAPTURE_ERRNO);
    }

    /** Where each thread's calls leave errno; made once per thread so calls allocate nothing. */
    static final ThreadLocal<MemorySegment> CAPTURE =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(CAPTURE_LAYOUT));

    private final int fd;
    private final String path;
    private final boolean created;
    private volatile boolean closed;

    private PosixFile(int fd, String path, boolean created) {
        this.fd = fd;
        this.path = path;
        this.created = created;
    }

    static MethodHandle syscall(String name, MemoryLayout result, MemoryLayout... args) {
        return LINKER.downcallHandle(LIBC.find(name).orElseThrow(),
                FunctionDescriptor.of(result, args), CAPTURE_ERRNO);
    }

    /**
     * Opens {@code path}: read-only, or read-write creating it (mode 0644, empty) when missing.
     * The descriptor is close-on-exec, so child processes do not inherit it.
     */
    public static PosixFile open(Path path, boolean readOnly) throws IOException {
        String name = path.toString();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cPath = arena.allocateFrom(name);
            if (readOnly) {
                return new PosixFile(openOrThrow(cPath, name, O_RDONLY | O_CLOEXEC), name, false);
            }
            // O_EXCL first so that created() tells reliably whether this open made the file.
            while (true) {
                int fd = open(cPath, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC);
                if (fd >= 0) {
                    return new PosixFile(fd, name, true);
                }
                if (errno() != ErrnoException.EEXIST) {
                    throw failure("open", name, errno());
                }
                fd = open(cPath, O_RDWR | O_CLOEXEC);
                if (fd >= 0) {
                    return new PosixFile(fd, name, false);
                }
                if (errno() != ErrnoException.ENOENT) { // ENOENT: removed in between, so try again
                    throw failure("open", name, errno());
                }
            }
        }
    }

    private static int openOrThrow(MemorySegment cPath, String name, int flags) throws ErrnoException {
        int fd = open(cPath, flags);
        if (fd < 0) {
            throw failure("open", name, errno());
        }
        return fd;
    }

    private static int open(MemorySegment cPath, int flags) {
        while (true) {
            int fd;
            try {
                fd = (int) OPEN.invokeExact(CAPTURE.get(), cPath, flags, MODE_0644);
            } catch (Throwable t) {
                throw linkFailure(t);
            }
            if (fd >= 0 || errno() != ErrnoException.EINTR) {
                return fd;
            }
        }
    }

    /** The descriptor, for calls made elsewhere in this package. */
    int fd() {
        return fd;
    }

    /** The path this file was opened by, as given. */
    public String path() {
        return path;
    }

    /** True when {@link #open} created the file. */
    public boolean created() {
        return created;
    }

    /**
     * Reads {@code length} bytes at {@code fileOffset} into native segment {@code dst} at
     * {@code dstOffset}. Bytes past the end of the file read as zeroes.
     */
    public void read(MemorySegment dst, long dstOffset, long length, long fileOffset) throws IOException {
        long address = addressOf(dst, dstOffset, length);
        long done = 0;
        while (done < length) {
            long n;
            try {
                n = (long) PREAD.invokeExact(CAPTURE.get(), fd, address + done, length - done, fileOffset + done);
            } catch (Throwable t) {
                throw linkFailure(t);
            }
            if (n > 0) {
                done += n;
            } else if (n == 0) {
                dst.asSlice(dstOffset + done, length - done).fill((byte) 0); // end of file
                return;
            } else if (errno() != ErrnoException.EINTR) {
                throw failure("pread", fileOffset, length, errno());
            }
        }
    }

    /** Writes {@code length} bytes from native segment {@code src} at {@code srcOffset} to {@code fileOffset}. */
    public void write(MemorySegment src, long srcOffset, long length, long fileOffset) throws IOException {
        long address = addressOf(src, srcOffset, length);
        long done = 0;
        while (done < length) {
            long n;
            try {
                n = (long) PWRITE.invokeExact(CAPTURE.get(), fd, address + done, length - done, fileOffset + done);
            } catch (Throwable t) {
                throw linkFailure(t);
            }
            if (n > 0) {
                done += n;
            } else if (n == 0) {
                throw failure("pwrite", fileOffset, length, ddtree.block.Errno.ENOSPC); // no progress: treat as full
            } else if (errno() != ErrnoException.EINTR) {
                throw failure("pwrite", fileOffset, length, errno());
            }
        }
    }

    /**
     * Makes written data durable (metadata only as far as needed to read it back).
     *
     * @return false when the file cannot be synchronised at all (a character device such as
     *     {@code /dev/null}: EINVAL), which leaves nothing to make durable
     */
    public boolean dataSync() throws IOException {
        checkOpen();
        int r;
        do {
            try {
                r = (int) FDATASYNC.invokeExact(CAPTURE.get(), fd);
            } catch (Throwable t) {
                throw linkFailure(t);
            }
        } while (r < 0 && errno() == ErrnoException.EINTR);
        if (r == 0) {
            return true;
        }
        if (errno() == ddtree.block.Errno.EINVAL) {
            return false;
        }
        throw failure("fdatasync", -1, -1, errno());
    }

    /**
     * Deallocates the range, which then reads as zeroes; the file size stays. Partial file-system
     * blocks at the edges are zeroed by the kernel.
     *
     * @return false when the file system or device cannot punch holes (EOPNOTSUPP), so the caller
     *     can fall back
     */
    public boolean punchHole(long offset, long length) throws IOException {
        return fallocate("fallocate(PUNCH_HOLE)", FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length);
    }

    /**
     * Makes the range read as zeroes while keeping it allocated, without writing the zeroes.
     *
     * @return false when the file system or device cannot do it (EOPNOTSUPP)
     */
    public boolean zeroRange(long offset, long length) throws IOException {
        return fallocate("fallocate(ZERO_RANGE)", FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, offset, length);
    }

    private boolean fallocate(String call, int mode, long offset, long length) throws IOException {
        checkOpen();
        int r;
        do {
            try {
                r = (int) FALLOCATE.invokeExact(CAPTURE.get(), fd, mode, offset, length);
            } catch (Throwable t) {
                throw linkFailure(t);
            }
        } while (r < 0 && errno() == ErrnoException.EINTR);
        if (r == 0) {
            return true;
        }
        if (errno() == ErrnoException.EOPNOTSUPP) {
            return false;
        }
        throw failure(call, offset, length, errno());
    }

    /** The offset of the first data at or after {@code offset}, or -1 when only holes follow (ENXIO). */
    public long seekData(long offset) throws IOException {
        return seek("lseek(SEEK_DATA)", offset, SEEK_DATA);
    }

    /** The offset of the first hole at or after {@code offset} (the end of file counts as a hole), or -1 past the end. */
    public long seekHole(long offset) throws IOException {
        return seek("lseek(SEEK_HOLE)", offset, SEEK_HOLE);
    }

    private long seek(String call, long offset, int whence) throws IOException {
        checkOpen();
        long r;
        try {
            r = (long) LSEEK.invokeExact(CAPTURE.get(), fd, offset, whence);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
        if (r >= 0) {
            return r;
        }
        if (errno() == ErrnoException.ENXIO) {
            return -1;
        }
        throw failure(call, offset, -1, errno());
    }

    /** The size in bytes; for a block device, the device's size. */
    public long size() throws IOException {
        checkOpen();
        long r;
        try {
            r = (long) LSEEK.invokeExact(CAPTURE.get(), fd, 0L, SEEK_END);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
        if (r < 0) {
            throw failure("lseek(SEEK_END)", -1, -1, errno());
        }
        return r;
    }

    /** Bytes of storage the file takes (st_blocks), which holes do not count. */
    public long allocatedBytes() throws IOException {
        checkOpen();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment stat = arena.allocate(STAT_SIZE, 8);
            int r;
            try {
                r = FSTAT_IS_FXSTAT
                        ? (int) FSTAT.invokeExact(CAPTURE.get(), STAT_VER_LINUX, fd, stat)
                        : (int) FSTAT.invokeExact(CAPTURE.get(), fd, stat);
            } catch (Throwable t) {
                throw linkFailure(t);
            }
            if (r < 0) {
                throw failure("fstat", -1, -1, errno());
            }
            return stat.get(LONG, STAT_BLOCKS_OFFSET) * 512;
        }
    }

    /** Sets the file's size; growing it leaves a hole. */
    public void truncate(long size) throws IOException {
        checkOpen();
        int r;
        do {
            try {
                r = (int) FTRUNCATE.invokeExact(CAPTURE.get(), fd, size);
            } catch (Throwable t) {
                throw linkFailure(t);
            }
        } while (r < 0 && errno() == ErrnoException.EINTR);
        if (r < 0) {
            throw failure("ftruncate", size, -1, errno());
        }
    }

    /** Closes the descriptor; later calls fail. Closing twice does nothing. */
    @Override
    public synchronized void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        int r;
        try {
            r = (int) CLOSE.invokeExact(CAPTURE.get(), fd);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
        // EINTR from close on Linux still releases the descriptor, so it is not retried.
        if (r < 0 && errno() != ErrnoException.EINTR) {
            throw failure("close", -1, -1, errno());
        }
    }

    @Override
    public String toString() {
        return "PosixFile[" + path + (closed ? ", closed]" : ", fd " + fd + "]");
    }

    private void checkOpen() throws IOException {
        if (closed) {
            throw new IOException(path + " is closed");
        }
    }

    /** The native address of {@code [offset, offset+length)} in {@code segment}, after checking it. */
    private long addressOf(MemorySegment segment, long offset, long length) throws IOException {
        checkOpen();
        if (!segment.isNative()) {
            throw new IllegalArgumentException("I/O on " + path + " needs a native segment, not " + segment);
        }
        Objects.checkFromIndexSize(offset, length, segment.byteSize());
        if (!segment.scope().isAlive()) {
            throw new IllegalStateException("I/O on " + path + " into a segment whose memory is freed");
        }
        return segment.address() + offset;
    }

    private ErrnoException failure(String call, long offset, long length, int errno) {
        String where = offset < 0 ? "" : length < 0 ? " at " + offset : " at " + offset + "+" + length;
        return failure(call, path + where, errno);
    }

    private static ErrnoException failure(String call, String what, int errno) {
        return new ErrnoException(call + " " + what + ": " + strerror(errno) + " (errno " + errno + ")", errno);
    }

    /** The C library's text for {@code errno}, such as "No space left on device". */
    public static String strerror(int errno) {
        try {
            MemorySegment s = (MemorySegment) STRERROR.invokeExact(errno);
            return s.reinterpret(Integer.MAX_VALUE).getString(0);
        } catch (Throwable t) {
            throw linkFailure(t);
        }
    }

    static int errno() {
        return (int) ERRNO.get(CAPTURE.get(), 0L);
    }

    /** A downcall itself failed (not the system call): a bug or a broken runtime, never an I/O error. */
    static RuntimeException linkFailure(Throwable t) {
        if (t instanceof RuntimeException r) {
            return r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException("native call failed", t);
    }
}
