package ddtree.mapper.targets;

import static org.assertj.core.api.Assertions.assertThat;

import ddtree.block.DeviceIo;
import ddtree.block.Op;
import ddtree.block.device.RamDevice;
import ddtree.mapper.MappedDevice;
import ddtree.mapper.StatusType;
import ddtree.mapper.TableParser;
import ddtree.mapper.TargetTypes;
import ddtree.mapper.TestContext;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(30)
class DelayTargetTest {
    private final RamDevice a = new RamDevice("a", 1 << 20);
    private final RamDevice b = new RamDevice("b", 1 << 20);
    private final TestContext ctx = new TestContext().put("a", a).put("b", b);

    @AfterEach
    void close() {
        a.close();
        b.close();
    }

    private static long millisSince(long start) {
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    }

    @Test
    void delaysEachRequestByItsClass() throws Exception {
        try (MappedDevice d = MappedDevice.create("dl", TableParser.parse("0 1024 delay a 0 0 b 8 150"), ctx,
                TargetTypes.builtin()); DeviceIo io = new DeviceIo(d)) {
            long start = System.nanoTime();
            DeviceIo.Pending w = io.start(Op.WRITE, 0, 512, DeviceIo.pattern(512, 1));
            Thread.sleep(30);
            assertThat(d.status(StatusType.INFO)).containsExactly("0 1024 delay 0 1");
            assertThat(w.await()).isZero();
            assertThat(millisSince(start)).as("write delay").isBetween(150L, 5000L);
            assertThat(new DeviceIo(b).read(8 * 512, 512)).as("writes go to the write device").isEqualTo(DeviceIo.pattern(512, 1));
            assertThat(d.status(StatusType.INFO)).containsExactly("0 1024 delay 0 0");

            start = System.nanoTime();
            assertThat(io.flush()).isZero();
            assertThat(millisSince(start)).as("flushes follow writes").isBetween(150L, 5000L);
        }
    }

    @Test
    void manyDelayedRequestsAllArriveInOrder() throws Exception {
        try (MappedDevice d = MappedDevice.create("dl", TableParser.parse("0 1024 delay a 0 50"), ctx,
                TargetTypes.builtin()); DeviceIo io = new DeviceIo(d)) {
            long start = System.nanoTime();
            List<DeviceIo.Pending> pending = new ArrayList<>();
            for (int i = 0; i < 40; i++) {
                pending.add(io.start(Op.WRITE, 0, 512, DeviceIo.pattern(512, i)));
            }
            for (DeviceIo.Pending p : pending) {
                assertThat(p.await()).isZero();
            }
            assertThat(millisSince(start)).isBetween(50L, 5000L);
            assertThat(io.read(0, 512)).isEqualTo(DeviceIo.pattern(512, 39));
        }
    }

    @Test
    void suspendSendsDelayedRequestsDownAtOnce() throws Exception {
        try (MappedDevice d = MappedDevice.create("dl", TableParser.parse("0 1024 delay a 0 20000"), ctx,
                TargetTypes.builtin()); DeviceIo io = new DeviceIo(d)) {
            DeviceIo.Pending w = io.start(Op.WRITE, 0, 512, DeviceIo.pattern(512, 5));
            long start = System.nanoTime();
            d.suspend();
            assertThat(millisSince(start)).isLessThan(5000L);
            assertThat(w.await()).isZero();
            d.resume();
            assertThat(d.status(StatusType.TABLE)).containsExactly("0 1024 delay a 0 20000");
        }
    }
}
