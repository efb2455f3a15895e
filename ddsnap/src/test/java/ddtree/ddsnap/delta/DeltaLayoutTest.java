package ddtree.ddsnap.delta;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HexFormat;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;

/** Pins the byte layout of docs/ddsnap-delta.md: a change here is a format change. */
class DeltaLayoutTest {
    private static final HexFormat HEX = HexFormat.of();

    private static int crc(byte[] b) {
        CRC32C c = new CRC32C();
        c.update(b);
        return (int) c.getValue();
    }

    private static byte[] le32(int v) {
        return ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(v).array();
    }

    private static byte[] cat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    @Test
    void uncompressedStreamIsByteForByteAsDocumented() throws IOException {
        DeltaHeader h = new DeltaHeader(4096, 1 << 20, "a", 0x11, "bc", 0x22, 1700000000000L);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (DeltaWriter w = new DeltaWriter(out, h, false)) {
            w.data(4096, new byte[] {1, 2, 3}, 0, 3);
            w.zero(8192, 0x10000);
            w.finish();
        }

        byte[] headerBody = HEX.parseHex(""
                + "4444534e4150444c" // magic "DDSNAPDL"
                + "0100" // version 1
                + "0000" // flags: uncompressed
                + "00100000" // chunk size 4096
                + "0000100000000000" // volume size 1 MiB
                + "0068e5cf8b010000" // created 1700000000000 ms
                + "1100000000000000" // FROM guid
                + "2200000000000000" // TO guid
                + "0100" + "61" // FROM name "a"
                + "0200" + "6263"); // TO name "bc"
        int headerCrc = crc(headerBody);
        byte[] header = cat(headerBody, le32(headerCrc));

        byte[] dataFields = HEX.parseHex("44" + "0010000000000000" + "03000000" + "010203");
        int dataCrc = crc(dataFields);
        byte[] zeroFields = HEX.parseHex("5a" + "0020000000000000" + "0000010000000000");
        int zeroCrc = crc(zeroFields);
        int chain = crc(cat(le32(headerCrc), le32(dataCrc), le32(zeroCrc)));
        byte[] endFields = cat(HEX.parseHex("45" + "0200000000000000" + "0300000000000000"), le32(chain));
        int endCrc = crc(endFields);

        byte[] want = cat(header, dataFields, le32(dataCrc), zeroFields, le32(zeroCrc), endFields, le32(endCrc));
        assertThat(HEX.formatHex(out.toByteArray())).isEqualTo(HEX.formatHex(want));
        assertThat(header).hasSize(56 + 1 + 2);
    }

    @Test
    void compressedStreamHasTheSameHeaderWithFlagOneAndOneZstdFrame() throws IOException {
        DeltaHeader h = new DeltaHeader(4096, 1 << 20, "", 0, "full", 9, 5);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (DeltaWriter w = new DeltaWriter(out, h, true)) {
            w.data(0, new byte[4096], 0, 4096);
            w.finish();
        }
        byte[] s = out.toByteArray();
        int headerLength = 56 + 4;
        assertThat(s[10]).isEqualTo((byte) 1);
        // zstd frame magic 0xFD2FB528, little-endian, right after the header
        assertThat(HEX.formatHex(s, headerLength, headerLength + 4)).isEqualTo("28b52ffd");
        byte[] frame = java.util.Arrays.copyOfRange(s, headerLength, s.length);
        byte[] body = com.github.luben.zstd.Zstd.decompress(frame, 1 << 16);
        assertThat(body).hasSize(17 + 4096 + 25);
        assertThat(body[0]).isEqualTo((byte) 'D');
        assertThat(body[17 + 4096]).isEqualTo((byte) 'E');
    }
}
