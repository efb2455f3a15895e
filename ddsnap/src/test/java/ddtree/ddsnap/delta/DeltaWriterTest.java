package ddtree.ddsnap.delta;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import ddtree.ddsnap.delta.Streams.Rec;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class DeltaWriterTest {
    private static final long VOLUME = 1 << 20;
    private static final DeltaHeader HEADER = new DeltaHeader(4096, VOLUME, "", 0, "t", 1, 0);

    @ParameterizedTest(name = "compressed {0}")
    @ValueSource(booleans = {false, true})
    void refusesRecordsThatBreakTheRulesAndStaysGood(boolean compress) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] d = {1, 2, 3, 4};
        try (DeltaWriter w = new DeltaWriter(out, HEADER, compress)) {
            w.data(8192, d, 0, 4);
            assertThatThrownBy(() -> w.zero(0, 4096))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("ZERO at offset 0 comes before the previous record at offset 8192"
                            + " (records go in increasing offset order)");
            assertThatThrownBy(() -> w.data(8195, d, 0, 4))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("DATA at offset 8195 overlaps the previous record, which ends at 8196");
            assertThatThrownBy(() -> w.zero(VOLUME - 10, 11))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("ZERO at offset 1048566 ends at 1048577, past the volume size 1048576");
            assertThatThrownBy(() -> w.zero(VOLUME - 10, Long.MAX_VALUE))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("past the volume size");
            assertThatThrownBy(() -> w.zero(8196, 0)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> w.zero(8196, -1)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> w.data(8196, d, 0, 0))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("DATA length 0 is out of range (1 to 33554432)");
            assertThatThrownBy(() -> w.data(-1, d, 0, 1))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("DATA offset -1 is negative");
            assertThatThrownBy(() -> w.data(9000, d, 2, 3)).isInstanceOf(IndexOutOfBoundsException.class);
            assertThatThrownBy(() -> w.data(9000, ByteBuffer.allocate(0)))
                    .isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> w.data(9000, ByteBuffer.allocateDirect(0)))
                    .isInstanceOf(IllegalArgumentException.class);
            w.zero(8196, VOLUME - 8196);
            assertThat(w.records()).isEqualTo(2);
            assertThat(w.dataBytes()).isEqualTo(4);
            w.finish();
            assertThatThrownBy(() -> w.zero(VOLUME, 1)).isInstanceOf(IllegalStateException.class);
            assertThatThrownBy(w::finish).isInstanceOf(IllegalStateException.class);
        }
        assertThat(Streams.readAll(out.toByteArray()))
                .containsExactly(Rec.data(8192, d), Rec.zero(8196, VOLUME - 8196));
    }

    @ParameterizedTest(name = "compressed {0}")
    @ValueSource(booleans = {false, true})
    void dataLongerThan32MiBIsRefusedAnd32MiBIsFine(boolean compress) throws IOException {
        ByteBuffer big = ByteBuffer.allocateDirect(DeltaWriter.MAX_DATA_LENGTH + 1);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (DeltaWriter w = new DeltaWriter(out, new DeltaHeader(4096, 1L << 30, "", 0, "t", 1, 0), compress)) {
            assertThatThrownBy(() -> w.data(0, big))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("DATA length 33554433 is out of range (1 to 33554432)");
            assertThat(big.position()).isZero();
            big.put(DeltaWriter.MAX_DATA_LENGTH - 1, (byte) 5).limit(DeltaWriter.MAX_DATA_LENGTH);
            w.data(0, big);
            w.finish();
        }
        byte[] want = new byte[DeltaWriter.MAX_DATA_LENGTH];
        want[want.length - 1] = 5;
        assertThat(Streams.readAll(out.toByteArray())).containsExactly(Rec.data(0, want));
    }

    @ParameterizedTest(name = "compressed {0}")
    @ValueSource(booleans = {false, true})
    void closeWithoutFinishLeavesAStreamEveryReaderRefuses(boolean compress) throws IOException {
        Random rnd = new Random(3);
        for (int records : new int[] {0, 1, 50}) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            try (DeltaWriter w = new DeltaWriter(out, HEADER, compress)) {
                for (int i = 0; i < records; i++) {
                    byte[] d = new byte[4096 + rnd.nextInt(4096)];
                    rnd.nextBytes(d);
                    w.data(i * 10_000L, d, 0, d.length);
                }
                // the caller fails here: no finish()
            }
            Throwable t = catchThrowable(() -> Streams.readAll(out.toByteArray()));
            assertThat(t).as("%d records", records).isInstanceOf(DeltaFormatException.class);
            assertThat(t.getMessage()).containsAnyOf("ends without its END record", "cut short");
        }
    }

    @ParameterizedTest(name = "compressed {0}")
    @ValueSource(booleans = {false, true})
    void closeClosesTheOutputAndFinishLeavesItOpen(boolean compress) throws IOException {
        TrackingStream out = new TrackingStream();
        DeltaWriter w = new DeltaWriter(out, HEADER, compress);
        w.zero(0, 1);
        w.finish();
        assertThat(out.closed).isFalse();
        assertThat(out.flushed).isTrue();
        w.close();
        assertThat(out.closed).isTrue();
        w.close();
        assertThatThrownBy(() -> w.zero(2, 1)).isInstanceOf(IllegalStateException.class);
        assertThat(Streams.readAll(out.toByteArray())).containsExactly(Rec.zero(0, 1));
    }

    @ParameterizedTest(name = "compressed {0}")
    @ValueSource(booleans = {false, true})
    void afterAFailedWriteOnlyCloseIsAllowed(boolean compress) throws IOException {
        TrackingStream out = new TrackingStream();
        DeltaWriter w = new DeltaWriter(out, HEADER, compress);
        out.failWrites = true;
        byte[] d = new byte[300_000];
        new Random(1).nextBytes(d);
        assertThatThrownBy(() -> {
            w.data(0, d, 0, d.length);
            w.finish();
        }).isInstanceOf(IOException.class).hasMessage("no space");
        assertThatThrownBy(() -> w.zero(1 << 19, 1)).isInstanceOf(IllegalStateException.class);
        w.close();
        assertThat(out.closed).isTrue();
    }

    private static final class TrackingStream extends OutputStream {
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        boolean closed;
        boolean flushed;
        boolean failWrites;

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            if (failWrites) {
                throw new IOException("no space");
            }
            bytes.write(b, off, len);
        }

        @Override
        public void flush() {
            flushed = true;
        }

        @Override
        public void close() {
            closed = true;
        }

        byte[] toByteArray() {
            return bytes.toByteArray();
        }
    }
}
