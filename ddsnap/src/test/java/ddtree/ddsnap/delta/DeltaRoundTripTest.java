package ddtree.ddsnap.delta;

import static org.assertj.core.api.Assertions.assertThat;

import ddtree.ddsnap.delta.Streams.Rec;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Random streams written and read back, every record compared. */
class DeltaRoundTripTest {
    static Stream<Arguments> seeds() {
        return Stream.of(1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L, 10L, 11L, 12L)
                .flatMap(s -> Stream.of(Arguments.of(s, true), Arguments.of(s, false)));
    }

    static DeltaHeader randomHeader(Random rnd) {
        long volume = 1L + rnd.nextLong(1L << 34);
        int chunk = 512 << rnd.nextInt(12);
        String to = "snap-" + rnd.nextInt(1000) + (rnd.nextBoolean() ? "-ünï" : "");
        long toGuid = rnd.nextLong() | 1;
        if (rnd.nextInt(3) == 0) {
            return new DeltaHeader(chunk, volume, "", 0, to, toGuid, rnd.nextLong(1L << 45));
        }
        return new DeltaHeader(chunk, volume, "from-" + rnd.nextInt(1000), toGuid ^ 2, to, toGuid,
                rnd.nextLong(1L << 45));
    }

    static byte[] randomData(Random rnd, int len) {
        byte[] b = new byte[len];
        switch (rnd.nextInt(3)) {
            case 0 -> rnd.nextBytes(b);
            case 1 -> { // compressible: a short pattern repeated
                byte[] p = new byte[1 + rnd.nextInt(64)];
                rnd.nextBytes(p);
                for (int i = 0; i < len; i++) {
                    b[i] = p[i % p.length];
                }
            }
            default -> { // mostly zeroes with a few random bytes
                for (int i = 0; i < len / 97 + 1; i++) {
                    b[rnd.nextInt(len)] = (byte) rnd.nextInt();
                }
            }
        }
        return b;
    }

    /** Random records in order inside the volume; written through every data() variant. */
    static List<Rec> randomRecords(Random rnd, long volume) {
        List<Rec> recs = new ArrayList<>();
        long at = rnd.nextBoolean() ? 0 : rnd.nextLong(Math.min(volume, 1 << 20));
        int n = rnd.nextInt(60);
        for (int i = 0; i < n && at < volume; i++) {
            long room = volume - at;
            if (rnd.nextInt(3) == 0) {
                long len = 1 + rnd.nextLong(Math.min(room, rnd.nextBoolean() ? 1L << 40 : 1L << 16));
                recs.add(Rec.zero(at, len));
                at += len;
            } else {
                int max = rnd.nextInt(10) == 0 ? 1 << 20 : 1 << 14;
                int len = (int) (1 + rnd.nextLong(Math.min(room, max)));
                recs.add(Rec.data(at, randomData(rnd, len)));
                at += len;
            }
            if (at < volume && rnd.nextBoolean()) {
                at += rnd.nextLong(Math.min(volume - at, 1L << (1 + rnd.nextInt(30))));
            }
        }
        return recs;
    }

    static byte[] write(DeltaHeader h, List<Rec> recs, boolean compress, Random rnd) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (DeltaWriter w = new DeltaWriter(out, h, compress)) {
            long bytes = 0;
            for (Rec r : recs) {
                if (r.type() == DeltaRecord.Type.ZERO) {
                    w.zero(r.offset(), r.length());
                } else {
                    writeData(w, r, rnd);
                    bytes += r.length();
                }
            }
            assertThat(w.records()).isEqualTo(recs.size());
            assertThat(w.dataBytes()).isEqualTo(bytes);
            w.finish();
        }
        return out.toByteArray();
    }

    private static void writeData(DeltaWriter w, Rec r, Random rnd) throws IOException {
        byte[] d = r.data();
        switch (rnd.nextInt(4)) {
            case 0 -> w.data(r.offset(), d, 0, d.length);
            case 1 -> { // inside a larger array
                byte[] big = new byte[d.length + 20];
                rnd.nextBytes(big);
                System.arraycopy(d, 0, big, 7, d.length);
                w.data(r.offset(), big, 7, d.length);
            }
            case 2 -> { // direct buffer with a position and limit of its own
                ByteBuffer b = ByteBuffer.allocateDirect(d.length + 10);
                b.position(3);
                b.put(d);
                b.flip().position(3);
                w.data(r.offset(), b);
                assertThat(b.hasRemaining()).isFalse();
            }
            default -> { // read-only heap slice
                byte[] big = new byte[d.length + 5];
                System.arraycopy(d, 0, big, 5, d.length);
                ByteBuffer b = ByteBuffer.wrap(big, 5, d.length).slice().asReadOnlyBuffer();
                w.data(r.offset(), b);
                assertThat(b.position()).isEqualTo(d.length);
            }
        }
    }

    @ParameterizedTest(name = "seed {0}, compressed {1}")
    @MethodSource("seeds")
    void randomStreamsRoundTrip(long seed, boolean compress) throws IOException {
        Random rnd = new Random(seed);
        DeltaHeader h = randomHeader(rnd);
        List<Rec> recs = randomRecords(rnd, h.volumeSize());
        byte[] stream = write(h, recs, compress, rnd);

        try (DeltaReader r = new DeltaReader(new ByteArrayInputStream(stream))) {
            assertThat(r.header()).isEqualTo(h);
            assertThat(r.compressed()).isEqualTo(compress);
            long bytes = 0;
            for (int i = 0; i < recs.size(); i++) {
                DeltaRecord got = r.next();
                assertThat(got).as("record %d", i + 1).isNotNull();
                assertThat(Rec.of(got)).as("record %d", i + 1).isEqualTo(recs.get(i));
                assertThat(got.end()).isEqualTo(recs.get(i).offset() + recs.get(i).length());
                if (got.type() == DeltaRecord.Type.DATA) {
                    bytes += got.length();
                }
            }
            assertThat(r.next()).isNull();
            assertThat(r.next()).isNull();
            assertThat(r.records()).isEqualTo(recs.size());
            assertThat(r.dataBytes()).isEqualTo(bytes);
        }
    }

    @ParameterizedTest(name = "seed {0}, compressed {1}")
    @MethodSource("seeds")
    void dataViewsAreReadOnlyAndIndependent(long seed, boolean compress)
            throws IOException {
        Random rnd = new Random(seed * 31);
        DeltaHeader h = new DeltaHeader(4096, 1 << 30, "", 0, "t", 1, 0);
        List<Rec> recs = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            recs.add(Rec.data(i * (1L << 20), randomData(rnd, 1 + rnd.nextInt(200_000))));
        }
        byte[] stream = write(h, recs, compress, rnd);
        try (DeltaReader r = new DeltaReader(new ByteArrayInputStream(stream))) {
            for (Rec want : recs) {
                DeltaRecord got = r.next();
                ByteBuffer a = got.data();
                ByteBuffer b = got.data();
                assertThat(a.isReadOnly()).isTrue();
                assertThat(a.remaining()).isEqualTo(want.data().length);
                a.position(a.limit()); // moving one view leaves the next one whole
                assertThat(b).isEqualTo(ByteBuffer.wrap(want.data()));
            }
            assertThat(r.next()).isNull();
        }
    }
}
