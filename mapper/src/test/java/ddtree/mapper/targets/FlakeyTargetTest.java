package ddtree.mapper.targets;

import static org.assertj.core.api.Assertions.assertThat;

import ddtree.block.DeviceIo;
import ddtree.block.Errno;
import ddtree.block.device.RamDevice;
import ddtree.mapper.MappedDevice;
import ddtree.mapper.StatusType;
import ddtree.mapper.TableException;
import ddtree.mapper.TableParser;
import ddtree.mapper.TargetTypes;
import ddtree.mapper.TestContext;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(30)
class FlakeyTargetTest {
    private final RamDevice ram = new RamDevice("r", 1 << 20);
    private final TestContext ctx = new TestContext().put("r", ram);

    @AfterEach
    void close() {
        ram.close();
    }

    private MappedDevice create(String args) throws TableException {
        return MappedDevice.create("fl", TableParser.parse("0 1024 flakey r 16 " + args), ctx, TargetTypes.builtin());
    }

    @Test
    void upPassesThroughWithItsOffset() throws Exception {
        try (MappedDevice d = create("60 0"); DeviceIo io = new DeviceIo(d)) {
            assertThat(io.write(100, DeviceIo.pattern(1000, 1))).isZero();
            assertThat(new DeviceIo(ram).read(16 * 512 + 100, 1000)).isEqualTo(DeviceIo.pattern(1000, 1));
            assertThat(d.status(StatusType.INFO)).containsExactly("0 1024 flakey up");
        }
    }

    @Test
    void downWithoutFeaturesFailsEverything() throws Exception {
        try (MappedDevice d = create("0 60"); DeviceIo io = new DeviceIo(d)) {
            assertThat(d.status(StatusType.INFO)).containsExactly("0 1024 flakey down");
            assertThat(io.readStatus(0, 512)).isEqualTo(Errno.EIO);
            assertThat(io.write(0, new byte[512])).isEqualTo(Errno.EIO);
            assertThat(io.flush()).isEqualTo(Errno.EIO);
            assertThat(io.discard(0, 512)).isEqualTo(Errno.EIO);
        }
    }

    @Test
    void dropWritesAcknowledgesWithoutWriting() throws Exception {
        try (MappedDevice d = create("60 0 1 drop_writes"); DeviceIo io = new DeviceIo(d)) {
            assertThat(io.write(0, DeviceIo.pattern(512, 1))).isZero();
            d.message(0, List.of("down"));
            assertThat(d.status(StatusType.INFO)).containsExactly("0 1024 flakey down forced");
            assertThat(io.write(0, DeviceIo.pattern(512, 2))).as("dropped, yet acknowledged").isZero();
            assertThat(io.read(0, 512)).as("reads still work").isEqualTo(DeviceIo.pattern(512, 1));
            d.message(0, List.of("up"));
            assertThat(io.write(0, DeviceIo.pattern(512, 3))).isZero();
            assertThat(io.read(0, 512)).isEqualTo(DeviceIo.pattern(512, 3));
        }
    }

    @Test
    void errorWritesAndErrorReads() throws Exception {
        try (MappedDevice d = create("60 0 1 error_writes"); DeviceIo io = new DeviceIo(d)) {
            d.message(0, List.of("down"));
            assertThat(io.write(0, new byte[512])).isEqualTo(Errno.EIO);
            assertThat(io.readStatus(0, 512)).isZero();
        }
        try (MappedDevice d = create("60 0 1 error_reads"); DeviceIo io = new DeviceIo(d)) {
            d.message(0, List.of("down"));
            assertThat(io.write(0, DeviceIo.pattern(512, 9))).isZero();
            assertThat(io.readStatus(0, 512)).isEqualTo(Errno.EIO);
            d.message(0, List.of("cycle"));
            assertThat(d.status(StatusType.INFO)).containsExactly("0 1024 flakey up");
            assertThat(io.read(0, 512)).isEqualTo(DeviceIo.pattern(512, 9));
        }
    }

    @Test
    void intervalsTakeTurnsAndReportEvents() throws Exception {
        try (MappedDevice d = create("1 1"); DeviceIo io = new DeviceIo(d)) {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            boolean sawUp = false;
            boolean sawDown = false;
            for (int i = 0; i < 1000 && !(sawUp && sawDown) && System.nanoTime() < deadline; i++) {
                int status = io.readStatus(0, 512);
                sawUp |= status == Errno.OK;
                sawDown |= status == Errno.EIO;
                Thread.sleep(20);
            }
            assertThat(sawUp).isTrue();
            assertThat(sawDown).isTrue();
            for (int i = 0; i < 500 && ctx.events().size() < 2 && System.nanoTime() < deadline; i++) {
                Thread.sleep(20);
            }
            assertThat(ctx.events()).startsWith("fl: flakey at sector 0 is down", "fl: flakey at sector 0 is up");
        }
    }

    @Test
    void eventsCarryTheNameOfTheMoment() throws Exception {
        try (MappedDevice d = create("60 0")) {
            d.rename("renamed");
            d.message(0, List.of("down"));
            assertThat(ctx.events()).containsExactly("renamed: flakey at sector 0 is down");
        }
    }
}
