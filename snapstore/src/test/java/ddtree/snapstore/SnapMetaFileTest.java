package ddtree.snapstore;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ddtree.block.BufferPool;
import ddtree.block.device.FileDevice;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The engine over a real file, where flushes complete on the device's own thread. */
class SnapMetaFileTest {
    @TempDir
    Path dir;

    @Test
    void formatWriteCloseReopenOnAFile() throws Exception {
        BufferPool pool = new BufferPool(64L << 20, 0);
        Path file = dir.resolve("meta");
        try (FileDevice fd = FileDevice.open("meta", file, 1024L * MetaDevice.BLOCK_SIZE, false);
                MetaDevice dev = new MetaDevice(fd, pool)) {
            SnapMeta meta = SnapMeta.format(dev, 4096, 10_000, 32);
            for (long k = 0; k < 500; k++) {
                long chunk = meta.chunks().allocate();
                meta.tree().put(k * 7, List.of(new SharedChunk(chunk, SharingSet.range(k, k + 65_535))));
                if (k % 25 == 24) {
                    meta.commit();
                }
            }
            meta.close();
        }
        try (FileDevice fd = FileDevice.open("meta", file, 0, true);
                MetaDevice dev = new MetaDevice(fd, pool)) {
            // Read-only: open replays nothing, but its checkpoint write is refused, naming the device.
            assertThatThrownBy(() -> SnapMeta.open(dev)).hasMessageContaining("on meta: EPERM");
        }
        try (FileDevice fd = FileDevice.open("meta", file, 0, false);
                MetaDevice dev = new MetaDevice(fd, pool)) {
            SnapMeta meta = SnapMeta.open(dev);
            assertThat(meta.tree().size()).isEqualTo(500);
            assertThat(meta.chunks().free()).isEqualTo(10_000 - 500);
            assertThat(meta.tree().lookup(7 * 321).getFirst().sharers()).isEqualTo(SharingSet.range(321, 321 + 65_535));
            meta.tree().check();
            meta.close();
        }
    }

    @Test
    void aSuperblockWithAreasOutsideTheDeviceIsRefused() throws Exception {
        try (MetaFixture f = new MetaFixture(256)) {
            SnapMeta.format(f.dev, 4096, 1000, 16).close();
            try (MetaFixture small = new MetaFixture(128)) {
                byte[] image = new byte[MetaDevice.BLOCK_SIZE];
                for (long b = 0; b < 128; b++) {
                    f.dev.read(b, image);
                    small.dev.write(b, image);
                }
                assertThatThrownBy(() -> SnapMeta.open(small.dev))
                        .isInstanceOf(MetadataCorruptException.class)
                        .hasMessageMatching("superblock copy [01] \\(sequence \\d+\\): node area \\d+\\+\\d+ does not fit"
                                + " the device's 128 blocks");
            }
        }
    }
}
