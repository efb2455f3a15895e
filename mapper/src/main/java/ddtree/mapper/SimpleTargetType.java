package ddtree.mapper;

/** A target type made of a name, a version and a constructor, which is all most types are. */
public record SimpleTargetType(String name, String version, Constructor constructor) implements TargetType {

    /** Builds one target from its line; see {@link TargetType#create}. */
    @FunctionalInterface
    public interface Constructor {
        Target create(TargetContext ctx, String deviceName, TableLine line) throws TableException;
    }

    @Override
    public Target create(TargetContext ctx, String deviceName, TableLine line) throws TableException {
        return constructor.create(ctx, deviceName, line);
    }
}
