package ddtree.mapper;

import ddtree.block.BlockDevice;
import ddtree.block.BufferPool;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** A target context for tests: lower devices from a map, events and references recorded. */
public final class TestContext implements TargetContext {
    private final Map<String, BlockDevice> devices = new HashMap<>();
    private final Map<String, Integer> references = new HashMap<>();
    private final List<String> events = Collections.synchronizedList(new ArrayList<>());
    private final BufferPool buffers = new BufferPool(64L << 20, 0);

    public TestContext put(String name, BlockDevice device) {
        devices.put(name, device);
        return this;
    }

    @Override
    public synchronized BlockDevice lowerDevice(String nameOrPath) throws TableException {
        BlockDevice d = devices.get(nameOrPath);
        if (d == null) {
            throw new TableException("no device or file '" + nameOrPath + "'");
        }
        references.merge(nameOrPath, 1, Integer::sum);
        return d;
    }

    @Override
    public synchronized void releaseLowerDevice(String nameOrPath, BlockDevice device) {
        if (devices.get(nameOrPath) != device) {
            throw new AssertionError("released " + nameOrPath + " that was not lent");
        }
        int n = references.merge(nameOrPath, -1, Integer::sum);
        if (n < 0) {
            throw new AssertionError("released " + nameOrPath + " more often than taken");
        }
    }

    /** References held now, over all devices. */
    public synchronized int references() {
        return references.values().stream().mapToInt(Integer::intValue).sum();
    }

    public synchronized int references(String name) {
        return references.getOrDefault(name, 0);
    }

    @Override
    public void event(String deviceName, String text) {
        events.add(deviceName + ": " + text);
    }

    public List<String> events() {
        synchronized (events) {
            return List.copyOf(events);
        }
    }

    @Override
    public BufferPool buffers() {
        return buffers;
    }
}
