package ddtree.snapstore;

import java.io.IOException;

/** Metadata failed a check (magic, checksum, block number, structure); the message says which. */
public final class MetadataCorruptException extends IOException {
    public MetadataCorruptException(String message) {
        super(message);
    }
}
