package ddtree.snapstore;

import ddtree.block.BufferPool;
import ddtree.block.device.RamDevice;
import java.io.IOException;

/** A RAM-backed metadata device behind a {@link CrashingDevice}, for the engine's tests. */
final class MetaFixture implements AutoCloseable {
    final BufferPool pool = new BufferPool(64L << 20, 0);
    final RamDevice ram;
    final CrashingDevice crashing;
    final MetaDevice dev;

    MetaFixture(long blocks) throws Exception {
        ram = new RamDevice("meta", blocks * MetaDevice.BLOCK_SIZE);
        crashing = new CrashingDevice(ram, pool);
        dev = new MetaDevice(crashing, pool);
    }

    @Override
    public void close() throws IOException {
        dev.close();
        crashing.close();
        ram.close();
    }
}
