package ddtree.snapstore;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class SharingSetTest {
    private static SharingSet roundTrip(SharingSet s) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(s.encodedSize()).order(ByteOrder.LITTLE_ENDIAN);
        s.encode(b);
        assertThat(b.remaining()).isZero();
        b.flip();
        return SharingSet.decode(b, "test");
    }

    @Test
    void sixtyFiveThousandFiveHundredThirtySixSnapshotsInOneRange() throws Exception {
        SharingSet s = SharingSet.EMPTY;
        for (long id = 0; id < 65_536; id++) {
            s = s.with(id);
        }
        assertThat(s.size()).isEqualTo(65_536);
        assertThat(s.rangeCount()).isEqualTo(1);
        assertThat(s.encodedSize()).isEqualTo(10);
        assertThat(s.contains(65_535)).isTrue();
        assertThat(s.contains(65_536)).isFalse();
        // Deleting snapshots from the middle splits one range each time.
        s = s.without(1000).without(30_000).without(65_535).without(0);
        assertThat(s.size()).isEqualTo(65_532);
        assertThat(s.toString()).isEqualTo("{1..999,1001..29999,30001..65534}");
        assertThat(roundTrip(s)).isEqualTo(s);
    }

    @Test
    void idsUpToTwoToTheThirtyTwo() throws Exception {
        SharingSet s = SharingSet.range(SharingSet.MAX_ID - 65_535, SharingSet.MAX_ID).with(7);
        assertThat(s.size()).isEqualTo(65_537);
        assertThat(roundTrip(s)).isEqualTo(s);
        assertThat(s.contains(SharingSet.MAX_ID)).isTrue();
        assertThatThrownBy(() -> s.with(SharingSet.MAX_ID + 1)).hasMessageContaining("snapshot id 4294967296 outside");
    }

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 4, 5})
    void matchesASetModel(long seed) throws Exception {
        Random rnd = new Random(seed);
        TreeSet<Long> model = new TreeSet<>();
        SharingSet s = SharingSet.EMPTY;
        for (int op = 0; op < 20_000; op++) {
            long id = rnd.nextInt(300);
            if (rnd.nextBoolean()) {
                model.add(id);
                s = s.with(id);
            } else {
                model.remove(id);
                s = s.without(id);
            }
            if (op % 1000 == 0) {
                assertThat(roundTrip(s)).isEqualTo(s);
            }
        }
        assertThat(s.size()).isEqualTo(model.size());
        for (long id = 0; id < 300; id++) {
            assertThat(s.contains(id)).as("id %d", id).isEqualTo(model.contains(id));
        }
    }

    @Test
    void decodeRefusesOverlappingRanges() {
        ByteBuffer b = ByteBuffer.allocate(18).order(ByteOrder.LITTLE_ENDIAN);
        b.putShort((short) 2).putInt(5).putInt(9).putInt(10).putInt(12).flip();
        assertThatThrownBy(() -> SharingSet.decode(b, "node 9 key 3"))
                .isInstanceOf(MetadataCorruptException.class)
                .hasMessage("node 9 key 3: sharing set range 1 (10..12) out of order");
    }
}
