package ddtree.block;

import java.io.IOException;

/**
 * A device that passes everything to another, for tests that put a device of their own (one that
 * checks, holds or fails requests) in front of a real one: a subclass overrides only what it changes.
 */
public abstract class ForwardingDevice implements BlockDevice {
    protected final BlockDevice inner;

    protected ForwardingDevice(BlockDevice inner) {
        this.inner = inner;
    }

    @Override
    public String name() {
        return inner.name();
    }

    @Override
    public long size() {
        return inner.size();
    }

    @Override
    public int logicalBlockSize() {
        return inner.logicalBlockSize();
    }

    @Override
    public Capabilities capabilities() {
        return inner.capabilities();
    }

    @Override
    public InflightBudget budget() {
        return inner.budget();
    }

    @Override
    public void submit(Bio bio) {
        Dispatch.submit(inner, bio);
    }

    @Override
    public void extents(long offset, long length, Extents out) throws IOException {
        inner.extents(offset, length, out);
    }

    @Override
    public void close() throws IOException {
        inner.close();
    }
}
