package ddtree.block.sys;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Objects;

/**
 * Off-heap memory from the C allocator. Arenas free only when closed, and closing a shared arena
 * costs a handshake with every thread; pooled buffers and RAM-device pages are freed one by one,
 * so they come from {@code aligned_alloc}/{@code free} instead.
 */
public final class NativeMemory {
    /**
     * All of memory as one segment, for copies to and from raw addresses (a RAM device's mapping,
     * memory lent to a read) without making a segment per request.
     */
    public static final MemorySegment ALL = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);

    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle ALIGNED_ALLOC = LINKER.downcallHandle(
            LINKER.defaultLookup().find("aligned_alloc").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG));
    private static final MethodHandle FREE = LINKER.downcallHandle(
            LINKER.defaultLookup().find("free").orElseThrow(),
            FunctionDescriptor.ofVoid(ValueLayout.ADDRESS));
    /** memmove(dst, src, n) with its pointers passed as addresses, so a call makes no segments. */
    private static final MethodHandle MEMMOVE = LINKER.downcallHandle(
            LINKER.defaultLookup().find("memmove").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG,
                    ValueLayout.JAVA_LONG),
            Linker.Option.critical(false));
    /**
     * From this size on, {@link #copy} calls the C library, whose large copies run about half as
     * fast again as the JVM's copy loop (64 KiB: 35 against 23 GB/s on the development machine);
     * below it the call costs more than it saves.
     */
    static final long NATIVE_COPY_MIN = 16 << 10;

    private NativeMemory() {}

    /**
     * Allocates {@code size} bytes aligned to {@code alignment} (a power of two dividing size).
     * The contents are undefined.
     *
     * @throws OutOfMemoryError when the C allocator has nothing left
     */
    public static MemorySegment allocate(long size, long alignment) {
        if (size <= 0 || Long.bitCount(alignment) != 1 || size % alignment != 0) {
            throw new IllegalArgumentException(
                    "size (" + size + ") must be a positive multiple of the power-of-two alignment (" + alignment + ")");
        }
        MemorySegment raw;
        try {
            raw = (MemorySegment) ALIGNED_ALLOC.invokeExact(alignment, size);
        } catch (Throwable t) {
            throw new IllegalStateException("aligned_alloc failed", t);
        }
        if (raw.address() == 0) {
            throw new OutOfMemoryError("aligned_alloc(" + alignment + ", " + size + ") returned NULL");
        }
        return raw.reinterpret(size);
    }

    /** Allocates like {@link #allocate} and fills with zeroes. */
    public static MemorySegment allocateZeroed(long size, long alignment) {
        MemorySegment s = allocate(size, alignment);
        s.fill((byte) 0);
        return s;
    }

    /**
     * {@link MemorySegment#copy(MemorySegment, long, MemorySegment, long, long)}, through the C
     * library's memmove for large copies between native segments. The bounds are checked the same
     * way; both segments must stay alive for the call (global ones, as this class makes, do).
     */
    public static void copy(MemorySegment src, long srcOffset, MemorySegment dst, long dstOffset, long length) {
        if (length < NATIVE_COPY_MIN || !src.isNative() || !dst.isNative() || dst.isReadOnly()) {
            MemorySegment.copy(src, srcOffset, dst, dstOffset, length);
            return;
        }
        Objects.checkFromIndexSize(srcOffset, length, src.byteSize());
        Objects.checkFromIndexSize(dstOffset, length, dst.byteSize());
        try {
            long ignored = (long) MEMMOVE.invokeExact(dst.address() + dstOffset, src.address() + srcOffset, length);
        } catch (Throwable t) {
            throw new IllegalStateException("memmove failed", t);
        }
    }

    /** Returns memory from {@link #allocate}. The segment must not be used afterwards. */
    public static void free(MemorySegment segment) {
        try {
            FREE.invokeExact(segment);
        } catch (Throwable t) {
            throw new IllegalStateException("free failed", t);
        }
    }
}
