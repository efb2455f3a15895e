package ddtree.block.device;

import ddtree.block.Bio;
import ddtree.block.device.DeviceModel.Action;
import ddtree.block.device.DeviceModel.Action.Kind;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.LongStream;

/**
 * Random workloads for device property tests: unaligned offsets and lengths, many near block and
 * page boundaries. Each workload comes from a seed, so a failing case is replayed by its seed,
 * which the parameterized test prints in its name.
 */
final class DeviceActions {
    private static final Kind[] KINDS_BY_WEIGHT = {
        Kind.WRITE, Kind.WRITE, Kind.WRITE, Kind.WRITE,
        Kind.READ, Kind.READ, Kind.READ,
        Kind.DISCARD, Kind.DISCARD,
        Kind.WRITE_ZEROES, Kind.WRITE_ZEROES,
        Kind.FLUSH,
    };
    private static final int[] EDGE_LENGTHS = {1, 511, 512, 4095, 4096, 4097, 65535, 65536, 65537, 131072};
    private static final int[] FLAGS = {0, Bio.FUA, Bio.NO_HOLE, Bio.FAST_ZERO, Bio.NO_HOLE | Bio.FAST_ZERO};

    private DeviceActions() {}

    /** Seeds {@code first, first+1, ...}: {@code count} workloads per property. */
    static LongStream seeds(long first, int count) {
        return LongStream.range(first, first + count);
    }

    /** Between 1 and 40 actions on a device of {@code size} bytes, all from {@code seed}. */
    static List<Action> workload(long seed, long size) {
        Random rnd = new Random(seed);
        int n = 1 + rnd.nextInt(40);
        List<Action> actions = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            actions.add(action(rnd, size));
        }
        return actions;
    }

    private static Action action(Random rnd, long size) {
        Kind kind = KINDS_BY_WEIGHT[rnd.nextInt(KINDS_BY_WEIGHT.length)];
        long offset;
        if (rnd.nextBoolean()) {
            offset = rnd.nextLong(size);
        } else { // within a few bytes of a 4 KiB block boundary
            long block = rnd.nextLong(size / 4096 + 1);
            offset = Math.floorMod(block * 4096 + rnd.nextInt(7) - 3, size);
        }
        int length = rnd.nextBoolean() ? 1 + rnd.nextInt(200_000) : EDGE_LENGTHS[rnd.nextInt(EDGE_LENGTHS.length)];
        int flags = FLAGS[rnd.nextInt(FLAGS.length)];
        return new Action(kind, offset, length, flags, rnd.nextInt(256));
    }
}
