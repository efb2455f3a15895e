package ddtree.ddsnap.delta;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import com.github.luben.zstd.Zstd;
import ddtree.ddsnap.delta.Streams.Rec;
import java.io.ByteArrayInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** Streams crafted byte by byte that break one rule each. */
class DeltaReaderRulesTest {
    /** Header of RawStream.plain(): 56 bytes plus the TO name "snap2". */
    private static final int H = 61;

    private static byte[] header(int version, int flags) {
        return RawStream.header(version, flags, 4096, 1 << 20, 0, "", 0, "snap2", 0x22);
    }

    private static void refused(byte[] stream, String message) {
        assertThatThrownBy(() -> Streams.readAll(stream))
                .isInstanceOf(DeltaFormatException.class)
                .hasMessage(message);
    }

    @Test
    void aGoodCraftedStreamReads() throws IOException {
        byte[] d = {9, 8, 7};
        byte[] s = RawStream.plain().data(0, d).zero(3, 5).data(100, d).end().bytes();
        assertThat(Streams.readAll(s)).containsExactly(Rec.data(0, d), Rec.zero(3, 5), Rec.data(100, d));
    }

    @Test
    void wrongMagic() {
        byte[] s = RawStream.plain().end().bytes();
        s[0] = 'X';
        refused(s, "not a ddsnap delta stream (magic 0x5844534e4150444c)");
        refused("hello".getBytes(StandardCharsets.US_ASCII), "not a ddsnap delta stream (magic 0x68656c6c6f)");
        refused(new byte[0], "not a ddsnap delta stream (it is empty)");
        refused("DDSN".getBytes(StandardCharsets.US_ASCII), "delta stream cut short in its header (after 4 bytes)");
    }

    @Test
    void unsupportedVersionIsNamedBeforeAnythingElse() {
        byte[] s = new RawStream(header(7, 0)).end().bytes();
        refused(s, "delta stream version 7 is not supported (this build reads 1)");
        byte[] junkAfterVersion = Arrays.copyOf(s, 10);
        refused(junkAfterVersion, "delta stream version 7 is not supported (this build reads 1)");
    }

    @Test
    void headerChecksum() {
        byte[] s = RawStream.plain().end().bytes();
        s[20] ^= 1; // volume size
        Throwable t = catchThrowable(() -> Streams.readAll(s));
        assertThat(t).isInstanceOf(DeltaFormatException.class);
        assertThat(t.getMessage()).matches("delta stream header checksum 0x[0-9a-f]{8} != 0x[0-9a-f]{8}");
    }

    @Test
    void unknownFlags() {
        refused(new RawStream(header(1, 2)).end().bytes(),
                "delta stream header: flags 0x0002 are not known to this build");
    }

    @Test
    void headerFieldsBreakingTheRules() {
        refused(new RawStream(RawStream.header(1, 0, 1000, 1 << 20, 0, "", 0, "t", 2)).end().bytes(),
                "delta stream header: chunk size 1000 is not a power of two of at least 512");
        refused(new RawStream(RawStream.header(1, 0, 4096, 0, 0, "", 0, "t", 2)).end().bytes(),
                "delta stream header: volume size 0 is not between 1 and 2^63-1");
        refused(new RawStream(RawStream.header(1, 0, 4096, 1 << 20, 0, "f", 0, "t", 2)).end().bytes(),
                "delta stream header: the FROM snapshot needs both a name and a non-zero guid"
                        + " (or neither, for a full stream)");
        refused(new RawStream(RawStream.header(1, 0, 4096, 1 << 20, 0, new byte[] {'a', (byte) 0xFF}, 1,
                        new byte[] {'t'}, 2)).end().bytes(),
                "delta stream header: FROM name is not valid UTF-8");
        refused(new RawStream(RawStream.header(1, 0, 4096, 1 << 20, 0, new byte[0], 0, new byte[300], 2)).end().bytes(),
                "delta stream header: TO name is 300 bytes, more than 255");
    }

