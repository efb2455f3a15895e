package ddtree.ddsnap.delta;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.nio.ByteBuffer;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * 64 MiB of DATA through a 1 MiB pipe, compressed: the reader has records while the writer is
 * still writing, and neither side holds the stream. Each record's bytes are made again from its
 * index on the reading side to compare.
 */
class DeltaStreamingTest {
    private static final int MIB = 1 << 20;
    private static final long VOLUME = 1L << 30;

    /** Record {@code i}: 32 records of 1 MiB, then one of the 32 MiB maximum; ZERO between them. */
    private static int length(int i) {
        return i < 32 ? MIB : DeltaWriter.MAX_DATA_LENGTH;
    }

    private static long offset(int i) {
        return i < 32 ? i * 2L * MIB : 64L * MIB;
    }

    /** Half random, half a repeated pattern, so zstd has work both ways. */
    private static void fill(byte[] b, int len, int i) {
        Random rnd = new Random(1000 + i);
        int half = len / 2;
        byte[] r = new byte[half];
        rnd.nextBytes(r);
        System.arraycopy(r, 0, b, 0, half);
        for (int k = half; k < len; k++) {
            b[k] = (byte) (k * 7 + i);
        }
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void sixtyFourMiBStreamsThroughAPipe() throws Exception {
        PipedInputStream pipeIn = new PipedInputStream(MIB);
        PipedOutputStream pipeOut = new PipedOutputStream(pipeIn);
        AtomicBoolean writerDone = new AtomicBoolean();
        AtomicLong wire = new AtomicLong();
        DeltaHeader h = new DeltaHeader(1 << 16, VOLUME, "a", 1, "b", 2, System.currentTimeMillis());

        CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
            OutputStream counted = new FilterOutputStream(pipeOut) {
                @Override
                public void write(byte[] b, int off, int len) throws IOException {
                    out.write(b, off, len);
                    wire.addAndGet(len);
                }
            };
            try (DeltaWriter w = new DeltaWriter(counted, h, true)) {
                byte[] buf = new byte[DeltaWriter.MAX_DATA_LENGTH];
                for (int i = 0; i < 33; i++) {
                    fill(buf, length(i), i);
                    w.data(offset(i), buf, 0, length(i));
                    if (i < 32) {
                        w.zero(offset(i) + MIB, MIB);
                    }
                }
                w.finish();
                writerDone.set(true);
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        });

        boolean writerWasBusy = false;
        long total = 0;
        try (DeltaReader r = new DeltaReader(pipeIn)) {
            assertThat(r.header()).isEqualTo(h);
            byte[] want = new byte[DeltaWriter.MAX_DATA_LENGTH];
            for (int i = 0; i < 33; i++) {
                DeltaRecord d = r.next();
                if (i == 0) {
                    writerWasBusy = !writerDone.get();
                }
                assertThat(d.type()).isEqualTo(DeltaRecord.Type.DATA);
                assertThat(d.offset()).isEqualTo(offset(i));
                assertThat(d.length()).isEqualTo(length(i));
                fill(want, length(i), i);
                assertThat(d.data()).as("record %d", i).isEqualTo(ByteBuffer.wrap(want, 0, length(i)));
                total += d.length();
                if (i < 32) {
                    DeltaRecord z = r.next();
                    assertThat(z.type()).isEqualTo(DeltaRecord.Type.ZERO);
                    assertThat(z.offset()).isEqualTo(offset(i) + MIB);
                    assertThat(z.length()).isEqualTo(MIB);
                }
            }
            assertThat(r.next()).isNull();
            assertThat(r.dataBytes()).isEqualTo(64L * MIB).isEqualTo(total);
        }
        writer.get(60, TimeUnit.SECONDS);
        assertThat(writerWasBusy).as("the reader had its first record before the writer finished").isTrue();
        assertThat(wire.get()).as("bytes on the wire").isLessThan(48L * MIB);
    }
}
