package ddtree.block.sys;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PosixFileTest {
    private static final int MIB = 1 << 20;

    @TempDir
    Path dir;

    private static MemorySegment filled(Arena arena, int length, int value) {
        MemorySegment s = arena.allocate(length, 4096);
        s.fill((byte) value);
        return s;
    }

    @Test
    void createsOnlyWhenMissingAndReadsBackWhatItWrote() throws IOException {
        Path path = dir.resolve("f");
        try (Arena arena = Arena.ofConfined()) {
            try (PosixFile f = PosixFile.open(path, false)) {
                assertThat(f.created()).isTrue();
                assertThat(f.size()).isZero();
                f.write(filled(arena, 10_000, 7), 100, 5000, 3);
                assertThat(f.size()).isEqualTo(5003);
                f.dataSync();
            }
            assertThat(Files.getPosixFilePermissions(path).toString()).contains("OWNER_READ", "OWNER_WRITE")
                    .doesNotContain("GROUP_WRITE", "OTHERS_WRITE");
            try (PosixFile f = PosixFile.open(path, true)) {
                assertThat(f.created()).isFalse();
                MemorySegment back = filled(arena, 8192, 0x55);
                f.read(back, 1, 8000, 0); // runs past the end: the rest reads as zeroes
                assertThat(back.get(ValueLayout.JAVA_BYTE, 0)).isEqualTo((byte) 0x55);
                assertThat(back.get(ValueLayout.JAVA_BYTE, 1)).isEqualTo((byte) 0);
                assertThat(back.get(ValueLayout.JAVA_BYTE, 4)).isEqualTo((byte) 7);
                assertThat(back.get(ValueLayout.JAVA_BYTE, 5003)).isEqualTo((byte) 7);
                assertThat(back.get(ValueLayout.JAVA_BYTE, 5004)).isEqualTo((byte) 0);
                assertThat(back.get(ValueLayout.JAVA_BYTE, 8000)).isEqualTo((byte) 0);
                assertThat(back.get(ValueLayout.JAVA_BYTE, 8001)).isEqualTo((byte) 0x55);
            }
            try (PosixFile f = PosixFile.open(path, false)) {
                assertThat(f.created()).isFalse();
                assertThat(f.size()).isEqualTo(5003);
            }
        }
    }

    @Test
    void holesArePunchedFoundAndNotCounted() throws IOException {
        try (Arena arena = Arena.ofConfined(); PosixFile f = PosixFile.open(dir.resolve("sparse"), false)) {
            f.truncate(4 * MIB);
            assertThat(f.allocatedBytes()).isZero();
            assertThat(f.seekData(0)).isEqualTo(-1);
            f.write(filled(arena, MIB, 1), 0, MIB, MIB);
            f.dataSync();
            assertThat(f.allocatedBytes()).isGreaterThanOrEqualTo(MIB);
            assertThat(f.seekData(0)).isEqualTo(MIB);
            assertThat(f.seekHole(MIB)).isEqualTo(2 * MIB);
            assertThat(f.seekData(2 * MIB)).isEqualTo(-1);
            assertThat(f.seekHole(3 * MIB)).isEqualTo(3 * MIB);

            assertThat(f.punchHole(MIB, MIB / 2)).isTrue();
            assertThat(f.allocatedBytes()).isLessThan(MIB);
            assertThat(f.seekData(0)).isEqualTo(MIB + MIB / 2);
            assertThat(f.size()).isEqualTo(4 * MIB);

            assertThat(f.zeroRange(MIB + MIB / 2, 4096)).isTrue();
            MemorySegment back = filled(arena, 8192, 9);
            f.read(back, 0, 8192, MIB + MIB / 2);
            assertThat(back.asSlice(0, 4096).mismatch(filled(arena, 4096, 0))).isEqualTo(-1);
            assertThat(back.get(ValueLayout.JAVA_BYTE, 4096)).isEqualTo((byte) 1);
        }
    }

    @Test
    void errorsNameTheCallThePathTheRangeAndTheCause() throws IOException {
        Path path = dir.resolve("ro");
        Files.write(path, new byte[8192]);
        try (Arena arena = Arena.ofConfined(); PosixFile f = PosixFile.open(path, true)) {
            assertThatThrownBy(() -> f.write(filled(arena, 512, 1), 0, 512, 4096))
                    .isInstanceOf(ErrnoException.class)
                    .hasMessage("pwrite " + path + " at 4096+512: Bad file descriptor (errno 9)")
                    .satisfies(e -> assertThat(((ErrnoException) e).errno()).isEqualTo(9));
            assertThatThrownBy(() -> f.truncate(1)).hasMessageStartingWith("ftruncate " + path + " at 1: ");
        }
        Path missing = dir.resolve("missing");
        assertThatThrownBy(() -> PosixFile.open(missing, true))
                .isInstanceOf(ErrnoException.class)
                .hasMessage("open " + missing + ": No such file or directory (errno 2)");
        assertThat(Files.exists(missing)).isFalse();
        assertThatThrownBy(() -> PosixFile.open(dir.resolve("no/such/dir/f"), false))
                .hasMessageContaining("No such file or directory");
    }

    @Test
    void aFullDeviceReportsNoSpace() throws IOException {
        Path full = Path.of("/dev/full");
        assumeTrue(Files.isWritable(full), "/dev/full is writable");
        try (Arena arena = Arena.ofConfined(); PosixFile f = PosixFile.open(full, false)) {
            assertThatThrownBy(() -> f.write(filled(arena, 512, 1), 0, 512, 4096))
                    .hasMessage("pwrite /dev/full at 4096+512: No space left on device (errno 28)")
                    .satisfies(e -> assertThat(((ErrnoException) e).bioStatus()).isEqualTo(28));
        }
    }

    @Test
    void buffersAreCheckedBeforeTheKernelSeesThem() throws IOException {
        try (Arena arena = Arena.ofConfined(); PosixFile f = PosixFile.open(dir.resolve("b"), false)) {
            MemorySegment small = arena.allocate(4096);
            assertThatThrownBy(() -> f.read(small, 1, 4096, 0)).isInstanceOf(IndexOutOfBoundsException.class);
            assertThatThrownBy(() -> f.write(small, -1, 10, 0)).isInstanceOf(IndexOutOfBoundsException.class);
            assertThatThrownBy(() -> f.write(MemorySegment.ofArray(new byte[10]), 0, 10, 0))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("native");
        }
    }

    @Test
    void syncingACharacterDeviceIsReportedAsImpossible() throws IOException {
        try (PosixFile f = PosixFile.open(Path.of("/dev/null"), true)) {
            assertThat(f.dataSync()).isFalse();
        }
        try (PosixFile f = PosixFile.open(dir.resolve("s"), false)) {
            assertThat(f.dataSync()).isTrue();
        }
    }

    @Test
    void aClosedFileRefusesCallsAndClosesOnce() throws IOException {
        PosixFile f = PosixFile.open(dir.resolve("c"), false);
        f.close();
        f.close();
        assertThatThrownBy(f::dataSync).hasMessageContaining("closed");
        assertThatThrownBy(f::size).hasMessageContaining("closed");
    }

    @Test
    void errnoFoldsIntoTheValuesNbdCarries() {
        assertThat(new ErrnoException("x", 30).bioStatus()).isEqualTo(1); // EROFS -> EPERM
        assertThat(new ErrnoException("x", 122).bioStatus()).isEqualTo(28); // EDQUOT -> ENOSPC
        assertThat(new ErrnoException("x", 95).bioStatus()).isEqualTo(95);
        assertThat(new ErrnoException("x", 22).bioStatus()).isEqualTo(22);
        assertThat(new ErrnoException("x", 9).bioStatus()).isEqualTo(5); // anything else -> EIO
        assertThat(PosixFile.strerror(28)).isEqualTo("No space left on device");
    }
}