    @Test
    void recordChecksum() {
        byte[] s = RawStream.plain().zero(0, 512).data(4096, new byte[] {1, 2, 3}).end().bytes();
        int dataAt = H + 21;
        s[dataAt + 13 + 1] ^= 0x04; // a data byte
        Throwable t = catchThrowable(() -> Streams.readAll(s));
        assertThat(t).isInstanceOf(DeltaFormatException.class);
        assertThat(t.getMessage()).matches("delta stream record 2 at byte " + dataAt
                + ": checksum mismatch \\(stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}\\)");
    }

    @Test
    void recordsOutOfOrder() {
        refused(RawStream.plain().data(8192, new byte[10]).zero(0, 4096).end().bytes(),
                "delta stream record 2 at byte " + (H + 27) + ": ZERO at offset 0 comes before the previous record"
                        + " at offset 8192 (records go in increasing offset order)");
    }

    @Test
    void recordsOverlapping() {
        refused(RawStream.plain().zero(0, 8192).data(4096, new byte[1]).end().bytes(),
                "delta stream record 2 at byte " + (H + 21)
                        + ": DATA at offset 4096 overlaps the previous record, which ends at 8192");
        // touching is fine
        byte[] ok = RawStream.plain().zero(0, 8192).data(8192, new byte[1]).zero(8193, 1).end().bytes();
        assertThat(catchThrowable(() -> Streams.readAll(ok))).isNull();
    }

    @Test
    void recordsPastTheVolume() {
        int v = 1 << 20;
        refused(RawStream.plain().zero(0, 1).zero(v - 4096, 2 * 4096).end().bytes(),
                "delta stream record 2 at byte " + (H + 21) + ": ZERO at offset " + (v - 4096) + " ends at "
                        + (v + 4096) + ", past the volume size " + v);
        refused(RawStream.plain().data(v, new byte[1]).end().bytes(),
                "delta stream record 1 at byte " + H + ": DATA at offset " + v + " ends at " + (v + 1)
                        + ", past the volume size " + v);
        refused(RawStream.plain().zero(4096, Long.MAX_VALUE).end().bytes(),
                "delta stream record 1 at byte " + H + ": ZERO at offset 4096 ends at 9223372036854779903,"
                        + " past the volume size " + v);
        refused(RawStream.plain().zero(4096, -1).end().bytes(),
                "delta stream record 1 at byte " + H
                        + ": ZERO at offset 4096 of length 18446744073709551615 goes past the volume size " + v);
        refused(RawStream.plain().zero(-4096, 1).end().bytes(),
                "delta stream record 1 at byte " + H
                        + ": ZERO at offset 18446744073709547520 of length 1 goes past the volume size " + v);
        // exactly to the end is fine
        byte[] ok = RawStream.plain().zero(0, v - 1).data(v - 1, new byte[1]).end().bytes();
        assertThat(catchThrowable(() -> Streams.readAll(ok))).isNull();
    }

    @Test
    void lengthsOutOfRange() {
        refused(RawStream.plain().dataAs(0, 0, new byte[0]).end().bytes(),
                "delta stream record 1 at byte " + H + ": DATA length 0 is out of range (1 to 33554432)");
        // a huge length is refused from the fields alone, before any data is read
        refused(RawStream.plain().dataAs(0, (32 << 20) + 1, new byte[0]).end().bytes(),
                "delta stream record 1 at byte " + H + ": DATA length 33554433 is out of range (1 to 33554432)");
        refused(RawStream.plain().dataAs(0, -1, new byte[0]).end().bytes(),
                "delta stream record 1 at byte " + H + ": DATA length 4294967295 is out of range (1 to 33554432)");
        refused(RawStream.plain().zero(0, 0).end().bytes(),
                "delta stream record 1 at byte " + H + ": ZERO length is 0");
    }

    @Test
    void unknownRecordType() {
        refused(RawStream.plain().zero(0, 1).raw((byte) 'X', (byte) 1, (byte) 2, (byte) 3).bytes(),
                "delta stream record 2 at byte " + (H + 21) + ": unknown record type 0x58");
        refused(RawStream.plain().raw((byte) 0).bytes(),
                "delta stream record 1 at byte " + H + ": unknown record type 0x00");
    }

