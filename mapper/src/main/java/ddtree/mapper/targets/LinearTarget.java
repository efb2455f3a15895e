package ddtree.mapper.targets;

import ddtree.block.Bio;
import ddtree.block.BlockDevice;
import ddtree.block.Capabilities;
import ddtree.block.Dispatch;
import ddtree.block.Extents;
import ddtree.mapper.LowerDevices;
import ddtree.mapper.SimpleTargetType;
import ddtree.mapper.StatusType;
import ddtree.mapper.TableException;
import ddtree.mapper.TableLine;
import ddtree.mapper.Target;
import ddtree.mapper.TargetArgs;
import ddtree.mapper.TargetContext;
import ddtree.mapper.TargetType;
import java.io.IOException;
import java.util.List;

/** {@code linear <dev> <offset>}: a range of another device, moved by a fixed offset. */
public final class LinearTarget implements Target {
    public static final TargetType TYPE = new SimpleTargetType("linear", "1.0.0", LinearTarget::create);

    private final LowerDevices lowers;
    private final String devName;
    private final BlockDevice dev;
    private final long offsetSectors;
    private final long offsetBytes;

    private LinearTarget(LowerDevices lowers, String devName, BlockDevice dev, long offsetSectors) {
        this.lowers = lowers;
        this.devName = devName;
        this.dev = dev;
        this.offsetSectors = offsetSectors;
        this.offsetBytes = offsetSectors * TableLine.SECTOR;
    }

    private static Target create(TargetContext ctx, String deviceName, TableLine line) throws TableException {
        TargetArgs.count(line.args(), 2, "<dev> <offset>");
        long offset = TargetArgs.sectors("offset", line.args().get(1));
        LowerDevices lowers = new LowerDevices(ctx);
        try {
            String name = line.args().get(0);
            BlockDevice dev = lowers.get(name);
            TargetArgs.fits(name, dev, offset, line.length());
            return new LinearTarget(lowers, name, dev, offset);
        } catch (TableException | RuntimeException e) {
            lowers.release();
            throw e;
        }
    }

    @Override
    public void map(Bio bio) {
        bio.remap(bio.offset() + offsetBytes);
        Dispatch.submit(dev, bio);
    }

    @Override
    public String status(StatusType type) {
        return type == StatusType.TABLE ? devName + " " + offsetSectors : "";
    }

    @Override
    public List<String> dependencies() {
        return List.of(devName);
    }

    @Override
    public Capabilities capabilities() {
        return dev.capabilities();
    }

    @Override
    public BlockDevice flushDevice() {
        return dev;
    }

    @Override
    public void extents(long offset, long length, Extents out) throws IOException {
        dev.extents(offset + offsetBytes, length, out);
    }

    @Override
    public void close() {
        lowers.release();
    }

    @Override
    public String toString() {
        return "linear " + devName + " " + offsetSectors;
    }
}
