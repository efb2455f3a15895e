package ddtree.mapper.targets;

import ddtree.block.Bio;
import ddtree.block.Capabilities;
import ddtree.block.Errno;
import ddtree.block.Extents;
import ddtree.block.Op;
import ddtree.mapper.SimpleTargetType;
import ddtree.mapper.StatusType;
import ddtree.mapper.Target;
import ddtree.mapper.TargetArgs;
import ddtree.mapper.TargetType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

/** {@code zero}: reads return zeroes, writes are thrown away (dm-zero). */
public final class ZeroTarget implements Target {
    public static final TargetType TYPE = new SimpleTargetType("zero", "1.0.0", (ctx, device, line) -> {
        TargetArgs.count(line.args(), 0, "");
        return new ZeroTarget();
    });

    /** Copied from rather than slicing the bio's buffer, so that a read allocates nothing. */
    private static final MemorySegment ZEROES = Arena.global().allocate(64 << 10, 4096);

    private ZeroTarget() {}

    @Override
    public void map(Bio bio) {
        if (bio.op() == Op.READ) {
            MemorySegment dst = bio.buffer().segment();
            long at = bio.bufferOffset();
            for (long left = bio.length(); left > 0; ) {
                long n = Math.min(left, ZEROES.byteSize());
                MemorySegment.copy(ZEROES, 0, dst, at, n);
                at += n;
                left -= n;
            }
        }
        bio.complete(Errno.OK);
    }

    @Override
    public String status(StatusType type) {
        return "";
    }

    @Override
    public List<String> dependencies() {
        return List.of();
    }

    /** Everything, trivially: there is nothing to flush and zeroing is free. */
    @Override
    public Capabilities capabilities() {
        return Capabilities.ALL;
    }

    @Override
    public void extents(long offset, long length, Extents out) {
        out.add(length, Extents.HOLE | Extents.ZERO);
    }

    @Override
    public void close() {}

    @Override
    public String toString() {
        return "zero";
    }
}
