package ddtree.ddlink;

/** A target type the daemon can build, as {@code dmsetup targets} lists them. */
public record TargetInfo(String name, String version) {}
