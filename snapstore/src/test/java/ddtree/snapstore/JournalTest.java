package ddtree.snapstore;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ddtree.block.BufferPool;
import ddtree.block.device.RamDevice;
import java.io.IOException;
import java.util.Arrays;
import java.util.Random;
import java.util.SortedMap;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class JournalTest {
    private static final long DEVICE_BLOCKS = 96;
    private final BufferPool pool = new BufferPool(64L << 20, 0);
    private RamDevice ram;
    private CrashingDevice crashing;
    private Superblock layout;

    private MetaDevice fresh() throws Exception {
        ram = new RamDevice("meta", DEVICE_BLOCKS * MetaDevice.BLOCK_SIZE);
        crashing = new CrashingDevice(ram, pool);
        layout = Superblock.layout(DEVICE_BLOCKS, 4096, 1000, 16);
        MetaDevice dev = new MetaDevice(crashing, pool);
        // Old contents that differ from every byte the journal writes at the end of a commit
        // block (zeroes), so a cut anywhere short of the end leaves a difference to detect.
        byte[] junk = new byte[MetaDevice.BLOCK_SIZE];
        Arrays.fill(junk, (byte) 0xFF);
        for (long b = 0; b < DEVICE_BLOCKS; b++) {
            dev.write(b, junk);
        }
        dev.flush();
        return dev;
    }

    @AfterEach
    void close() throws IOException {
        if (crashing != null) {
            crashing.close();
        }
        if (ram != null) {
            ram.close();
        }
    }

    private static byte[] image(long seed) {
        byte[] b = new byte[MetaDevice.BLOCK_SIZE];
        new Random(seed).nextBytes(b);
        return b;
    }

    private static SortedMap<Long, byte[]> transaction(long seed, long... homes) {
        SortedMap<Long, byte[]> t = new TreeMap<>();
        for (long h : homes) {
            t.put(h, image(seed * 1000 + h));
        }
        return t;
    }

    private static void assertHome(MetaDevice dev, SortedMap<Long, byte[]> expected) throws IOException {
        byte[] got = new byte[MetaDevice.BLOCK_SIZE];
        for (var e : expected.entrySet()) {
            dev.read(e.getKey(), got);
            assertThat(Arrays.equals(got, e.getValue())).as("block %d (first byte %d, want %d)", e.getKey(), got[0], e.getValue()[0]).isTrue();
        }
    }

    @Test
    void committedTransactionsSurviveReopenEvenWhenHomeWritesAreLost() throws Exception {
        MetaDevice dev = fresh();
        Journal j = Journal.format(dev, layout);
        long map = layout.storeMapStart();
        SortedMap<Long, byte[]> t1 = transaction(1, Superblock.ANCHOR_BLOCK, map);
        j.commit(t1);
        // The home writes follow the journal's flush; losing them must not lose the transaction.
        crashing.powerCut(i -> false);
        Journal.open(dev);
        assertHome(dev, t1);
    }

    @Test
    void journalWrapsThroughCheckpointsAndKeepsOnlyTheNewest() throws Exception {
        MetaDevice dev = fresh();
        Journal j = Journal.format(dev, layout);
        long map = layout.storeMapStart();
        SortedMap<Long, byte[]> last = null;
        for (int i = 0; i < 40; i++) { // 4 journal blocks each: wraps a 16-block journal ten times
            last = transaction(i, Superblock.ANCHOR_BLOCK, map);
            j.commit(last);
        }
        crashing.powerCut(i -> false);
        Journal.open(dev);
        assertHome(dev, last);
    }

    /**
     * The last transaction is torn at every byte offset of its journal writes: replay must give
     * exactly the state before it, and the state after it only when every byte arrived.
     */
    @Test
    void tornTailAtEveryByteOffsetOfTheLastTransaction() throws Exception {
        long map = Superblock.layout(DEVICE_BLOCKS, 4096, 1000, 16).storeMapStart();
        SortedMap<Long, byte[]> t1 = transaction(1, Superblock.ANCHOR_BLOCK, map);
        SortedMap<Long, byte[]> t2 = transaction(2, Superblock.ANCHOR_BLOCK, map);
        long last = 4L * MetaDevice.BLOCK_SIZE; // descriptor, two images, commit
        for (long cut = 0; cut <= last; cut++) {
            MetaDevice dev = fresh();
            Journal j = Journal.format(dev, layout);
            j.commit(t1);
            crashing.failFlushAfter(0);
            assertThatThrownBy(() -> j.commit(t2)).isInstanceOf(IOException.class);
            // Pending: t1's home writes (not flushed yet), then t2's four journal blocks.
            long pending = crashing.pendingBytes();
            assertThat(pending).isEqualTo(last + 2L * MetaDevice.BLOCK_SIZE);
            crashing.powerCutPrefix(pending - last + cut);
            Journal.open(dev);
            try {
                assertHome(dev, cut == last ? t2 : t1);
            } catch (AssertionError e) {
                throw new AssertionError("torn at byte " + cut + " of " + last, e);
            }
            dev.close();
            crashing.close();
            ram.close();
        }
        crashing = null;
        ram = null;
    }

    /** Any subset of the last transaction's writes: all or nothing, never a mix. */
    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 4, 5, 6, 7, 8})
    void anySubsetOfTheLastTransactionIsAllOrNothing(long seed) throws Exception {
        Random rnd = new Random(seed);
        for (int round = 0; round < 50; round++) {
            MetaDevice dev = fresh();
            long map = layout.storeMapStart();
            Journal j = Journal.format(dev, layout);
            int before = rnd.nextInt(6);
            SortedMap<Long, byte[]> prev = transaction(100, Superblock.ANCHOR_BLOCK, map, map + 1);
            j.commit(prev);
            for (int i = 0; i < before; i++) {
                prev = transaction(200 + i, Superblock.ANCHOR_BLOCK, map, map + 1);
                j.commit(prev);
            }
            SortedMap<Long, byte[]> next = transaction(300, Superblock.ANCHOR_BLOCK, map, map + 1);
            crashing.failFlushAfter(0);
            assertThatThrownBy(() -> j.commit(next)).isInstanceOf(IOException.class);
            int n = crashing.pendingWrites();
            long mask = rnd.nextLong();
            // Pending: the previous transaction's three home writes, then (unless the crash hit
            // the checkpoint that makes room in the journal) the last one's five journal writes.
            long journalWrites = ((1L << 5) - 1) << 3;
            boolean all = n == 8 && (mask & journalWrites) == journalWrites;
            crashing.powerCut(i -> (mask >>> i & 1) != 0);
            Journal.open(dev);
            try {
                assertHome(dev, all ? next : prev);
            } catch (AssertionError e) {
                throw new AssertionError("round " + round + ": kept " + Long.toBinaryString(mask & ((1L << n) - 1))
                        + " of " + n + " writes", e);
            }
            dev.close();
            crashing.close();
            ram.close();
        }
        crashing = null;
        ram = null;
    }

    @Test
    void aTornSuperblockFallsBackToTheOtherCopy() throws Exception {
        MetaDevice dev = fresh();
        Journal j = Journal.format(dev, layout);
        SortedMap<Long, byte[]> t1 = transaction(1, Superblock.ANCHOR_BLOCK);
        j.commit(t1);
        // Fail the checkpoint's second flush: the new superblock copy is written but maybe torn.
        crashing.failFlushAfter(1);
        assertThatThrownBy(j::close).isInstanceOf(IOException.class);
        crashing.powerCutPrefix(100);
        Journal.open(dev);
        assertHome(dev, t1);
    }

    @Test
    void noValidSuperblockIsRefusedNamingBothCopies() throws Exception {
        MetaDevice dev = fresh();
        assertThatThrownBy(() -> Journal.open(dev))
                .isInstanceOf(MetadataCorruptException.class)
                .hasMessageContaining("no valid superblock")
                .hasMessageContaining("superblock at block 0: magic 0xffffffff != 0x53444453")
                .hasMessageContaining("superblock at block 1");
    }

    @Test
    void transactionsOverTheLimitAreRefused() throws Exception {
        MetaDevice dev = fresh();
        Journal j = Journal.format(dev, layout);
        SortedMap<Long, byte[]> big = new TreeMap<>();
        for (long b = 0; b < 15; b++) {
            big.put(layout.nodeStart() + b, image(b));
        }
        assertThatThrownBy(() -> j.commit(big)).hasMessageContaining("transaction of 15 blocks exceeds the limit 14");
    }
}
