package ddtree.block.device;

import static org.assertj.core.api.Assertions.assertThat;

import ddtree.block.DeviceIo;
import ddtree.block.Errno;
import ddtree.block.Extents;
import java.io.IOException;
import java.util.Arrays;

/**
 * What a device should contain, byte by byte, for property tests. A discard that a device may
 * honour or not leaves bytes that may read as either their old value or zero.
 */
final class DeviceModel {
    private final byte[] data;
    private final boolean[] maybeZero;

    DeviceModel(int size) {
        data = new byte[size];
        maybeZero = new boolean[size];
    }

    void write(long offset, byte[] bytes) {
        System.arraycopy(bytes, 0, data, (int) offset, bytes.length);
        Arrays.fill(maybeZero, (int) offset, (int) offset + bytes.length, false);
    }

    void zero(long offset, long length) {
        Arrays.fill(data, (int) offset, (int) (offset + length), (byte) 0);
        Arrays.fill(maybeZero, (int) offset, (int) (offset + length), false);
    }

    /** A discard that may or may not zero each byte. */
    void mayZero(long offset, long length) {
        Arrays.fill(maybeZero, (int) offset, (int) (offset + length), true);
    }

    void check(long offset, byte[] actual) {
        for (int i = 0; i < actual.length; i++) {
            int at = (int) offset + i;
            if (actual[i] != data[at] && !(maybeZero[at] && actual[i] == 0)) {
                throw new AssertionError("byte at " + at + " reads " + actual[i] + ", expected " + data[at]
                        + (maybeZero[at] ? " or 0" : ""));
            }
        }
    }

    /** One step of a random workload. */
    record Action(Kind kind, long offset, int length, int flags, int seed) {
        enum Kind { READ, WRITE, DISCARD, WRITE_ZEROES, FLUSH }

        @Override
        public String toString() {
            return kind + " " + offset + "+" + length + (flags != 0 ? " flags=" + flags : "");
        }
    }

    /**
     * Runs {@code actions} against the device and the model and checks every read, then the whole
     * device and its extents.
     *
     * @param discardZeroes true when the device's DISCARD is exact (reads back zeroes)
     */
    static void run(DeviceIo io, Iterable<Action> actions, boolean discardZeroes) throws IOException {
        long size = io.device().size();
        DeviceModel model = new DeviceModel((int) size);
        for (Action a : actions) {
            long offset = a.offset() % size;
            int length = (int) Math.min(a.length(), size - offset);
            switch (a.kind()) {
                case READ -> model.check(offset, io.read(offset, length));
                case WRITE -> {
                    byte[] bytes = DeviceIo.pattern(length, a.seed());
                    assertThat(io.write(offset, bytes, a.flags())).as("%s", a).isZero();
                    model.write(offset, bytes);
                }
                case DISCARD -> {
                    assertThat(io.discard(offset, length)).as("%s", a).isZero();
                    if (discardZeroes) {
                        model.zero(offset, length);
                    } else {
                        model.mayZero(offset, length);
                    }
                }
                case WRITE_ZEROES -> {
                    assertThat(Errno.name(io.writeZeroes(offset, length, a.flags()))).as("%s", a).isEqualTo("OK");
                    model.zero(offset, length);
                }
                case FLUSH -> assertThat(io.flush()).isZero();
            }
        }
        byte[] all = io.read(0, (int) size);
        model.check(0, all);

        Extents extents = io.extents(0, size);
        assertThat(extents.totalLength()).isEqualTo(size);
        long pos = 0;
        for (int i = 0; i < extents.count(); i++) {
            if ((extents.flags(i) & Extents.ZERO) != 0) {
                for (long b = pos; b < pos + extents.length(i); b++) {
                    if (all[(int) b] != 0) {
                        throw new AssertionError("extent " + pos + "+" + extents.length(i)
                                + " is reported zero but byte " + b + " is " + all[(int) b]);
                    }
                }
            }
            pos += extents.length(i);
        }
    }
}
