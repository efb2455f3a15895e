package ddtree.mapper;

import ddtree.block.BlockDevice;
import ddtree.block.Capabilities;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** A built table: its lines and targets, with byte starts for the binary search of each bio. */
final class Table {
    private static final Logger LOG = LoggerFactory.getLogger(Table.class);

    final List<TableLine> lines;
    final Target[] targets;
    /** Byte start of each target, ascending; starts[0] == 0. */
    final long[] starts;
    /** Byte end of each target. */
    final long[] ends;
    final long size;
    final Capabilities capabilities;
    /** The targets a zero-length FLUSH goes to: all but those whose flush device an earlier one has. */
    final Target[] flushTargets;

    private Table(List<TableLine> lines, Target[] targets) {
        this.lines = List.copyOf(lines);
        this.targets = targets;
        int n = targets.length;
        starts = new long[n];
        ends = new long[n];
        for (int i = 0; i < n; i++) {
            starts[i] = lines.get(i).startBytes();
            ends[i] = starts[i] + lines.get(i).lengthBytes();
        }
        size = ends[n - 1];
        capabilities = combine(targets);
        flushTargets = flushTargets(targets);
    }

    private static Target[] flushTargets(Target[] targets) {
        List<Target> out = new ArrayList<>();
        Set<BlockDevice> seen = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        for (Target t : targets) {
            BlockDevice d = t.flushDevice();
            if (d == null || seen.add(d)) {
                out.add(t);
            }
        }
        return out.toArray(Target[]::new);
    }

    /**
     * Builds every target of {@code lines}, or none: when one fails, those already built are
     * closed (giving back their lower devices) and the error names the line.
     */
    static Table build(String deviceName, List<TableLine> lines, TargetContext ctx, TargetTypes types)
            throws TableException {
        TableParser.validate(lines);
        TargetType[] kinds = new TargetType[lines.size()];
        for (int i = 0; i < kinds.length; i++) {
            // every type first, so that a misspelt type on a late line costs no connection or file opened
            String type = lines.get(i).type();
            int n = i + 1;
            kinds[i] = types.find(type).orElseThrow(
                    () -> new TableException("table line " + n + ": unknown target type '" + type + "'"));
        }
        Target[] targets = new Target[lines.size()];
        int built = 0;
        try {
            for (; built < targets.length; built++) {
                TableLine line = lines.get(built);
                String prefix = "table line " + (built + 1) + ": ";
                try {
                    targets[built] = kinds[built].create(ctx, deviceName, line);
                } catch (TableException e) {
                    throw new TableException(prefix + line.type() + ": " + e.getMessage());
                } catch (RuntimeException e) {
                    LOG.error("building {} for device {} failed", line, deviceName, e);
                    throw new TableException(prefix + line.type() + ": " + e);
                }
            }
            return new Table(lines, targets);
        } catch (TableException e) {
            while (built-- > 0) {
                closeQuietly(targets[built]);
            }
            throw e;
        }
    }

    /** The index of the target holding byte {@code offset}, which must be below {@link #size}. */
    int find(long offset) {
        int lo = 0;
        int hi = starts.length - 1;
        while (lo < hi) {
            int mid = (lo + hi + 1) >>> 1;
            if (starts[mid] <= offset) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        return lo;
    }

    List<String> dependencies() {
        Set<String> deps = new LinkedHashSet<>();
        for (Target t : targets) {
            deps.addAll(t.dependencies());
        }
        return List.copyOf(deps);
    }

    List<String> status(StatusType type) {
        List<String> out = new ArrayList<>(targets.length);
        for (int i = 0; i < targets.length; i++) {
            TableLine l = lines.get(i);
            String s = targets[i].status(type);
            out.add(l.start() + " " + l.length() + " " + l.type() + (s.isEmpty() ? "" : " " + s));
        }
        return out;
    }

    void presuspend() {
        for (Target t : targets) {
            t.presuspend();
        }
    }

    void resume() {
        for (Target t : targets) {
            t.resume();
        }
    }

    void close() {
        for (Target t : targets) {
            closeQuietly(t);
        }
    }

    private static void closeQuietly(Target t) {
        try {
            t.close();
        } catch (RuntimeException e) {
            LOG.error("closing target {} failed", t, e);
        }
    }

    /**
     * What the whole table can do: an operation is advertised only when every target supports it.
     * Flush is the exception: it is advertised when any target has a cache to flush, because a
     * client that is told "no flush" never sends one and that target's writes would stay
     * volatile; targets with nothing to flush accept a FLUSH and complete it at once.
     */
    private static Capabilities combine(Target[] targets) {
        boolean flush = false;
        boolean fua = true;
        boolean discard = true;
        boolean zeroes = true;
        boolean fastZero = true;
        boolean extents = true;
        for (Target t : targets) {
            Capabilities c = t.capabilities();
            flush |= c.flush();
            fua &= c.fua();
            discard &= c.discard();
            zeroes &= c.writeZeroes();
            fastZero &= c.fastZero();
            extents &= c.extents();
        }
        return new Capabilities(flush, fua, discard, zeroes, fastZero, extents);
    }
}
