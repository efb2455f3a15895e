package ddtree.snapstore;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ExceptionTreeTest {
    private static List<SharedChunk> randomValue(Random rnd) {
        int n = 1 + rnd.nextInt(3);
        List<SharedChunk> v = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            long first = rnd.nextInt(1 << 20);
            SharingSet s = SharingSet.range(first, first + rnd.nextInt(70_000));
            for (int k = rnd.nextInt(12); k > 0; k--) {
                s = s.without(first + rnd.nextInt(70_000));
            }
            if (s.isEmpty()) {
                s = SharingSet.of(first);
            }
            v.add(new SharedChunk(rnd.nextLong(1L << 40), s));
        }
        return v;
    }

    private static TreeMap<Long, List<SharedChunk>> contents(ExceptionTree tree) throws Exception {
        TreeMap<Long, List<SharedChunk>> got = new TreeMap<>();
        long[] last = {-1};
        tree.forEach(0, (chunk, exceptions) -> {
            assertThat(chunk).isGreaterThan(last[0]);
            last[0] = chunk;
            got.put(chunk, exceptions);
            return true;
        });
        return got;
    }

    /** Entries near the largest a node may hold, mixed with small ones, so splits must choose well. */
    private static List<SharedChunk> bigOrSmallValue(Random rnd) {
        if (rnd.nextInt(4) > 0) {
            return List.of(new SharedChunk(rnd.nextInt(1000), SharingSet.of(rnd.nextInt(1000))));
        }
        int ranges = 1 + rnd.nextInt(252);
        SharingSet s = SharingSet.EMPTY;
        for (long id = 0; id < 2L * ranges; id += 2) {
            s = s.with(id);
        }
        return List.of(new SharedChunk(rnd.nextInt(1000), s));
    }

    @ParameterizedTest
    @ValueSource(longs = {51, 52, 53})
    void largeEntriesSplitAndMergeIntoNodesThatFit(long seed) throws Exception {
        Random rnd = new Random(seed);
        try (MetaFixture f = new MetaFixture(4096)) {
            SnapMeta meta = SnapMeta.format(f.dev, 4096, 1 << 20, 64);
            TreeMap<Long, List<SharedChunk>> model = new TreeMap<>();
            for (int op = 0; op < 6000; op++) {
                long key = rnd.nextInt(1500);
                if (op < 3000 ? rnd.nextInt(10) < 8 : rnd.nextInt(10) < 2) {
                    List<SharedChunk> v = bigOrSmallValue(rnd);
                    meta.tree().put(key, v);
                    model.put(key, v);
                } else {
                    meta.tree().remove(key);
                    model.remove(key);
                }
                if (op % 5 == 4) {
                    meta.commit();
                }
            }
            meta.commit();
            meta.tree().check();
            assertThat(contents(meta.tree())).isEqualTo(model);
            meta.close();
        }
    }

    /**
     * Random inserts, updates and deletes against a TreeMap, growing to thousands of keys (many
     * splits) and then shrinking to none (merges, redistribution, root collapse), with commits,
     * structural checks and a reopen along the way.
     */
    @ParameterizedTest
    @ValueSource(longs = {11, 12, 13, 14})
    void matchesATreeMapModel(long seed) throws Exception {
        Random rnd = new Random(seed);
        try (MetaFixture f = new MetaFixture(4096)) {
            SnapMeta meta = SnapMeta.format(f.dev, 4096, 1 << 20, 64);
            TreeMap<Long, List<SharedChunk>> model = new TreeMap<>();
            int maxHeight = 0;
            for (int op = 0; op < 70_000; op++) {
                boolean growing = op < 35_000;
                long key = rnd.nextInt(25_000) * 3L;
                int dice = rnd.nextInt(10);
                if (growing ? dice < 8 : dice < 2) {
                    List<SharedChunk> v = randomValue(rnd);
                    meta.tree().put(key, v);
                    model.put(key, v);
                } else {
                    assertThat(meta.tree().remove(key)).isEqualTo(model.remove(key) != null);
                }
                if (op % 10 == 9) {
                    meta.commit();
                }
                if (op % 7500 == 7499) {
                    meta.tree().check();
                    assertThat(contents(meta.tree())).isEqualTo(model);
                    meta.close();
                    meta = SnapMeta.open(f.dev);
                }
                maxHeight = Math.max(maxHeight, meta.tree().height());
                long probe = rnd.nextInt(75_000);
                assertThat(meta.tree().lookup(probe)).isEqualTo(model.getOrDefault(probe, List.of()));
            }
            // Empty the tree completely.
            for (long key : new ArrayList<>(model.keySet())) {
                assertThat(meta.tree().remove(key)).isTrue();
                model.remove(key);
                if (model.size() % 10 == 0) {
                    meta.commit();
                }
            }
            meta.commit();
            assertThat(maxHeight).as("tallest tree").isGreaterThanOrEqualTo(3);
            assertThat(meta.tree().size()).isZero();
            assertThat(meta.tree().height()).isZero();
            assertThat(meta.tree().check()).isZero();
            // Every node block came back.
            assertThat(meta.nodeBlocks().free()).isEqualTo(meta.nodeBlocks().units());
            meta.close();
        }
    }

    @Test
    void iterationStartsAtAnyKeyAndCanStop() throws Exception {
        try (MetaFixture f = new MetaFixture(1024)) {
            SnapMeta meta = SnapMeta.format(f.dev, 4096, 1 << 16, 64);
            for (long k = 0; k < 3000; k++) {
                meta.tree().put(k * 2, List.of(new SharedChunk(k, SharingSet.of(1))));
                if (k % 20 == 0) {
                    meta.commit();
                }
            }
            List<Long> seen = new ArrayList<>();
            meta.tree().forEach(1001, (chunk, e) -> {
                seen.add(chunk);
                return seen.size() < 5;
            });
            assertThat(seen).containsExactly(1002L, 1004L, 1006L, 1008L, 1010L);
            meta.close();
        }
    }

    @Test
    void removeSnapshotInBatchesFreesChunksOnlyItHeld() throws Exception {
        try (MetaFixture f = new MetaFixture(1024)) {
            SnapMeta meta = SnapMeta.format(f.dev, 4096, 1 << 16, 64);
            ExceptionTree t = meta.tree();
            for (long k = 0; k < 2000; k++) {
                // Chunk 2k is shared by snapshots 0..65535; chunk 2k+1 only by snapshot 7.
                t.put(k, List.of(new SharedChunk(2 * k, SharingSet.range(0, 65_535)),
                        new SharedChunk(2 * k + 1, SharingSet.of(7))));
                if (k % 20 == 0) {
                    meta.commit();
                }
            }
            meta.commit();
            List<Long> freed = new ArrayList<>();
            long next = 0;
            int batches = 0;
            while (next >= 0) {
                next = t.removeSnapshot(7, next, 25, freed::add);
                meta.commit();
                batches++;
            }
            assertThat(batches).isEqualTo(80);
            assertThat(freed).hasSize(2000).allMatch(c -> c % 2 == 1);
            assertThat(t.lookup(1234)).containsExactly(new SharedChunk(2468, SharingSet.range(0, 65_535).without(7)));
            assertThat(t.lookup(1234).getFirst().sharers().size()).isEqualTo(65_535);
            meta.close();
            meta = SnapMeta.open(f.dev);
            assertThat(meta.tree().lookup(1999).getFirst().sharers().contains(7)).isFalse();
            meta.close();
        }
    }

    @Test
    void anEntryTooLargeForANodeIsRefusedNamingTheChunk() throws Exception {
        try (MetaFixture f = new MetaFixture(256)) {
            SnapMeta meta = SnapMeta.format(f.dev, 4096, 1024, 16);
            SharingSet s = SharingSet.EMPTY;
            for (long id = 0; id < 1000; id += 2) {
                s = s.with(id);
            }
            SharingSet every = s;
            assertThatThrownBy(() -> meta.tree().put(42, List.of(new SharedChunk(1, every))))
                    .hasMessageStartingWith("logical chunk 42: 1 exceptions take 4020 bytes, more than the 2036");
            meta.close();
        }
    }

    @Test
    void aCorruptNodeIsReportedWithItsBlockAndChecksums() throws Exception {
        try (MetaFixture f = new MetaFixture(256)) {
            SnapMeta meta = SnapMeta.format(f.dev, 4096, 1024, 16);
            meta.tree().put(5, List.of(new SharedChunk(9, SharingSet.of(1))));
            meta.close();
            long nodeStart = meta.superblock().nodeStart();
            byte[] image = new byte[MetaDevice.BLOCK_SIZE];
            f.dev.read(nodeStart, image);
            image[100] ^= 1;
            f.dev.write(nodeStart, image);
            SnapMeta reopened = SnapMeta.open(f.dev);
            assertThatThrownBy(() -> reopened.tree().lookup(5))
                    .isInstanceOf(MetadataCorruptException.class)
                    .hasMessageMatching("btree node at block " + nodeStart + ": checksum 0x[0-9a-f]{8} != 0x[0-9a-f]{8}");
        }
    }

    static Map<Long, List<SharedChunk>> snapshotOf(ExceptionTree t) throws Exception {
        return contents(t);
    }
}
