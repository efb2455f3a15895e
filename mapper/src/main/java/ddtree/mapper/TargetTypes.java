package ddtree.mapper;

import ddtree.mapper.targets.DelayTarget;
import ddtree.mapper.targets.ErrorTarget;
import ddtree.mapper.targets.FlakeyTarget;
import ddtree.mapper.targets.LinearTarget;
import ddtree.mapper.targets.NbdTarget;
import ddtree.mapper.targets.RamTarget;
import ddtree.mapper.targets.StripedTarget;
import ddtree.mapper.targets.ZeroTarget;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** The target types a table may name; {@link #builtin()} has the ones ddtree ships. */
public final class TargetTypes {
    private final List<TargetType> types;

    private TargetTypes(List<TargetType> types) {
        this.types = List.copyOf(types);
    }

    /** linear, striped, zero, error, ram, flakey, delay (and nbd). */
    public static TargetTypes builtin() {
        return new TargetTypes(List.of(
                LinearTarget.TYPE,
                StripedTarget.TYPE,
                ZeroTarget.TYPE,
                ErrorTarget.TYPE,
                RamTarget.TYPE,
                FlakeyTarget.TYPE,
                DelayTarget.TYPE,
                NbdTarget.TYPE));
    }

    /** These types plus {@code type}, which replaces one of the same name. */
    public TargetTypes with(TargetType type) {
        List<TargetType> all = new ArrayList<>(types);
        all.removeIf(t -> t.name().equals(type.name()));
        all.add(type);
        return new TargetTypes(all);
    }

    public Optional<TargetType> find(String name) {
        for (TargetType t : types) {
            if (t.name().equals(name)) {
                return Optional.of(t);
            }
        }
        return Optional.empty();
    }

    /** Every type, in the order {@code ddsetup targets} lists them. */
    public List<TargetType> all() {
        return types;
    }
}
