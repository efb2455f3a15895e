package ddtree.ddlink;

/**
 * @param daemon the daemon's version, e.g. {@code 0.1.0-SNAPSHOT}
 * @param protocol the ddlink protocol version it speaks
 */
public record VersionInfo(String daemon, int protocol) {}
