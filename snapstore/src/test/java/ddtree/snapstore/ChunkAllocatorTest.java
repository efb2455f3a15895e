package ddtree.snapstore;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ChunkAllocatorTest {
    @Test
    void allocatesEveryChunkOnceThenReportsFull() throws Exception {
        try (MetaFixture f = new MetaFixture(256)) {
            SnapMeta meta = SnapMeta.format(f.dev, 4096, 1000, 16);
            ChunkAllocator a = meta.chunks();
            BitSet seen = new BitSet();
            for (int i = 0; i < 1000; i++) {
                long c = a.allocate();
                assertThat(c).isBetween(0L, 999L);
                assertThat(seen.get((int) c)).as("chunk %d handed out twice", c).isFalse();
                seen.set((int) c);
            }
            assertThat(a.free()).isZero();
            assertThatThrownBy(a::allocate).isInstanceOf(NoSpaceException.class)
                    .hasMessage("store chunks: all 1000 units are in use");
            meta.close();
        }
    }

    @Test
    void freedChunksAreReusedAndDoubleFreesRefused() throws Exception {
        try (MetaFixture f = new MetaFixture(256)) {
            SnapMeta meta = SnapMeta.format(f.dev, 4096, 100, 16);
            ChunkAllocator a = meta.chunks();
            for (int i = 0; i < 100; i++) {
                a.allocate();
            }
            a.free(17);
            a.free(63);
            assertThat(List.of(a.allocate(), a.allocate())).containsExactlyInAnyOrder(17L, 63L);
            a.free(5);
            assertThatThrownBy(() -> a.free(5)).hasMessage("store chunks: unit 5 freed twice");
            assertThatThrownBy(() -> a.free(100)).hasMessage("store chunks: unit 100 outside 0..99");
            meta.close();
        }
    }

    /** Allocations and frees across several bitmap blocks persist through commit and reopen. */
    @ParameterizedTest
    @ValueSource(longs = {21, 22, 23})
    void stateSurvivesReopenAndUncommittedChangesDoNot(long seed) throws Exception {
        Random rnd = new Random(seed);
        long units = 3 * Superblock.BITS_PER_MAP_BLOCK + 123;
        try (MetaFixture f = new MetaFixture(512)) {
            SnapMeta meta = SnapMeta.format(f.dev, 4096, units, 16);
            List<Long> held = new ArrayList<>();
            BitSet model = new BitSet();
            for (int op = 0; op < 60_000; op++) {
                if (held.isEmpty() || rnd.nextInt(3) > 0) {
                    long c = meta.chunks().allocate();
                    held.add(c);
                    model.set((int) c);
                } else {
                    long c = held.remove(rnd.nextInt(held.size()));
                    meta.chunks().free(c);
                    model.clear((int) c);
                }
                if (op % 500 == 0) {
                    meta.commit();
                }
            }
            meta.commit();
            // Changes after the last commit are lost at a power cut.
            meta.chunks().allocate();
            f.crashing.powerCut(i -> true);
            meta = SnapMeta.open(f.dev);
            assertThat(meta.chunks().free()).isEqualTo(units - model.cardinality());
            for (long u = 0; u < units; u++) {
                assertThat(meta.chunks().isAllocated(u)).as("unit %d", u).isEqualTo(model.get((int) u));
            }
            meta.close();
        }
    }
}
