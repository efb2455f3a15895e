package ddtree.ddsnap.delta;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** Reading whole streams in tests. */
final class Streams {
    private Streams() {}

    /** A record with its own copy of the data, comparable by value. */
    record Rec(DeltaRecord.Type type, long offset, long length, byte[] data) {
        static Rec data(long offset, byte[] data) {
            return new Rec(DeltaRecord.Type.DATA, offset, data.length, data);
        }

        static Rec zero(long offset, long length) {
            return new Rec(DeltaRecord.Type.ZERO, offset, length, null);
        }

        static Rec of(DeltaRecord r) {
            byte[] d = null;
            if (r.type() == DeltaRecord.Type.DATA) {
                ByteBuffer b = r.data();
                d = new byte[b.remaining()];
                b.get(d);
            }
            return new Rec(r.type(), r.offset(), r.length(), d);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Rec r && r.type == type && r.offset == offset && r.length == length
                    && Arrays.equals(r.data, data);
        }

        @Override
        public int hashCode() {
            return Long.hashCode(offset) * 31 + Arrays.hashCode(data);
        }

        @Override
        public String toString() {
            return type + " [" + offset + ", +" + length + ")"
                    + (data == null ? "" : " crc " + Integer.toHexString(Arrays.hashCode(data)));
        }
    }

    /** Every record of {@code stream}, read to a checked END. */
    static List<Rec> readAll(byte[] stream) throws IOException {
        try (DeltaReader r = new DeltaReader(new ByteArrayInputStream(stream))) {
            List<Rec> out = new ArrayList<>();
            DeltaRecord x;
            while ((x = r.next()) != null) {
                out.add(Rec.of(x));
            }
            return out;
        }
    }
}
