package ddtree.mapper;

/** A kind of target, like device-mapper's {@code struct target_type}: builds a target from a table line. */
public interface TargetType {
    /** The word that names the type in a table. */
    String name();

    /** {@code major.minor.patch}, reported by {@code ddsetup targets}. */
    String version();

    /**
     * Builds a target for {@code line}, taking lower devices from {@code ctx}. On failure the type
     * gives back what it took and throws; the message names the field and value at fault, without
     * the line number and type name, which the caller puts in front.
     */
    Target create(TargetContext ctx, String deviceName, TableLine line) throws TableException;
}
