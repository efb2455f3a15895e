package ddtree.ddsnap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ddtree.block.BufferPool;
import ddtree.block.device.RamDevice;
import ddtree.snapstore.SnapStore;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Arrays;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Deltas between snapshots of one store applied to a second store, compared chunk by chunk. */
class DeltaServiceTest {
    static final int CHUNK = 4096;
    static final long SIZE = 256 * CHUNK;

    final BufferPool pool = new BufferPool(64L << 20, 8L << 20);
    final SnapStores stores = new SnapStores();
    final DeltaService deltas = new DeltaService(stores);

    SnapStore volume(String name) throws IOException {
        RamDevice origin = new RamDevice(name + ".origin", SIZE);
        RamDevice store = new RamDevice(name + ".store", 24L << 20);
        return stores.acquire(name, name, () -> SnapStore.open(name, new SnapStore.Devices(origin, SIZE, store, null),
                CHUNK, 1024, pool, e -> { })).get();
    }

    @AfterEach
    void close() throws IOException {
        for (String v : new String[] {"src", "dst"}) {
            Optional<SharedStore> s = stores.shared(v);
            if (s.isPresent()) {
                stores.release(v, s.get());
            }
        }
    }

    static void write(SnapStore s, long offset, byte[] data) throws IOException {
        try (StoreIo io = new StoreIo(s, s.buffers())) {
            io.buffer().segment().asSlice(0, data.length).copyFrom(java.lang.foreign.MemorySegment.ofArray(data));
            io.writeOrigin(offset, data.length);
        }
    }

    static byte[] read(SnapStore s, String snap) throws IOException {
        long id = snap == null ? 0 : s.snapshot(snap).orElseThrow().id();
        byte[] all = new byte[(int) SIZE];
        try (StoreIo io = new StoreIo(s, s.buffers())) {
            for (long off = 0; off < SIZE; off += CHUNK) {
                if (id == 0) {
                    continue;
                }
                io.readSnapshot(id, off, CHUNK);
                io.buffer().segment().asSlice(0, CHUNK).asByteBuffer().get(all, (int) off, CHUNK);
            }
        }
        return all;
    }

    static byte[] send(DeltaService d, String volume, String from, String to, boolean compress) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        d.send(volume, Optional.ofNullable(from), to, compress, out, n -> { });
        return out.toByteArray();
    }

    @Test
    void fullThenIncrementalStreamsRebuildBothSnapshotsOnAnotherVolume() throws Exception {
        SnapStore src = volume("src");
        SnapStore dst = volume("dst");
        Random rnd = new Random(1);
        for (int i = 0; i < 100; i++) {
            byte[] b = new byte[CHUNK];
            rnd.nextBytes(b);
            write(src, rnd.nextInt(256) * (long) CHUNK, b);
        }
        src.createSnapshot("a", false, 0, 0);
        for (int i = 0; i < 30; i++) {
            byte[] b = new byte[1000];
            rnd.nextBytes(b);
            write(src, rnd.nextInt(256) * (long) CHUNK + 7, b);
        }
        write(src, 5 * CHUNK, new byte[CHUNK]);
        src.createSnapshot("b", false, 0, 0);

        byte[] full = send(deltas, "src", null, "a", true);
        byte[] inc = send(deltas, "src", "a", "b", true);
        assertThat(inc.length).isLessThan(full.length);

        deltas.receive("dst", false, new ByteArrayInputStream(full));
        assertThat(read(dst, "a")).isEqualTo(read(src, "a"));
        assertThat(dst.snapshot("a").orElseThrow().guid()).isEqualTo(src.snapshot("a").orElseThrow().guid());

        byte[] before = read(dst, "a");
        byte[] cut = Arrays.copyOf(inc, inc.length - 10);
        assertThatThrownBy(() -> deltas.receive("dst", false, new ByteArrayInputStream(cut)))
                .hasMessageContaining("delta stream refused").hasMessageContaining("is as it was");
        byte[] flipped = inc.clone();
        flipped[flipped.length / 2] ^= 4;
        assertThatThrownBy(() -> deltas.receive("dst", false, new ByteArrayInputStream(flipped)))
                .hasMessageContaining("delta stream refused");
        dst.settle();
        assertThat(dst.snapshots()).extracting(s -> s.name()).containsExactly("a");
        assertThat(read(dst, "a")).isEqualTo(before);

        deltas.receive("dst", false, new ByteArrayInputStream(inc));
        assertThat(read(dst, "b")).isEqualTo(read(src, "b"));
        assertThat(dst.check()).isPositive();

        // A stream made from another snapshot than the one here is refused before anything is written.
        src.createSnapshot("c", false, 0, 0);
        byte[] fromB = send(deltas, "src", "b", "c", false);
        byte[] fromWrongA = send(deltas, "src", "a", "c", false);
        dst.deleteSnapshot("b");
        assertThatThrownBy(() -> deltas.receive("dst", false, new ByteArrayInputStream(fromB)))
                .hasMessageContaining("does not have");
        assertThat(fromWrongA).isNotEmpty();
    }
}
