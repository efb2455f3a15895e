package ddtree.snapstore;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The crash harness at the metadata level: random tree and allocator changes in transactions, a
 * power cut at a random flush keeping a random subset of the unflushed writes, then reopen. The
 * metadata must equal the model as of the last commit, or of the commit in flight if it made it.
 */
class SnapMetaCrashTest {
    private record State(TreeMap<Long, List<SharedChunk>> tree, BitSet chunks) {
        State copy() {
            return new State(new TreeMap<>(tree), (BitSet) chunks.clone());
        }
    }

    private static State read(SnapMeta meta) throws IOException {
        TreeMap<Long, List<SharedChunk>> tree = new TreeMap<>();
        meta.tree().forEach(0, (chunk, e) -> {
            tree.put(chunk, e);
            return true;
        });
        BitSet chunks = new BitSet();
        for (long u = 0; u < meta.chunks().units(); u++) {
            if (meta.chunks().isAllocated(u)) {
                chunks.set((int) u);
            }
        }
        return new State(tree, chunks);
    }

    /** One transaction: copy out a few logical chunks to new store chunks, drop a few others. */
    private static void transaction(SnapMeta meta, State model, Random rnd) throws IOException {
        for (int k = 1 + rnd.nextInt(12); k > 0; k--) {
            long key = rnd.nextInt(3000);
            List<SharedChunk> old = model.tree.get(key);
            if (old != null && rnd.nextInt(3) == 0) {
                for (SharedChunk c : old) {
                    meta.chunks().free(c.storeChunk());
                    model.chunks.clear((int) c.storeChunk());
                }
                meta.tree().remove(key);
                model.tree.remove(key);
            } else {
                List<SharedChunk> v = new ArrayList<>(old == null ? List.of() : old);
                long chunk = meta.chunks().allocate();
                model.chunks.set((int) chunk);
                long first = rnd.nextInt(100_000);
                v.add(new SharedChunk(chunk, SharingSet.range(first, first + rnd.nextInt(1000))));
                if (v.size() > 4) {
                    SharedChunk gone = v.removeFirst();
                    meta.chunks().free(gone.storeChunk());
                    model.chunks.clear((int) gone.storeChunk());
                }
                meta.tree().put(key, v);
                model.tree.put(key, v);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(longs = {31, 32, 33, 34, 35, 36, 37, 38, 39, 40})
    void metadataAfterAPowerCutIsTheLastCommitOrTheOneInFlight(long seed) throws Exception {
        Random rnd = new Random(seed);
        try (MetaFixture f = new MetaFixture(1024)) {
            SnapMeta meta = SnapMeta.format(f.dev, 4096, 20_000, 32);
            State committed = read(meta);
            for (int crash = 0; crash < 15; crash++) {
                // Run some transactions, with the power cut armed to hit one of their flushes.
                f.crashing.failFlushAfter(rnd.nextInt(60));
                State model = committed.copy();
                State inFlight = null;
                try {
                    for (int t = 0; t < 200; t++) {
                        transaction(meta, model, rnd);
                        inFlight = model.copy();
                        meta.commit();
                        committed = inFlight;
                        inFlight = null;
                    }
                    f.crashing.failFlushAfter(-1);
                    meta.close();
                } catch (IOException expected) {
                    // The armed flush failed: the device is dark until the power cut.
                }
                long mask = rnd.nextLong();
                int mode = rnd.nextInt(3);
                if (mode == 0) {
                    f.crashing.powerCut(i -> (mask >>> (i & 63) & 1) != 0);
                } else if (mode == 1) {
                    f.crashing.powerCutPrefix(Math.floorMod(mask, f.crashing.pendingBytes() + 1));
                } else {
                    f.crashing.powerCut(i -> false);
                }
                meta = SnapMeta.open(f.dev);
                State got = read(meta);
                meta.tree().check();
                if (inFlight != null && got.equals(inFlight)) {
                    committed = inFlight;
                } else {
                    assertThat(got).as("crash %d", crash).isEqualTo(committed);
                }
                assertThat(meta.chunks().free()).isEqualTo(meta.chunks().units() - committed.chunks.cardinality());
            }
            meta.close();
        }
    }

    @Test
    void reopenAfterCloseGivesTheSameState() throws Exception {
        Random rnd = new Random(7);
        try (MetaFixture f = new MetaFixture(1024)) {
            SnapMeta meta = SnapMeta.format(f.dev, 65536, 20_000, 32);
            State model = read(meta);
            for (int t = 0; t < 300; t++) {
                transaction(meta, model, rnd);
                meta.commit();
            }
            Superblock before = meta.superblock();
            meta.close();
            meta = SnapMeta.open(f.dev);
            assertThat(read(meta)).isEqualTo(model);
            Superblock after = meta.superblock();
            assertThat(after.chunkSize()).isEqualTo(65536);
            assertThat(after.storeChunks()).isEqualTo(before.storeChunks());
            assertThat(after.nodeStart()).isEqualTo(before.nodeStart());
            assertThat(after.sequence()).isGreaterThan(before.sequence());
            meta.close();
        }
    }

    @Test
    void aFormatCutShortLeavesNoStoreRatherThanTheOldOne() throws Exception {
        try (MetaFixture f = new MetaFixture(256)) {
            SnapMeta old = SnapMeta.format(f.dev, 4096, 1000, 16);
            old.tree().put(1, List.of(new SharedChunk(old.chunks().allocate(), SharingSet.of(0))));
            old.close();
            // Power fails at the flush after the superblocks were zeroed.
            f.crashing.failFlushAfter(1);
            assertThatThrownBy(() -> SnapMeta.format(f.dev, 4096, 1000, 16)).hasMessageContaining("EIO");
            f.crashing.powerCut(i -> true);
            assertThatThrownBy(() -> SnapMeta.open(f.dev)).hasMessageContaining("no valid superblock");
        }
    }
}
