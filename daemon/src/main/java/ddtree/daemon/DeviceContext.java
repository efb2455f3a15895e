package ddtree.daemon;

import ddtree.block.BlockDevice;
import ddtree.block.BufferPool;
import ddtree.mapper.TableException;
import ddtree.mapper.TargetContext;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What one device's targets see of the daemon: lower devices are looked up in the registry (so
 * the registry can count who stacks on whom and refuse cycles), and events go to subscribers
 * under the device's current name.
 */
final class DeviceContext implements TargetContext {
    private final DeviceRegistry registry;
    private volatile String name;
    /** Lower names this device's tables (live and inactive) hold, with how many targets hold each. */
    private final Map<String, Integer> holds = new LinkedHashMap<>();

    DeviceContext(DeviceRegistry registry, String name) {
        this.registry = registry;
        this.name = name;
    }

    String name() {
        return name;
    }

    void rename(String newName) {
        name = newName;
    }

    /** The lower names held now; the registry reads it under its lock. */
    Map<String, Integer> holds() {
        return holds;
    }

    @Override
    public BlockDevice lowerDevice(String nameOrPath) throws TableException {
        synchronized (registry) {
            BlockDevice d = registry.lend(this, nameOrPath);
            holds.merge(nameOrPath, 1, Integer::sum);
            return d;
        }
    }

    @Override
    public void releaseLowerDevice(String nameOrPath, BlockDevice device) {
        synchronized (registry) {
            holds.computeIfPresent(nameOrPath, (k, n) -> n == 1 ? null : n - 1);
            registry.giveBack(nameOrPath, device);
        }
    }

    @Override
    public void event(String deviceName, String text) {
        registry.targetEvent(name, text);
    }

    @Override
    public BufferPool buffers() {
        return registry.buffers();
    }
}
