package ddtree.mapper;

import static org.assertj.core.api.Assertions.assertThat;

import ddtree.block.DeviceIo;
import ddtree.block.Errno;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * A byte-array model of a mapped device, driven with the device by a seeded random workload of
 * unaligned reads, writes, discards and zeroes. Ranges in {@code zeroFrom..zeroTo} belong to a
 * zero target: writes there vanish.
 */
final class Model {
    private final byte[] bytes;
    private final long zeroFrom;
    private final long zeroTo;
    /** Whether a discard reads back as zeroes (RAM lowers); file lowers keep partial blocks' data. */
    private boolean discardZeroes = true;

    Model(int size) {
        this(size, 0, 0);
    }

    Model(int size, long zeroFrom, long zeroTo) {
        this.bytes = new byte[size];
        this.zeroFrom = zeroFrom;
        this.zeroTo = zeroTo;
    }

    /** For lowers whose discards are advisory: the workload sends WRITE_ZEROES instead. */
    Model withoutDiscards() {
        discardZeroes = false;
        return this;
    }

    void write(int offset, byte[] data) {
        System.arraycopy(data, 0, bytes, offset, data.length);
        clearZeroTarget(offset, data.length);
    }

    void zero(int offset, int length) {
        Arrays.fill(bytes, offset, offset + length, (byte) 0);
    }

    byte[] read(int offset, int length) {
        return Arrays.copyOfRange(bytes, offset, offset + length);
    }

    private void clearZeroTarget(int offset, int length) {
        long from = Math.max(offset, zeroFrom);
        long to = Math.min(offset + length, zeroTo);
        if (from < to) {
            Arrays.fill(bytes, (int) from, (int) to, (byte) 0);
        }
    }

    /** Runs {@code ops} random requests of up to {@code maxLength} bytes against both and compares reads. */
    void drive(DeviceIo io, long seed, int ops, int maxLength) {
        SplittableRandom rnd = new SplittableRandom(seed);
        for (int i = 0; i < ops; i++) {
            int length = 1 + rnd.nextInt(maxLength);
            length = Math.min(length, bytes.length);
            int offset = rnd.nextInt(bytes.length - length + 1);
            int kind = rnd.nextInt(10);
            String what = "seed " + seed + " op " + i + " at " + offset + "+" + length;
            if (kind < 4) {
                byte[] data = DeviceIo.pattern(length, rnd.nextInt());
                assertThat(Errno.name(io.write(offset, data))).as("write %s", what).isEqualTo("OK");
                write(offset, data);
            } else if (kind < 8) {
                assertThat(io.read(offset, length)).as("read %s", what).isEqualTo(read(offset, length));
            } else if (kind == 8 && discardZeroes) {
                assertThat(Errno.name(io.discard(offset, length))).as("discard %s", what).isEqualTo("OK");
                zero(offset, length); // RAM lowers read discarded ranges as zeroes
            } else {
                assertThat(Errno.name(io.writeZeroes(offset, length))).as("zeroes %s", what).isEqualTo("OK");
                zero(offset, length);
            }
        }
        assertThat(io.read(0, bytes.length)).as("whole device after seed %d", seed).isEqualTo(bytes);
    }

    byte[] bytes() {
        return bytes;
    }
}
