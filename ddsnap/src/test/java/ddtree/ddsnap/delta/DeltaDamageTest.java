package ddtree.ddsnap.delta;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import ddtree.ddsnap.delta.Streams.Rec;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Streams cut short or with a byte changed anywhere are refused before END. */
class DeltaDamageTest {
    private static final DeltaHeader HEADER = new DeltaHeader(4096, 1 << 20, "monday", 0x1111, "tuesday", 0x2222, 42);

    /** A small stream of every record kind; the DATA is partly compressible. */
    private static byte[] small(boolean compress) throws IOException {
        Random rnd = new Random(5);
        byte[] a = new byte[300];
        rnd.nextBytes(a);
        byte[] b = new byte[200];
        Arrays.fill(b, 0, 100, (byte) 7);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (DeltaWriter w = new DeltaWriter(out, HEADER, compress)) {
            w.data(0, a, 0, a.length);
            w.zero(4096, 8192);
            w.data(20000, b, 0, b.length);
            w.zero(65536, 4096);
            w.finish();
        }
        return out.toByteArray();
    }

    @ParameterizedTest(name = "compressed {0}")
    @ValueSource(booleans = {false, true})
    void cutAtEveryByteIsRefused(boolean compress) throws IOException {
        byte[] s = small(compress);
        assertThat(Streams.readAll(s)).hasSize(4);
        for (int len = 0; len < s.length; len++) {
            byte[] cut = Arrays.copyOf(s, len);
            Throwable t = catchThrowable(() -> Streams.readAll(cut));
            assertThat(t).as("cut to %d of %d bytes", len, s.length).isInstanceOf(DeltaFormatException.class);
            assertThat(t.getMessage()).as("cut to %d", len).containsAnyOf(
                    "cut short", "ends without its END record", "not a ddsnap delta stream (it is empty)");
        }
    }

    @Test
    void cutInsideDataNamesTheRecordAndHowMuchArrived() {
        byte[] s = RawStream.plain().zero(0, 4096).data(65536, new byte[65536]).end().bytes();
        int dataStart = 56 + 5 + 21;
        byte[] cut = Arrays.copyOf(s, dataStart + 13 + 40960);
        assertThatThrownBy(() -> Streams.readAll(cut))
                .isInstanceOf(DeltaFormatException.class)
                .hasMessage("delta stream cut short in record 2 at byte " + dataStart
                        + " (DATA at offset 65536, 40960 of 65536 bytes)");
        byte[] inCrc = Arrays.copyOf(s, dataStart + 13 + 65536 + 1);
        assertThatThrownBy(() -> Streams.readAll(inCrc)).hasMessage("delta stream cut short in record 2 at byte "
                + dataStart + " (DATA at offset 65536, 1 of 4 checksum bytes)");
        byte[] inFields = Arrays.copyOf(s, dataStart + 6);
        assertThatThrownBy(() -> Streams.readAll(inFields))
                .hasMessage("delta stream cut short in record 2 at byte " + dataStart
                        + " (a DATA record, 6 of 13 bytes)");
        byte[] atEnd = Arrays.copyOf(s, s.length - 25);
        assertThatThrownBy(() -> Streams.readAll(atEnd)).hasMessage(
                "delta stream ends without its END record (after record 2, at byte " + (s.length - 25) + ")");
        byte[] inEnd = Arrays.copyOf(s, s.length - 1);
        assertThatThrownBy(() -> Streams.readAll(inEnd)).hasMessage("delta stream cut short in record 3 at byte "
                + (s.length - 25) + " (the END record, 24 of 25 bytes)");
        byte[] inHeader = Arrays.copyOf(s, 30);
        assertThatThrownBy(() -> Streams.readAll(inHeader))
                .hasMessage("delta stream cut short in its header (after 30 bytes)");
    }

    @Test
    void everyChangedByteOfAnUncompressedStreamIsRefused() throws IOException {
        byte[] s = small(false);
        for (int i = 0; i < s.length; i++) {
            for (int mask : new int[] {0x01, 0x10, 0x80, 0xFF}) {
                byte[] bad = s.clone();
                bad[i] ^= (byte) mask;
                Throwable t = catchThrowable(() -> Streams.readAll(bad));
                assertThat(t).as("byte %d ^ 0x%02x", i, mask).isInstanceOf(DeltaFormatException.class);
            }
        }
    }

    /**
     * In a compressed stream, a changed byte in the header is always refused. In the zstd frame it is
     * refused or, where zstd ignores it (some frame header bits), decodes to the very same records:
     * never to different data.
     */
    @Test
    void changedBytesOfACompressedStreamAreRefusedOrChangeNothing() throws IOException {
        byte[] s = small(true);
        List<Rec> want = Streams.readAll(s);
        int headerLength = 56 + "monday".length() + "tuesday".length();
        int refused = 0;
        int harmless = 0;
        for (int i = 0; i < s.length; i++) {
            for (int mask : new int[] {0x01, 0x40, 0xFF}) {
                byte[] bad = s.clone();
                bad[i] ^= (byte) mask;
                try {
                    List<Rec> got = Streams.readAll(bad);
                    assertThat(i).as("byte %d ^ 0x%02x was accepted", i, mask).isGreaterThanOrEqualTo(headerLength);
                    assertThat(got).as("byte %d ^ 0x%02x", i, mask).isEqualTo(want);
                    harmless++;
                } catch (DeltaFormatException e) {
                    refused++;
                }
            }
        }
        assertThat(refused).isGreaterThan(9 * (refused + harmless) / 10);
    }

    @Test
    void randomGarbageAfterAGoodHeaderIsRefused() throws IOException {
        Random rnd = new Random(11);
        byte[] head = Arrays.copyOf(small(true), 56 + 13);
        byte[] plainHead = Arrays.copyOf(small(false), 56 + 13);
        for (int i = 0; i < 200; i++) {
            byte[] junk = new byte[1 + rnd.nextInt(2000)];
            rnd.nextBytes(junk);
            if (i % 2 == 0) { // a real zstd frame magic, so the decoder gets further
                junk[0] = 0x28;
                if (junk.length > 3) {
                    junk[1] = (byte) 0xb5;
                    junk[2] = 0x2f;
                    junk[3] = (byte) 0xfd;
                }
            }
            assertThatThrownBy(() -> Streams.readAll(RawStream.concat(head, junk)))
                    .isInstanceOf(DeltaFormatException.class);
            assertThatThrownBy(() -> Streams.readAll(RawStream.concat(plainHead, junk)))
                    .isInstanceOf(DeltaFormatException.class);
        }
    }
}
