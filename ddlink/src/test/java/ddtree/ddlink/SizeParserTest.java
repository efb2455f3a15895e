package ddtree.ddlink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

class SizeParserTest {
    @ParameterizedTest
    @CsvSource({
        "0, 0", "4096, 4096", "512B, 512",
        "1K, 1024", "1k, 1024", "4KiB, 4096", "64M, 67108864", "64MB, 67108864", "1G, 1073741824",
        "2T, 2199023255552", "' 16M ', 16777216",
    })
    void parses(String text, long bytes) {
        assertThat(SizeParser.parse(text)).isEqualTo(bytes);
    }

    @Test
    void unknownSuffixIsNamed() {
        assertThatThrownBy(() -> SizeParser.parse("12Q"))
                .hasMessage("size '12Q': unknown suffix 'Q' (use K, M, G or T)");
        assertThatThrownBy(() -> SizeParser.parse("12KX")).hasMessageContaining("unknown suffix 'KX'");
    }

    @Test
    void otherMistakes() {
        assertThatThrownBy(() -> SizeParser.parse("")).hasMessageContaining("empty");
        assertThatThrownBy(() -> SizeParser.parse("M")).hasMessageContaining("not a number");
        assertThatThrownBy(() -> SizeParser.parse("-1")).hasMessageContaining("not a number");
        assertThatThrownBy(() -> SizeParser.parse("1.5G")).hasMessageContaining("whole number");
        assertThatThrownBy(() -> SizeParser.parse("9999999999999T")).hasMessageContaining("too large");
        assertThatThrownBy(() -> SizeParser.parse("99999999999999999999")).hasMessageContaining("too large");
    }

    @Test
    void formats() {
        assertThat(SizeParser.format(0)).isEqualTo("0 B");
        assertThat(SizeParser.format(1023)).isEqualTo("1023 B");
        assertThat(SizeParser.format(1 << 20)).isEqualTo("1.0 MiB");
        assertThat(SizeParser.format(1L << 30)).isEqualTo("1.0 GiB");
        assertThat(SizeParser.format(3L << 29)).isEqualTo("1.5 GiB");
    }

    /** Edge values plus numbers drawn from a fixed seed, so a failure replays. */
    static LongStream counts() {
        return LongStream.concat(LongStream.of(0, 1, 1023, 1024, 1 << 20),
                new Random(42).longs(200, 0, (1 << 20) + 1));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("counts")
    void everySuffixIsAPowerOf1024(long n) {
        assertThat(SizeParser.parse(n + "K")).isEqualTo(n << 10);
        assertThat(SizeParser.parse(n + "M")).isEqualTo(n << 20);
        assertThat(SizeParser.parse(n + "G")).isEqualTo(n << 30);
        assertThat(SizeParser.parse(n + "T")).isEqualTo(n << 40);
        assertThat(SizeParser.parse(String.valueOf(n))).isEqualTo(n);
    }
}
