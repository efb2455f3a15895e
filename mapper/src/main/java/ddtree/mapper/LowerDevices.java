package ddtree.mapper;

import ddtree.block.BlockDevice;
import java.util.ArrayList;
import java.util.List;

/**
 * The lower devices one target took from its context, so that they all go back when the target
 * closes, or when its construction fails halfway (device-mapper's {@code while (i--) dm_put_device}).
 */
public final class LowerDevices {
    private final TargetContext ctx;
    private final List<String> names = new ArrayList<>();
    private final List<BlockDevice> devices = new ArrayList<>();

    public LowerDevices(TargetContext ctx) {
        this.ctx = ctx;
    }

    /** Looks up a device and remembers it for {@link #release}. */
    public BlockDevice get(String nameOrPath) throws TableException {
        BlockDevice d = ctx.lowerDevice(nameOrPath);
        if (d == null) {
            throw new TableException("no device or file '" + nameOrPath + "'");
        }
        names.add(nameOrPath);
        devices.add(d);
        return d;
    }

    /** The names as the table gave them, in the order taken. */
    public List<String> names() {
        return List.copyOf(names);
    }

    /** Gives every device back, last taken first; later calls do nothing. */
    public void release() {
        for (int i = devices.size() - 1; i >= 0; i--) {
            ctx.releaseLowerDevice(names.get(i), devices.get(i));
        }
        names.clear();
        devices.clear();
    }
}