    @Test
    void endMustMatchTheStream() {
        RawStream r = RawStream.plain().zero(0, 1).data(10, new byte[5]);
        int endAt = H + 21 + 22;
        refused(RawStream.plain().zero(0, 1).data(10, new byte[5]).end(3, 5, r.chain()).bytes(),
                "delta stream record 3 at byte " + endAt + ": END says 3 records, the stream had 2");
        refused(RawStream.plain().zero(0, 1).data(10, new byte[5]).end(2, 6, r.chain()).bytes(),
                "delta stream record 3 at byte " + endAt + ": END says 6 data bytes, the stream had 5");
        refused(RawStream.plain().zero(0, 1).data(10, new byte[5]).end(-1, 5, r.chain()).bytes(),
                "delta stream record 3 at byte " + endAt + ": END says 18446744073709551615 records, the stream had 2");
        byte[] badCheck = RawStream.plain().zero(0, 1).data(10, new byte[5]).end(2, 5, r.chain() ^ 1).bytes();
        Throwable t = catchThrowable(() -> Streams.readAll(badCheck));
        assertThat(t).isInstanceOf(DeltaFormatException.class);
        assertThat(t.getMessage()).startsWith("delta stream record 3 at byte " + endAt + ": END's whole-stream check");
    }

    @Test
    void recordsSplicedUnderAnotherHeaderAreRefusedAtEnd() {
        // Same records, same counts, but written under a header with another TO guid.
        RawStream other = new RawStream(RawStream.header(1, 0, 4096, 1 << 20, 0, "", 0, "snap2", 0x23))
                .zero(0, 1).data(10, new byte[5]).end();
        RawStream mine = RawStream.plain();
        byte[] spliced = RawStream.concat(Arrays.copyOf(mine.bytes(), H),
                Arrays.copyOfRange(other.bytes(), other.headerLength(), other.headerLength() + other.bodyLength()));
        Throwable t = catchThrowable(() -> Streams.readAll(spliced));
        assertThat(t).isInstanceOf(DeltaFormatException.class);
        assertThat(t.getMessage()).contains("whole-stream check").contains("do not belong to this header");
    }

    @Test
    void missingEnd() {
        refused(RawStream.plain().bytes(),
                "delta stream ends without its END record (after the header, at byte " + H + ")");
        refused(RawStream.plain().zero(0, 1).bytes(),
                "delta stream ends without its END record (after record 1, at byte " + (H + 21) + ")");
    }

    @Test
    void bytesAfterEnd() {
        byte[] s = RawStream.plain().zero(0, 1).end().raw((byte) 0).bytes();
        refused(s, "delta stream has data after its END record (at byte " + (s.length - 1) + ")");
        byte[] twoEnds = RawStream.plain().end().end().bytes();
        refused(twoEnds, "delta stream has data after its END record (at byte " + (H + 25) + ")");
    }

    @Test
    void compressedBodyIsExactlyOneFrameEndingWithTheStream() {
        RawStream r = new RawStream(header(1, 1)).zero(0, 1).end();
        byte[] good = r.compressed();
        assertThat(catchThrowable(() -> Streams.readAll(good))).isNull();

        refused(RawStream.concat(good, new byte[] {0}),
                "delta stream has bytes after the end of its compressed body (at byte " + (H + 21 + 25) + ")");
        refused(RawStream.concat(good, Zstd.compress(new byte[] {'Z'}, 3)),
                "delta stream has bytes after the end of its compressed body (at byte " + (H + 21 + 25) + ")");
        // a zstd skippable frame: magic 0x184D2A50, length 4, payload
        byte[] skippable = {0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 1, 2, 3, 4};
        refused(RawStream.concat(good, skippable),
                "delta stream has bytes after the end of its compressed body (at byte " + (H + 21 + 25) + ")");
        // decoded bytes after END inside the frame
        refused(new RawStream(header(1, 1)).zero(0, 1).end().raw((byte) 'Z').compressed(),
                "delta stream has data after its END record (at byte " + (H + 21 + 25) + ")");
        // the frame stops after END's bytes but before the frame's own end
        RawStream big = new RawStream(header(1, 1)).zero(0, 1).end();
        byte[] frame = Zstd.compress(Arrays.copyOfRange(big.bytes(), H, H + big.bodyLength()), 3);
        for (int cut = 1; cut < frame.length; cut++) {
            byte[] s = RawStream.concat(Arrays.copyOf(big.bytes(), H), Arrays.copyOf(frame, cut));
            assertThatThrownBy(() -> Streams.readAll(s)).isInstanceOf(DeltaFormatException.class);
        }
    }

