package ddtree.block;

/** What a {@link Bio} asks its device to do. */
public enum Op {
    READ,
    WRITE,
    FLUSH,
    DISCARD,
    WRITE_ZEROES;

    /** True for operations that change the device's contents. */
    public boolean modifies() {
        return this == WRITE || this == DISCARD || this == WRITE_ZEROES;
    }

    /** True for operations whose payload lives in the bio's buffer. */
    public boolean carriesData() {
        return this == READ || this == WRITE;
    }
}
