package ddtree.ddsnap.delta;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import org.junit.jupiter.api.Test;

class DeltaHeaderTest {
    private static DeltaHeader incremental(String from, long fromGuid, String to, long toGuid) {
        return new DeltaHeader(4096, 1 << 30, from, fromGuid, to, toGuid, 1);
    }

    @Test
    void fullHasNoFrom() {
        assertThat(incremental("", 0, "b", 2).full()).isTrue();
        assertThat(incremental("a", 1, "b", 2).full()).isFalse();
    }

    @Test
    void fromNeedsNameAndGuidTogether() {
        assertThatThrownBy(() -> incremental("a", 0, "b", 2))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("FROM snapshot needs both");
        assertThatThrownBy(() -> incremental("", 1, "b", 2)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void toNeedsNameAndGuid() {
        assertThatThrownBy(() -> incremental("", 0, "", 2)).hasMessageContaining("TO snapshot");
        assertThatThrownBy(() -> incremental("", 0, "b", 0)).hasMessageContaining("TO snapshot");
    }

    @Test
    void fromAndToDiffer() {
        assertThatThrownBy(() -> incremental("a", 7, "b", 7)).hasMessageContaining("same snapshot");
    }

    @Test
    void namesAreAtMost255BytesOfUtf8() {
        String ok = "é".repeat(127) + "x"; // 255 bytes
        assertThat(incremental(ok, 1, ok, 2).fromName()).isEqualTo(ok);
        assertThatThrownBy(() -> incremental("", 0, "é".repeat(128), 2))
                .hasMessage("TO name is 256 bytes of UTF-8, more than 255");
        assertThatThrownBy(() -> incremental("\ud800", 1, "b", 2)).hasMessage("FROM name is not valid Unicode");
    }

    @Test
    void chunkSizeIsAPowerOfTwoOfAtLeast512() {
        assertThat(new DeltaHeader(512, 1, "", 0, "b", 2, 0).chunkSize()).isEqualTo(512);
        assertThat(new DeltaHeader(1 << 30, 1, "", 0, "b", 2, 0).chunkSize()).isEqualTo(1 << 30);
        for (int bad : new int[] {0, 256, 1000, -4096, Integer.MIN_VALUE}) {
            assertThatThrownBy(() -> new DeltaHeader(bad, 1, "", 0, "b", 2, 0))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("chunk size");
        }
    }

    @Test
    void volumeSizeAndTimeArePositive() {
        assertThatThrownBy(() -> new DeltaHeader(4096, 0, "", 0, "b", 2, 0)).hasMessageContaining("volume size 0");
        assertThatThrownBy(() -> new DeltaHeader(4096, -1, "", 0, "b", 2, 0))
                .hasMessageContaining("volume size 18446744073709551615");
        assertThatThrownBy(() -> new DeltaHeader(4096, 1, "", 0, "b", 2, -1)).hasMessageContaining("before the epoch");
    }

    @Test
    void headerRoundTripsWithUnicodeNamesAndExtremeValues() throws IOException {
        DeltaHeader h = new DeltaHeader(
                1 << 20, Long.MAX_VALUE, "täglich-2024", -1L, "стандарт ☃", Long.MIN_VALUE, Long.MAX_VALUE);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (DeltaWriter w = new DeltaWriter(out, h, true)) {
            w.finish();
        }
        try (DeltaReader r = new DeltaReader(new java.io.ByteArrayInputStream(out.toByteArray()))) {
            assertThat(r.header()).isEqualTo(h);
            assertThat(r.compressed()).isTrue();
            assertThat(r.next()).isNull();
        }
    }
}
