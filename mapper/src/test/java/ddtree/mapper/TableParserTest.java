package ddtree.mapper;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class TableParserTest {

    @Test
    void readsLinesSkippingCommentsAndBlanks() throws Exception {
        List<TableLine> t = TableParser.parse("""
                # a striped device and a linear tail
                0 2048\tstriped 2 8 a 0 b 0

                  2048 100 linear  /x/disk.img 7  \r
                """);
        assertThat(t).containsExactly(
                new TableLine(0, 2048, "striped", "2", "8", "a", "0", "b", "0"),
                new TableLine(2048, 100, "linear", "/x/disk.img", "7"));
        assertThat(t.get(1).startBytes()).isEqualTo(2048 * 512L);
        assertThat(t.get(1).lengthBytes()).isEqualTo(100 * 512L);
    }

    @Test
    void formatRoundTrips() throws Exception {
        String text = "0 2048 linear /x/y 0\n2048 8 zero\n2056 16 delay a 0 10 b 0 20";
        List<TableLine> t = TableParser.parse(text);
        assertThat(String.join("\n", t.stream().map(TableLine::format).toList())).isEqualTo(text);
        assertThat(TableParser.parse(t.get(0).format())).containsExactly(t.get(0));
    }

    @Test
    void linesRefuseWhatCannotPrintBack() {
        assertThatThrownBy(() -> new TableLine(0, 1, "linear", "a b", "0"))
                .hasMessage("target argument 'a b' must be one non-empty word");
        assertThatThrownBy(() -> new TableLine(0, 1, "", List.of()))
                .hasMessage("target type '' must be one non-empty word");
        assertThatThrownBy(() -> new TableLine(-1, 1, "zero", List.of()))
                .hasMessage("table line range -1+1 must lie within 0..18014398509481983 sectors");
    }
}
