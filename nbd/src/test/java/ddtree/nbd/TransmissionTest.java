package ddtree.nbd;

import static org.assertj.core.api.Assertions.assertThat;

import ddtree.block.Errno;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class TransmissionTest {
    private ServerFixture fx;

    @BeforeEach
    void start() throws Exception {
        fx = new ServerFixture();
    }

    @AfterEach
    void stop() throws Exception {
        assertThat(fx.buffersReturned()).as("every request buffer returned to the pool").isTrue();
        fx.close();
    }

    private static byte[] pattern(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    private static byte[] simpleRead(RawClient c, long cookie, long offset, int length) throws Exception {
        c.request(0, NbdProtocol.CMD_READ, cookie, offset, length, null);
        long[] r = c.simpleReply();
        assertThat(r).containsExactly(0, cookie);
        byte[] data = new byte[length];
        c.in.readFully(data);
        return data;
    }

    @Test
    void writeThenReadBackUnalignedWithSimpleReplies() throws Exception {
        try (RawClient c = fx.client().go("odd", false)) {
            byte[] data = pattern(3000, 1);
            c.request(0, NbdProtocol.CMD_WRITE, 1, 129_000 - 3000 + 17, 3000, data);
            assertThat(c.simpleReply()).containsExactly(0, 1);
            assertThat(simpleRead(c, 2, 129_000 - 3000 + 17, 3000)).isEqualTo(data);
            assertThat(simpleRead(c, 3, 0, 1000)).containsOnly(0);
        }
    }

    @Test
    void pipelinedRequestsAllGetTheirReplies() throws Exception {
        try (RawClient c = fx.client().go("ram", false)) {
            int n = 250; // more than the connection's slots, so the reader must wait for some
            for (int i = 0; i < n; i++) {
                c.request(NbdProtocol.CMD_FLAG_FUA, NbdProtocol.CMD_WRITE, i, i * 4096L, 4096, pattern(4096, i));
            }
            boolean[] seen = new boolean[n];
            for (int i = 0; i < n; i++) {
                long[] r = c.simpleReply();
                assertThat(r[0]).isZero();
                seen[(int) r[1]] = true;
            }
            assertThat(seen).containsOnly(true);
            for (int i = 0; i < n; i += 37) {
                assertThat(simpleRead(c, 1000 + i, i * 4096L, 4096)).isEqualTo(pattern(4096, i));
            }
        }
    }

    @Test
    void requestsPastTheEndGetTheSpecErrorsAndTheConnectionGoesOn() throws Exception {
        try (RawClient c = fx.client().go("odd", false)) {
            long size = ServerFixture.ODD_SIZE;
            c.request(0, NbdProtocol.CMD_WRITE, 1, size - 10, 20, new byte[20]);
            assertThat(c.simpleReply()).containsExactly(Errno.ENOSPC, 1);
            c.request(0, NbdProtocol.CMD_TRIM, 2, size, 1, null);
            assertThat(c.simpleReply()).containsExactly(Errno.ENOSPC, 2);
            c.request(0, NbdProtocol.CMD_WRITE_ZEROES, 3, -1L, 1, null);
            assertThat(c.simpleReply()).containsExactly(Errno.ENOSPC, 3);
            c.request(0, NbdProtocol.CMD_READ, 4, size - 1, 2, null);
            assertThat(c.simpleReply()).containsExactly(Errno.EINVAL, 4);
            c.request(0, NbdProtocol.CMD_CACHE, 5, size, 1, null);
            assertThat(c.simpleReply()).containsExactly(Errno.EINVAL, 5);
            assertThat(simpleRead(c, 6, size - 1, 1)).hasSize(1);
        }
    }

    @Test
    void badCommandsFlagsAndLengthsAreEinval() throws Exception {
        try (RawClient c = fx.client().go("ram", false)) {
            c.request(0, 99, 1, 0, 0, null);
            assertThat(c.simpleReply()).containsExactly(Errno.EINVAL, 1);
            c.request(0x400, NbdProtocol.CMD_WRITE, 2, 0, 4096, pattern(4096, 2)); // unknown flag; payload skipped
            assertThat(c.simpleReply()).containsExactly(Errno.EINVAL, 2);
            c.request(NbdProtocol.CMD_FLAG_DF, NbdProtocol.CMD_READ, 3, 0, 512, null); // DF needs structured
            assertThat(c.simpleReply()).containsExactly(Errno.EINVAL, 3);
            c.request(0, NbdProtocol.CMD_FLUSH, 4, 512, 0, null);
            assertThat(c.simpleReply()).containsExactly(Errno.EINVAL, 4);
            c.request(0, NbdProtocol.CMD_READ, 5, 0, 0, null);
            assertThat(c.simpleReply()).containsExactly(Errno.EINVAL, 5);
            c.request(0, NbdProtocol.CMD_READ, 6, 0, (64L << 20), null);
            assertThat(c.simpleReply()).containsExactly(Errno.EINVAL, 6);
            c.request(0, NbdProtocol.CMD_BLOCK_STATUS, 7, 0, 512, null);
            assertThat(c.simpleReply()).containsExactly(Errno.EINVAL, 7);
            // The skipped write did not land.
            assertThat(simpleRead(c, 8, 0, 4096)).containsOnly(0);
        }
    }

    @Test
    void readOnlyExportRefusesChangesWithEperm() throws Exception {
        try (RawClient c = fx.client().go("ro", false)) {
            assertThat(c.transmissionFlags & NbdProtocol.FLAG_READ_ONLY).isNotZero();
            c.request(0, NbdProtocol.CMD_WRITE, 1, 0, 512, pattern(512, 1));
            assertThat(c.simpleReply()).containsExactly(Errno.EPERM, 1);
            c.request(0, NbdProtocol.CMD_TRIM, 2, 0, 512, null);
            assertThat(c.simpleReply()).containsExactly(Errno.EPERM, 2);
            c.request(0, NbdProtocol.CMD_WRITE_ZEROES, 3, 0, 512, null);
            assertThat(c.simpleReply()).containsExactly(Errno.EPERM, 3);
            assertThat(simpleRead(c, 4, 0, 512)).containsOnly(0);
        }
    }

    @Test
    void structuredReadsSendHolesAsHoleChunksAndErrorsAsErrorChunks() throws Exception {
        try (RawClient c = fx.client().go("ram", true)) {
            byte[] data = pattern(4096, 7);
            c.request(0, NbdProtocol.CMD_WRITE, 1, 200_000, 4096, data);
            assertThat(c.simpleReply()).containsExactly(0, 1);

            c.request(0, NbdProtocol.CMD_READ, 2, 0, 512 << 10, null);
            List<RawClient.Chunk> chunks = c.structuredReply();
            byte[] assembled = new byte[512 << 10];
            long covered = 0;
            boolean sawHole = false;
            for (RawClient.Chunk ch : chunks) {
                ByteBuffer p = ByteBuffer.wrap(ch.payload());
                if (ch.type() == NbdProtocol.REPLY_TYPE_OFFSET_DATA) {
                    int off = (int) p.getLong();
                    System.arraycopy(ch.payload(), 8, assembled, off, ch.payload().length - 8);
                    covered += ch.payload().length - 8;
                } else if (ch.type() == NbdProtocol.REPLY_TYPE_OFFSET_HOLE) {
                    p.getLong();
                    covered += p.getInt() & 0xffffffffL;
                    sawHole = true;
                }
            }
            assertThat(covered).isEqualTo(512 << 10);
            assertThat(sawHole).isTrue();
            byte[] expected = new byte[512 << 10];
            System.arraycopy(data, 0, expected, 200_000, 4096);
            assertThat(assembled).isEqualTo(expected);

            c.request(NbdProtocol.CMD_FLAG_DF, NbdProtocol.CMD_READ, 3, 0, 512 << 10, null);
            List<RawClient.Chunk> df = c.structuredReply();
            assertThat(df).hasSize(1);
            assertThat(df.getFirst().type()).isEqualTo(NbdProtocol.REPLY_TYPE_OFFSET_DATA);

            c.request(0, NbdProtocol.CMD_READ, 4, ServerFixture.RAM_SIZE, 1, null);
            RawClient.Chunk err = c.chunk();
            assertThat(err.type()).isEqualTo(NbdProtocol.REPLY_TYPE_ERROR);
            assertThat(err.done()).isTrue();
            assertThat(err.errorCode()).isEqualTo(Errno.EINVAL);
            assertThat(err.errorMessage()).contains("past the end");
        }
    }

    /**
     * Large data chunks go out from the read's own buffer with their header in front: in the
     * buffer's headroom for the first chunk, over the bytes an earlier chunk has sent for later
     * ones. Every chunk must carry its own bytes.
     */
    @Test
    void largeDataChunksAmidHolesCarryTheirOwnBytes() throws Exception {
        try (RawClient c = fx.client().go("ram", true)) {
            byte[] first = pattern(320 << 10, 11);
            byte[] second = pattern(256 << 10, 12);
            assertThat(c.write(128 << 10, first)).isZero();
            assertThat(c.write(512 << 10, second)).isZero();
            byte[] expected = new byte[768 << 10];
            System.arraycopy(first, 0, expected, 128 << 10, first.length);
            System.arraycopy(second, 0, expected, 512 << 10, second.length);

            List<RawClient.Chunk> chunks = readChunks(c, 5, 0, 768 << 10);
            assertThat(chunks).extracting(RawClient.Chunk::type).containsExactly(
                    NbdProtocol.REPLY_TYPE_OFFSET_HOLE, NbdProtocol.REPLY_TYPE_OFFSET_DATA,
                    NbdProtocol.REPLY_TYPE_OFFSET_HOLE, NbdProtocol.REPLY_TYPE_OFFSET_DATA);
            assertThat(assemble(chunks, 0, 768 << 10)).isEqualTo(expected);

            // One data chunk, from the start of the buffer.
            assertThat(assemble(readChunks(c, 6, 128 << 10, 320 << 10), 128 << 10, 320 << 10)).isEqualTo(first);
        }
    }

    private static List<RawClient.Chunk> readChunks(RawClient c, long cookie, long offset, int length) throws Exception {
        c.request(0, NbdProtocol.CMD_READ, cookie, offset, length, null);
        List<RawClient.Chunk> chunks = c.structuredReply();
        assertThat(chunks).allSatisfy(ch -> assertThat(ch.cookie()).isEqualTo(cookie));
        return chunks;
    }

    /** The bytes the chunks of a read at {@code offset} describe; holes read as zeroes. */
    private static byte[] assemble(List<RawClient.Chunk> chunks, long offset, int length) {
        byte[] out = new byte[length];
        long covered = 0;
        for (RawClient.Chunk ch : chunks) {
            ByteBuffer p = ByteBuffer.wrap(ch.payload());
            long at = p.getLong() - offset;
            if (ch.type() == NbdProtocol.REPLY_TYPE_OFFSET_DATA) {
                System.arraycopy(ch.payload(), 8, out, (int) at, ch.payload().length - 8);
                covered += ch.payload().length - 8;
            } else {
                covered += p.getInt() & 0xffffffffL;
            }
        }
        assertThat(covered).isEqualTo(length);
        return out;
    }

    @Test
    void blockStatusReportsHolesAfterTrimAndHonoursReqOne() throws Exception {
        try (RawClient c = fx.client().go("ram", true)) {
            c.request(0, NbdProtocol.CMD_WRITE, 1, 0, 256 << 10, pattern(256 << 10, 1));
            assertThat(c.simpleReply()).containsExactly(0, 1);
            c.request(0, NbdProtocol.CMD_TRIM, 2, 64 << 10, 64 << 10, null);
            assertThat(c.simpleReply()).containsExactly(0, 2);

            c.request(0, NbdProtocol.CMD_BLOCK_STATUS, 3, 0, ServerFixture.RAM_SIZE, null);
            RawClient.Chunk bs = c.chunk();
            assertThat(bs.type()).isEqualTo(NbdProtocol.REPLY_TYPE_BLOCK_STATUS);
            ByteBuffer p = ByteBuffer.wrap(bs.payload());
            assertThat(p.getInt()).isEqualTo(NbdProtocol.BASE_ALLOCATION_ID);
            long[][] runs = new long[p.remaining() / 8][];
            for (int i = 0; i < runs.length; i++) {
                runs[i] = new long[] {p.getInt() & 0xffffffffL, p.getInt()};
            }
            assertThat(runs).isDeepEqualTo(new long[][] {
                {64 << 10, 0},
                {64 << 10, 3},
                {128 << 10, 0},
                {ServerFixture.RAM_SIZE - (256 << 10), 3}});

            c.request(NbdProtocol.CMD_FLAG_REQ_ONE, NbdProtocol.CMD_BLOCK_STATUS, 4, 0, ServerFixture.RAM_SIZE, null);
            RawClient.Chunk one = c.chunk();
            assertThat(one.payload()).hasSize(12);
        }
    }

    @Test
    void writeZeroesFlushAndCacheSucceed() throws Exception {
        try (RawClient c = fx.client().go("ram", false)) {
            c.request(0, NbdProtocol.CMD_WRITE, 1, 0, 8192, pattern(8192, 3));
            assertThat(c.simpleReply()).containsExactly(0, 1);
            c.request(NbdProtocol.CMD_FLAG_NO_HOLE, NbdProtocol.CMD_WRITE_ZEROES, 2, 100, 5000, null);
            assertThat(c.simpleReply()).containsExactly(0, 2);
            c.request(0, NbdProtocol.CMD_FLUSH, 3, 0, 0, null);
            assertThat(c.simpleReply()).containsExactly(0, 3);
            c.request(0, NbdProtocol.CMD_CACHE, 4, 0, 8192, null);
            assertThat(c.simpleReply()).containsExactly(0, 4);
            byte[] expected = pattern(8192, 3);
            java.util.Arrays.fill(expected, 100, 5100, (byte) 0);
            assertThat(simpleRead(c, 5, 0, 8192)).isEqualTo(expected);
        }
    }

    @Test
    void badMagicClosesOnlyThatConnection() throws Exception {
        try (RawClient other = fx.client().go("ram", false); RawClient c = fx.client().go("ram", false)) {
            c.out.writeInt(0xdeadbeef);
            c.out.write(new byte[24]);
            c.out.flush();
            assertThat(c.closedByServer()).isTrue();
            assertThat(simpleRead(other, 1, 0, 512)).hasSize(512);
        }
    }

    @Test
    void aClientDroppingMidWriteLeavesDataUntouchedAndBuffersReturned() throws Exception {
        try (RawClient c = fx.client().go("ram", false)) {
            c.request(0, NbdProtocol.CMD_WRITE, 1, 0, 1 << 20, null);
            c.out.write(new byte[100]);
            c.out.flush();
        }
        try (RawClient c = fx.client().go("ram", false)) {
            assertThat(simpleRead(c, 1, 0, 4096)).containsOnly(0);
        }
    }

    @Test
    void discClosesAfterInflightRequestsAreAnswered() throws Exception {
        try (RawClient c = fx.client().go("ram", false)) {
            c.request(0, NbdProtocol.CMD_WRITE, 1, 0, 4096, pattern(4096, 1));
            c.request(0, NbdProtocol.CMD_DISC, 2, 0, 0, null);
            assertThat(c.simpleReply()).containsExactly(0, 1);
            assertThat(c.closedByServer()).isTrue();
        }
    }

    @Test
    void closingTheServerFinishesInflightWorkAndClosesClients() throws Exception {
        RawClient c = fx.client().go("ram", false);
        try (c) {
            c.request(0, NbdProtocol.CMD_WRITE, 1, 0, 4096, pattern(4096, 1));
            assertThat(c.simpleReply()).containsExactly(0, 1);
            fx.server.close();
            assertThat(c.closedByServer()).isTrue();
            assertThat(fx.server.connectionCount()).isZero();
        }
    }

    /** Large requests go to the submitter thread on bigger machines, and stay with the reader on small ones. */
    @ParameterizedTest
    @ValueSource(ints = {128 << 10, Integer.MAX_VALUE})
    void pipelinedLargeUnalignedRequestsKeepTheirData(int offloadMinBytes) throws Exception {
        fx.close();
        fx = new ServerFixture(NbdServerConfig.loopback(0).withOffloadMinBytes(offloadMinBytes));
        try (RawClient c = fx.client().go("ram", true)) {
            int piece = 192 << 10;
            int n = 5; // most of the 1 MiB export
            int window = 3; // like a client with a few requests in flight
            long base = 12345;
            int sent = 0;
            for (; sent < window; sent++) {
                c.request(0, NbdProtocol.CMD_WRITE, sent, base + (long) sent * piece, piece, pattern(piece, 100 + sent));
            }
            for (int done = 0; done < n; done++) {
                assertThat(c.simpleReply()[0]).isZero();
                if (sent < n) {
                    c.request(0, NbdProtocol.CMD_WRITE, sent, base + (long) sent * piece, piece, pattern(piece, 100 + sent));
                    sent++;
                }
            }
            for (int i = 0; i < n; i++) {
                assertThat(simpleReadStructured(c, 1000 + i, base + (long) i * piece, piece))
                        .as("piece " + i).isEqualTo(pattern(piece, 100 + i));
            }
        }
    }

    /**
     * Large reads answered by the connection's reply thread (on a machine with a CPU to spare: one
     * busy connection on two CPUs or more) while the reader answers small writes itself: every
     * reply arrives whole and with its own data, none is left corked, and once the client has its
     * replies the connection no longer counts as busy.
     */
    @ParameterizedTest
    @ValueSource(ints = {128 << 10, Integer.MAX_VALUE})
    void largeReadsHandedOffBesideSmallRepliesArriveWhole(int handoffMinBytes) throws Exception {
        fx.close();
        fx = new ServerFixture(NbdServerConfig.loopback(0).withHandoffMinBytes(handoffMinBytes));
        int readLength = 160 << 10;
        long writesAt = 768 << 10; // reads stay below, so their data is fixed
        byte[] image = pattern((int) writesAt, 7);
        try (RawClient c = fx.client().go("ram", false)) {
            for (int off = 0; off < image.length; off += 256 << 10) {
                assertThat(c.write(off, java.util.Arrays.copyOfRange(image, off, off + (256 << 10)))).isZero();
            }
            for (int round = 0; round < 3; round++) {
                int reads = 6;
                for (int i = 0; i < reads; i++) {
                    long offset = 1000L + i * 97_000L;
                    c.request(0, NbdProtocol.CMD_READ, 100 + i, offset, readLength, null);
                    c.request(0, NbdProtocol.CMD_WRITE, 200 + i, writesAt + i * 4096L, 4096, pattern(4096, i));
                }
                boolean[] seen = new boolean[2 * reads];
                for (int n = 0; n < 2 * reads; n++) {
                    long[] r = c.simpleReply();
                    assertThat(r[0]).isZero();
                    int cookie = (int) r[1];
                    if (cookie < 200) {
                        int i = cookie - 100;
                        byte[] data = new byte[readLength];
                        c.in.readFully(data);
                        int from = 1000 + i * 97_000;
                        assertThat(data).as("read " + i).isEqualTo(java.util.Arrays.copyOfRange(image, from, from + readLength));
                        seen[i] = true;
                    } else {
                        seen[reads + cookie - 200] = true;
                    }
                }
                assertThat(seen).containsOnly(true);
            }
            for (int i = 0; i < 6; i++) {
                assertThat(simpleRead(c, 300 + i, writesAt + i * 4096L, 4096)).isEqualTo(pattern(4096, i));
            }
            long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(5);
            while (fx.server.busyConnections() != 0 && System.nanoTime() < deadline) {
                Thread.sleep(1);
            }
            assertThat(fx.server.busyConnections()).isZero();
        }
    }

    /** Counts the reads its device answered with lent memory, from a step that leaves lending allowed. */
    private static final class LoanCounter extends ddtree.block.ForwardingDevice {
        final java.util.concurrent.atomic.AtomicInteger lent = new java.util.concurrent.atomic.AtomicInteger();
        private final ddtree.block.BioCompletion count = ddtree.block.BioCompletion.blind((bio, state) -> {
            if (bio.lent()) {
                lent.incrementAndGet();
            }
            return true;
        });

        LoanCounter(ddtree.block.BlockDevice inner) {
            super(inner);
        }

        @Override
        public void submit(ddtree.block.Bio bio) {
            bio.pushCompletion(count, 0);
            super.submit(bio);
        }
    }

    @Test
    void largeReadsAreSentFromLentMemory() throws Exception {
        int size = 4 << 20;
        LoanCounter dev = new LoanCounter(new ddtree.block.device.RamDevice("lender", size));
        fx.exports.put(new Export("lender", "", dev, false));
        byte[] image = new byte[size];
        byte[] first = pattern(1 << 20, 3);
        byte[] last = pattern((1 << 20) - 100, 4);
        System.arraycopy(first, 0, image, 0, first.length);
        System.arraycopy(last, 0, image, (2 << 20) + 100, last.length); // 1-2 MiB stays a hole
        try {
            try (RawClient c = fx.client().go("lender", false)) {
                assertThat(c.write(0, first)).isZero();
                assertThat(c.write((2 << 20) + 100, last)).isZero();
                assertThat(simpleRead(c, 1, 1000, 3 << 20)).isEqualTo(java.util.Arrays.copyOfRange(image, 1000, 1000 + (3 << 20)));
                int before = dev.lent.get();
                assertThat(before).as("a large read with simple replies").isEqualTo(1);
                assertThat(simpleRead(c, 2, 5000, 64 << 10)).isEqualTo(java.util.Arrays.copyOfRange(image, 5000, 5000 + (64 << 10)));
                assertThat(dev.lent.get()).as("a read small enough to copy into the reply buffer").isEqualTo(before);
            }
            try (RawClient c = fx.client().go("lender", true)) {
                // Data, a hole and data again: chunks of lent memory beside a hole chunk.
                assertThat(simpleReadStructured(c, 3, 300, size - 300)).isEqualTo(java.util.Arrays.copyOfRange(image, 300, size));
                assertThat(simpleReadStructured(c, 4, (2 << 20) + 50, 100_000))
                        .isEqualTo(java.util.Arrays.copyOfRange(image, (2 << 20) + 50, (2 << 20) + 50 + 100_000));
                assertThat(dev.lent.get()).isEqualTo(3);
            }
        } finally {
            dev.close();
        }
    }

    private static byte[] simpleReadStructured(RawClient c, long cookie, long offset, int length) throws Exception {
        c.request(0, NbdProtocol.CMD_READ, cookie, offset, length, null);
        byte[] out = new byte[length];
        for (RawClient.Chunk ch : c.structuredReply()) {
            if (ch.type() == NbdProtocol.REPLY_TYPE_OFFSET_DATA) {
                long off = ByteBuffer.wrap(ch.payload()).getLong() - offset;
                System.arraycopy(ch.payload(), 8, out, (int) off, ch.payload().length - 8);
            }
        }
        return out;
    }
}
