package ddtree.mapper.targets;

import ddtree.block.Bio;
import ddtree.block.Capabilities;
import ddtree.block.Errno;
import ddtree.mapper.SimpleTargetType;
import ddtree.mapper.StatusType;
import ddtree.mapper.Target;
import ddtree.mapper.TargetArgs;
import ddtree.mapper.TargetType;
import java.util.List;

/** {@code error}: every request fails with EIO, flushes included (dm-error). */
public final class ErrorTarget implements Target {
    public static final TargetType TYPE = new SimpleTargetType("error", "1.0.0", (ctx, device, line) -> {
        TargetArgs.count(line.args(), 0, "");
        return new ErrorTarget();
    });

    private ErrorTarget() {}

    @Override
    public void map(Bio bio) {
        bio.complete(Errno.EIO);
    }

    @Override
    public String status(StatusType type) {
        return "";
    }

    @Override
    public List<String> dependencies() {
        return List.of();
    }

    /** All, so that a table with an error hole still offers its other targets' features; they fail here. */
    @Override
    public Capabilities capabilities() {
        return Capabilities.ALL;
    }

    @Override
    public void close() {}

    @Override
    public String toString() {
        return "error";
    }
}
