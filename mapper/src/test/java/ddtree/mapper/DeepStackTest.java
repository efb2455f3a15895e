package ddtree.mapper;

import static org.assertj.core.api.Assertions.assertThat;

import ddtree.block.DeviceIo;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A thousand devices stacked, each linear over the one below, on a ram target. Every tenth layer
 * has two lines, so requests across its middle split there too. The I/O runs on a thread with a
 * small stack: submission and completion must both use constant call-stack depth.
 */
@Timeout(60)
class DeepStackTest {
    private static final int DEPTH = 1000;

    @Test
    void thousandDeepStack() throws Exception {
        TestContext ctx = new TestContext();
        List<MappedDevice> devices = new ArrayList<>();
        devices.add(MappedDevice.create("d0", TableParser.parse("0 2048 ram"), ctx, TargetTypes.builtin()));
        ctx.put("d0", devices.get(0));
        for (int i = 1; i <= DEPTH; i++) {
            String below = "d" + (i - 1);
            String table = i % 10 == 0
                    ? "0 1024 linear " + below + " 0\n1024 1024 linear " + below + " 1024"
                    : "0 2048 linear " + below + " 0";
            MappedDevice d = MappedDevice.create("d" + i, TableParser.parse(table), ctx, TargetTypes.builtin());
            devices.add(d);
            ctx.put("d" + i, d);
        }
        MappedDevice top = devices.get(DEPTH);
        CompletableFuture<Void> done = new CompletableFuture<>();
        Thread t = new Thread(null, () -> {
            try (DeviceIo io = new DeviceIo(top)) {
                for (int i = 0; i < 20; i++) {
                    long offset = 1024L * 512 - 3000 + i * 97L; // across the split point
                    byte[] data = DeviceIo.pattern(6000, i);
                    assertThat(io.write(offset, data)).isZero();
                    assertThat(io.read(offset, 6000)).isEqualTo(data);
                }
                assertThat(io.flush()).isZero();
                done.complete(null);
            } catch (Throwable e) {
                done.completeExceptionally(e);
            }
        }, "small-stack", 256 << 10);
        t.start();
        done.get(50, TimeUnit.SECONDS);
        try (DeviceIo io = new DeviceIo(devices.get(0))) {
            assertThat(io.read(1024L * 512 - 3000 + 19 * 97L, 6000)).isEqualTo(DeviceIo.pattern(6000, 19));
        }
        for (int i = DEPTH; i >= 0; i--) {
            devices.get(i).close();
        }
        assertThat(ctx.references()).isZero();
    }
}
