package ddtree.ddsnap.delta;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Objects;

/**
 * What a delta stream is: the volume it belongs to and the two snapshots it goes between. A full
 * stream (every extent of TO) has no FROM snapshot: an empty {@code fromName} and a zero
 * {@code fromGuid}.
 *
 * @param chunkSize the source store's chunk size in bytes, a power of two of at least 512; records
 *     need not be aligned to it
 * @param volumeSize the volume's size in bytes; every record lies below it
 * @param fromName FROM snapshot name, at most 255 bytes of UTF-8; empty for a full stream
 * @param fromGuid FROM snapshot guid; 0 for a full stream, otherwise non-zero
 * @param toName TO snapshot name, 1 to 255 bytes of UTF-8
 * @param toGuid TO snapshot guid, non-zero and not FROM's
 * @param createdMillis when the stream was made, milliseconds since the epoch
 */
public record DeltaHeader(
        int chunkSize,
        long volumeSize,
        String fromName,
        long fromGuid,
        String toName,
        long toGuid,
        long createdMillis) {

    /** The longest snapshot name, in bytes of UTF-8. */
    public static final int MAX_NAME_BYTES = 255;
    public static final int MIN_CHUNK_SIZE = 512;

    public DeltaHeader {
        Objects.requireNonNull(fromName, "fromName");
        Objects.requireNonNull(toName, "toName");
        if (chunkSize < MIN_CHUNK_SIZE || Integer.bitCount(chunkSize) != 1) {
            throw new IllegalArgumentException("chunk size " + Integer.toUnsignedString(chunkSize)
                    + " is not a power of two of at least " + MIN_CHUNK_SIZE);
        }
        if (volumeSize <= 0) {
            throw new IllegalArgumentException(
                    "volume size " + Long.toUnsignedString(volumeSize) + " is not between 1 and 2^63-1");
        }
        nameBytes(fromName, "FROM");
        nameBytes(toName, "TO");
        if (toName.isEmpty() || toGuid == 0) {
            throw new IllegalArgumentException("the TO snapshot needs a name and a non-zero guid");
        }
        if (fromName.isEmpty() != (fromGuid == 0)) {
            throw new IllegalArgumentException("the FROM snapshot needs both a name and a non-zero guid"
                    + " (or neither, for a full stream)");
        }
        if (fromGuid != 0 && fromGuid == toGuid) {
            throw new IllegalArgumentException(
                    String.format("FROM and TO are the same snapshot (guid 0x%016x)", toGuid));
        }
        if (createdMillis < 0) {
            throw new IllegalArgumentException("creation time " + createdMillis + " is before the epoch");
        }
    }

    /** True when the stream has no FROM snapshot: it carries every extent of TO. */
    public boolean full() {
        return fromGuid == 0;
    }

    /** {@code name} in UTF-8, refusing names that do not encode or are too long. */
    static byte[] nameBytes(String name, String which) {
        ByteBuffer b;
        try {
            b = StandardCharsets.UTF_8.newEncoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .encode(CharBuffer.wrap(name));
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException(which + " name is not valid Unicode", e);
        }
        if (b.remaining() > MAX_NAME_BYTES) {
            throw new IllegalArgumentException(which + " name is " + b.remaining()
                    + " bytes of UTF-8, more than " + MAX_NAME_BYTES);
        }
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }
}
