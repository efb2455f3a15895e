package ddtree.mapper.targets;

import ddtree.block.Bio;
import ddtree.block.Capabilities;
import ddtree.block.Dispatch;
import ddtree.block.Extents;
import ddtree.block.device.RamDevice;
import ddtree.mapper.SimpleTargetType;
import ddtree.mapper.StatusType;
import ddtree.mapper.Target;
import ddtree.mapper.TargetArgs;
import ddtree.mapper.TargetType;
import java.util.List;

/**
 * {@code ram}: sparse memory of the target's length, owned by the target and freed when it
 * closes; a reload that keeps the data must map the old device rather than build a new ram target.
 */
public final class RamTarget implements Target {
    public static final TargetType TYPE = new SimpleTargetType("ram", "1.0.0", (ctx, device, line) -> {
        TargetArgs.count(line.args(), 0, "");
        try {
            return new RamTarget(new RamDevice(device + "@" + line.start(), line.lengthBytes()));
        } catch (IllegalArgumentException e) {
            throw new ddtree.mapper.TableException("length " + line.length() + " sectors is too large for memory: "
                    + e.getMessage());
        }
    });

    private final RamDevice ram;

    private RamTarget(RamDevice ram) {
        this.ram = ram;
    }

    @Override
    public void map(Bio bio) {
        Dispatch.submit(ram, bio);
    }

    /** INFO: the bytes of memory the target holds now. */
    @Override
    public String status(StatusType type) {
        return type == StatusType.INFO ? Long.toString(ram.allocatedBytes()) : "";
    }

    @Override
    public List<String> dependencies() {
        return List.of();
    }

    @Override
    public Capabilities capabilities() {
        return ram.capabilities();
    }

    @Override
    public void extents(long offset, long length, Extents out) {
        ram.extents(offset, length, out);
    }

    @Override
    public void close() {
        ram.close();
    }

    @Override
    public String toString() {
        return "ram " + ram.name();
    }
}
