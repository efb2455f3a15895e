package ddtree.snapstore;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ddtree.block.device.RamDevice;
import java.io.IOException;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** The crash model itself: what reaches the durable medium, and when. */
class CrashingDeviceTest {
    private static byte[] filled(int value) {
        byte[] b = new byte[MetaDevice.BLOCK_SIZE];
        Arrays.fill(b, (byte) value);
        return b;
    }

    /** Reads block {@code block} from the durable medium, bypassing the cache. */
    private static byte[] durable(MetaFixture f, long block) throws Exception {
        try (MetaDevice raw = new MetaDevice(f.ram, f.pool)) {
            byte[] b = new byte[MetaDevice.BLOCK_SIZE];
            raw.read(block, b);
            return b;
        }
    }

    @Test
    void writesReachTheMediumOnlyAtAFlushButReadsSeeThemAtOnce() throws Exception {
        try (MetaFixture f = new MetaFixture(8)) {
            f.dev.write(3, filled(7));
            byte[] b = new byte[MetaDevice.BLOCK_SIZE];
            f.dev.read(3, b);
            assertThat(b).isEqualTo(filled(7));
            assertThat(durable(f, 3)).isEqualTo(filled(0));
            assertThat(f.crashing.pendingWrites()).isEqualTo(1);
            f.dev.flush();
            assertThat(durable(f, 3)).isEqualTo(filled(7));
            assertThat(f.crashing.pendingWrites()).isZero();
            assertThat(f.crashing.flushes()).isEqualTo(1);
        }
    }

    @Test
    void aPowerCutKeepsTheChosenWritesOrAPrefix() throws Exception {
        try (MetaFixture f = new MetaFixture(8)) {
            f.dev.write(1, filled(1));
            f.dev.write(2, filled(2));
            f.dev.write(1, filled(3));
            f.crashing.powerCut(i -> i == 1);
            assertThat(durable(f, 1)).isEqualTo(filled(0));
            assertThat(durable(f, 2)).isEqualTo(filled(2));

            f.dev.write(4, filled(4));
            f.dev.write(5, filled(5));
            f.crashing.powerCutPrefix(MetaDevice.BLOCK_SIZE + 10);
            assertThat(durable(f, 4)).isEqualTo(filled(4));
            byte[] torn = filled(0);
            Arrays.fill(torn, 0, 10, (byte) 5);
            assertThat(durable(f, 5)).isEqualTo(torn);
        }
    }

    @Test
    void anArmedFlushFailsAndTheDeviceStaysDarkUntilThePowerCut() throws Exception {
        try (MetaFixture f = new MetaFixture(8)) {
            f.crashing.failFlushAfter(1);
            f.dev.flush();
            f.dev.write(2, filled(9));
            assertThatThrownBy(f.dev::flush).isInstanceOf(IOException.class).hasMessage("FLUSH on crashing(meta): EIO");
            assertThatThrownBy(() -> f.dev.read(2, new byte[MetaDevice.BLOCK_SIZE]))
                    .hasMessage("READ of metadata block 2 on crashing(meta): EIO");
            f.crashing.powerCut(i -> false);
            byte[] b = new byte[MetaDevice.BLOCK_SIZE];
            f.dev.read(2, b);
            assertThat(b).isEqualTo(filled(0));
        }
    }

    @Test
    void devicesOnOnePowerSupplyGoDarkTogetherAndComeBackTogether() throws Exception {
        try (MetaFixture f = new MetaFixture(8)) {
            CrashingDevice.Power power = new CrashingDevice.Power();
            CrashingDevice a = new CrashingDevice(f.ram, f.pool, power);
            RamDevice otherRam = new RamDevice("other", 8L * MetaDevice.BLOCK_SIZE);
            CrashingDevice b = new CrashingDevice(otherRam, f.pool, power);
            try (MetaDevice da = new MetaDevice(a, f.pool); MetaDevice db = new MetaDevice(b, f.pool)) {
                db.write(1, filled(6));
                a.failFlushAfter(0);
                assertThatThrownBy(da::flush).hasMessage("FLUSH on crashing(meta): EIO");
                assertThatThrownBy(() -> db.read(1, new byte[MetaDevice.BLOCK_SIZE]))
                        .hasMessage("READ of metadata block 1 on crashing(other): EIO");
                a.powerCut(i -> true);
                b.powerCut(i -> true);
                assertThatThrownBy(db::flush).hasMessage("FLUSH on crashing(other): EIO");
                power.restore();
                byte[] got = new byte[MetaDevice.BLOCK_SIZE];
                db.read(1, got);
                assertThat(got).isEqualTo(filled(6));
            } finally {
                a.close();
                b.close();
                otherRam.close();
            }
        }
    }
}
