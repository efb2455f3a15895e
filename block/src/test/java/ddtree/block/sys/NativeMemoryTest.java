package ddtree.block.sys;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@link NativeMemory#copy} against {@link MemorySegment#copy}, below and above the size where it calls the C library. */
class NativeMemoryTest {
    static final int SIZE = 256 << 10;

    final List<MemorySegment> allocated = new ArrayList<>();

    @AfterEach
    void free() {
        allocated.forEach(NativeMemory::free);
    }

    MemorySegment random(long seed) {
        MemorySegment s = NativeMemory.allocate(SIZE, 4096);
        allocated.add(s);
        byte[] b = new byte[SIZE];
        new Random(seed).nextBytes(b);
        MemorySegment.copy(b, 0, s, ValueLayout.JAVA_BYTE, 0, SIZE);
        return s;
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 4095, (int) NativeMemory.NATIVE_COPY_MIN - 1, (int) NativeMemory.NATIVE_COPY_MIN,
        64 << 10, 100_001})
    void copiesWhatMemorySegmentCopyCopies(int length) {
        MemorySegment src = random(length);
        MemorySegment dst = random(-length);
        MemorySegment expected = random(-length);
        NativeMemory.copy(src, 7, dst, 4096 + 3, length);
        MemorySegment.copy(src, 7, expected, 4096 + 3, length);
        assertThat(dst.mismatch(expected)).isEqualTo(-1);
    }

    @ParameterizedTest
    @ValueSource(ints = {100, 64 << 10})
    void overlappingCopiesMoveLikeMemmove(int length) {
        MemorySegment s = random(length);
        MemorySegment expected = random(length);
        NativeMemory.copy(s, 0, s, 1000, length);
        MemorySegment.copy(expected, 0, expected, 1000, length);
        assertThat(s.mismatch(expected)).isEqualTo(-1);
    }

    @ParameterizedTest
    @ValueSource(ints = {100, 64 << 10})
    void aCopyOutsideEitherSegmentIsRefusedAndTouchesNothing(int length) {
        MemorySegment src = random(1);
        MemorySegment dst = random(2);
        MemorySegment before = random(2);
        assertThatThrownBy(() -> NativeMemory.copy(src, SIZE - length + 1, dst, 0, length))
                .isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> NativeMemory.copy(src, 0, dst, SIZE - length + 1, length))
                .isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> NativeMemory.copy(src, -1, dst, 0, length))
                .isInstanceOf(IndexOutOfBoundsException.class);
        assertThat(dst.mismatch(before)).isEqualTo(-1);
    }

    @ParameterizedTest
    @ValueSource(ints = {100, 64 << 10})
    void heapSegmentsAndReadOnlyTargetsGoTheJvmWay(int length) {
        MemorySegment src = random(3);
        byte[] heap = new byte[SIZE];
        NativeMemory.copy(src, 0, MemorySegment.ofArray(heap), 0, length);
        assertThat(MemorySegment.ofArray(heap).asSlice(0, length).mismatch(src.asSlice(0, length))).isEqualTo(-1);
        assertThatThrownBy(() -> NativeMemory.copy(src, 0, src.asReadOnly(), 10, length))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
