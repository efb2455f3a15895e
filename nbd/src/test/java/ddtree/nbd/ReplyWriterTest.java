package ddtree.nbd;

import static org.assertj.core.api.Assertions.assertThat;

import ddtree.block.BufferPool;
import ddtree.block.DeviceIo;
import ddtree.block.PooledBuffer;
import java.io.ByteArrayOutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class ReplyWriterTest {

    @Test
    void lentPayloadsFromMemoryFarApartArriveWithTheirHeaders() throws Exception {
        BufferPool pool = new BufferPool(40L << 20, 1L << 20);
        PooledBuffer unused = pool.acquire(4096, false); // a read's own buffer, which lent replies leave alone
        ByteArrayOutputStream wire = new ByteArrayOutputStream();
        ReplyWriter out = new ReplyWriter(Channels.newChannel(wire), 256 << 10);
        try (Arena arena = Arena.ofConfined()) {
            // Separate allocations, so their addresses fall on different views, or on one view
            // more than once.
            MemorySegment[] lent = new MemorySegment[3];
            for (int i = 0; i < lent.length; i++) {
                lent[i] = arena.allocate((1 << 20) + 100, 4096);
                byte[] data = DeviceIo.pattern((1 << 20) + 100, i + 1);
                MemorySegment.copy(data, 0, lent[i], ValueLayout.JAVA_BYTE, 0, data.length);
            }
            int[] lengths = {1 << 20, 70_000, 5000};
            for (int i = 0; i < lent.length; i++) {
                out.offsetData(10 + i, true, 4096L * i, unused, lent[i].address(), 100, lengths[i]);
                out.simple(20 + i, 0, unused, lent[i].address(), 0, lengths[i]);
            }
            out.flush();

            ByteBuffer in = ByteBuffer.wrap(wire.toByteArray());
            for (int i = 0; i < lent.length; i++) {
                byte[] expected = DeviceIo.pattern((1 << 20) + 100, i + 1);
                assertThat(in.getInt()).isEqualTo(NbdProtocol.STRUCTURED_REPLY_MAGIC);
                assertThat(in.getShort()).isEqualTo((short) NbdProtocol.REPLY_FLAG_DONE);
                assertThat(in.getShort()).isEqualTo((short) NbdProtocol.REPLY_TYPE_OFFSET_DATA);
                assertThat(in.getLong()).isEqualTo(10 + i);
                assertThat(in.getInt()).isEqualTo(8 + lengths[i]);
                assertThat(in.getLong()).isEqualTo(4096L * i);
                byte[] data = new byte[lengths[i]];
                in.get(data);
                assertThat(data).as("chunk " + i).isEqualTo(Arrays.copyOfRange(expected, 100, 100 + lengths[i]));

                assertThat(in.getInt()).isEqualTo(NbdProtocol.SIMPLE_REPLY_MAGIC);
                assertThat(in.getInt()).isZero();
                assertThat(in.getLong()).isEqualTo(20 + i);
                in.get(data);
                assertThat(data).as("simple reply " + i).isEqualTo(Arrays.copyOfRange(expected, 0, lengths[i]));
            }
            assertThat(in.hasRemaining()).isFalse();
        } finally {
            unused.release();
            pool.close();
        }
    }
}