    @Test
    void corruptCompressedBodyIsAFormatErrorNamingZstd() {
        byte[] frame = new byte[40];
        java.util.Arrays.fill(frame, (byte) 0xff);
        frame[0] = 0x28; // zstd frame magic, then a frame header with its reserved bit set
        frame[1] = (byte) 0xb5;
        frame[2] = 0x2f;
        frame[3] = (byte) 0xfd;
        byte[] s = RawStream.concat(header(1, 1), frame);
        Throwable t = catchThrowable(() -> Streams.readAll(s));
        assertThat(t).isInstanceOf(DeltaFormatException.class);
        assertThat(t.getMessage()).startsWith("delta stream record 1 at byte " + H
                + ": the compressed body cannot be decoded (zstd: ");
        byte[] notZstd = RawStream.concat(header(1, 1), "plain text".getBytes(StandardCharsets.US_ASCII));
        assertThatThrownBy(() -> Streams.readAll(notZstd))
                .isInstanceOf(DeltaFormatException.class)
                .hasMessageContaining("cannot be decoded (zstd: ");
    }

    @Test
    void compressedBodyStoppingInsideItsFrameSaysSo() {
        byte[] s = RawStream.concat(header(1, 1), new byte[] {0x28, (byte) 0xb5, 0x2f, (byte) 0xfd});
        refused(s, "delta stream cut short after the header (at byte " + H
                + "; its compressed body stops inside its zstd frame)");
    }

    @Test
    void uncompressedBodyUnderTheCompressedFlagIsRefused() {
        byte[] s = new RawStream(header(1, 1)).zero(0, 1).end().bytes();
        assertThatThrownBy(() -> Streams.readAll(s)).isInstanceOf(DeltaFormatException.class);
    }

    @Test
    void afterAFailureNextThrowsTheSameAgainAndAfterCloseItIsAnError() throws IOException {
        byte[] s = RawStream.plain().zero(0, 1).raw((byte) 'X').bytes();
        DeltaReader r = new DeltaReader(new ByteArrayInputStream(s));
        assertThat(r.next()).isNotNull();
        Throwable first = catchThrowable(r::next);
        assertThat(first).isInstanceOf(DeltaFormatException.class);
        assertThat(catchThrowable(r::next)).isSameAs(first);
        r.close();
        assertThatThrownBy(r::next).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void sourceIoErrorsPassThroughAsThemselves() {
        byte[] s = new RawStream(header(1, 1)).data(0, new byte[100_000]).end().compressed();
        for (boolean compressed : new boolean[] {true, false}) {
            byte[] stream = compressed ? s : RawStream.plain().data(0, new byte[100_000]).end().bytes();
            InputStream failing = new FilterInputStream(new ByteArrayInputStream(stream)) {
                private int left = 80;

                @Override
                public int read(byte[] b, int off, int len) throws IOException {
                    if (left <= 0) {
                        throw new IOException("disk gone");
                    }
                    int n = super.read(b, off, Math.min(len, left));
                    left -= Math.max(n, 0);
                    return n;
                }
            };
            Throwable t = catchThrowable(() -> {
                try (DeltaReader r = new DeltaReader(failing)) {
                    while (r.next() != null) {
                        // read on
                    }
                }
            });
            assertThat(t)
                    .isInstanceOf(IOException.class)
                    .isNotInstanceOf(DeltaFormatException.class)
                    .hasMessage("disk gone");
        }
    }
}
