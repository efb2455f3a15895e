package ddtree.block.sys;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Off-heap memory from the C allocator. Arenas free only when closed, and closing a shared arena
 * costs a handshake with every thread; pooled buffers and RAM-device pages are freed one by one,
 * so they come from {@code aligned_alloc}/{@code free} instead.
 */
public final class NativeMemory {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle ALIGNED_ALLOC = LINKER.downcallHandle(
            LINKER.defaultLookup().find("aligned_alloc").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG));
    private static final MethodHandle FREE = LINKER.downcallHandle(
            LINKER.defaultLookup().find("free").orElseThrow(),
            FunctionDescriptor.ofVoid(ValueLayout.ADDRESS));

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

    /** Returns memory from {@link #allocate}. The segment must not be used afterwards. */
    public static void free(MemorySegment segment) {
        try {
            FREE.invokeExact(segment);
        } catch (Throwable t) {
            throw new IllegalStateException("free failed", t);
        }
    }
}
