package ddtree.block.device;

import ddtree.block.Bio;
import ddtree.block.device.DeviceModel.Action;
import ddtree.block.device.DeviceModel.Action.Kind;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;

/** Random workloads for device property tests: unaligned offsets and lengths, many near boundaries. */
final class DeviceActions {
    private DeviceActions() {}

    static Arbitrary<List<Action>> workloads(long size) {
        return action(size).list().ofMinSize(1).ofMaxSize(40);
    }

    private static Arbitrary<Action> action(long size) {
        Arbitrary<Kind> kind = Arbitraries.frequencyOf(
                net.jqwik.api.Tuple.of(4, Arbitraries.just(Kind.WRITE)),
                net.jqwik.api.Tuple.of(3, Arbitraries.just(Kind.READ)),
                net.jqwik.api.Tuple.of(2, Arbitraries.just(Kind.DISCARD)),
                net.jqwik.api.Tuple.of(2, Arbitraries.just(Kind.WRITE_ZEROES)),
                net.jqwik.api.Tuple.of(1, Arbitraries.just(Kind.FLUSH)));
        // Anywhere, or within a few bytes of a 4 KiB block or a 64 KiB page boundary.
        Arbitrary<Long> anywhere = Arbitraries.longs().between(0, size - 1);
        Arbitrary<Long> nearBoundary = Combinators.combine(
                        Arbitraries.longs().between(0, size / 4096), Arbitraries.integers().between(-3, 3))
                .as((block, delta) -> Math.floorMod(block * 4096 + delta, size));
        Arbitrary<Long> offset = Arbitraries.oneOf(anywhere, nearBoundary);
        Arbitrary<Integer> length = Arbitraries.oneOf(
                Arbitraries.integers().between(1, 200_000),
                Arbitraries.of(1, 511, 512, 4095, 4096, 4097, 65535, 65536, 65537, 131072));
        Arbitrary<Integer> flags = Arbitraries.of(0, Bio.FUA, Bio.NO_HOLE, Bio.FAST_ZERO, Bio.NO_HOLE | Bio.FAST_ZERO);
        return Combinators.combine(kind, offset, length, flags, Arbitraries.integers().between(0, 255))
                .as(Action::new);
    }
}
