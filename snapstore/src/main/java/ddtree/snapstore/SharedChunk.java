package ddtree.snapstore;

/**
 * One exception: the store chunk holding a logical chunk's data for the snapshots in
 * {@code sharers}.
 */
public record SharedChunk(long storeChunk, SharingSet sharers) {
    public SharedChunk {
        if (storeChunk < 0) {
            throw new IllegalArgumentException("store chunk " + storeChunk + " is negative");
        }
        if (sharers == null || sharers.isEmpty()) {
            throw new IllegalArgumentException("store chunk " + storeChunk + " has no sharing snapshot");
        }
    }

    /** Bytes on disk: store chunk u64 plus the sharing set. */
    int encodedSize() {
        return 8 + sharers.encodedSize();
    }
}
