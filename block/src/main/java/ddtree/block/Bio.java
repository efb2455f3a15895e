package ddtree.block;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;

/**
 * One block I/O request: an operation on a byte range of a device, its data buffer, flags, and a
 * stack of completion steps.
 *
 * <p>Bios are made once and reused (an NBD connection keeps one per request slot); nothing here allocates per request. The
 * completion stack has a fixed depth chosen when the bio is made, which is the per-bio target
 * state the design reserves up front: each layer of a stack pushes one step and one {@code long}.
 *
 * <p>A bio is owned by one layer at a time, so its fields need no locking; handing it to another
 * thread happens through {@link Dispatch} or a completion, both of which publish safely.
 */
public final class Bio {
    /** Force unit access: the write is durable when it completes. */
    public static final int FUA = 1;
    /** WRITE_ZEROES must leave the range allocated rather than punch a hole. */
    public static final int NO_HOLE = 1 << 1;
    /** WRITE_ZEROES must fail with ENOTSUP rather than be slower than a write. */
    public static final int FAST_ZERO = 1 << 2;
    /** The request serves writeback or flush and may use the budgets' reserve. */
    public static final int RESERVE = 1 << 3;

    /** Completion depth reserved when none is given: enough for deep target stacks. */
    public static final int DEFAULT_DEPTH = 16;

    private Op op = Op.READ;
    private long offset;
    private long length;
    private int flags;
    private int status;

    private PooledBuffer buffer;
    private int bufferOffset;

    /** Whether the device at the bottom may lend its memory instead of filling the buffer. */
    private boolean lendable;
    private Lender lender;
    private long lentAddress;

    private final BioCompletion[] steps;
    private final long[] stepState;
    private int depth;

    /** The device this bio is queued for; set by {@link Dispatch}. */
    BlockDevice device;
    /** Next bio in a dispatch queue. */
    Bio next;
    /** Next bio in the current owner's own queue; see {@link #queueNext()}. */
    private Bio queueNext;

    public Bio() {
        this(DEFAULT_DEPTH);
    }

    public Bio(int completionDepth) {
        if (completionDepth < 1) {
            throw new IllegalArgumentException("completionDepth (" + completionDepth + ") must be positive");
        }
        steps = new BioCompletion[completionDepth];
        stepState = new long[completionDepth];
    }

    /**
     * Sets up this bio for a new request and clears what the previous one left.
     *
     * @param buffer the data buffer for READ and WRITE (null for the others)
     */
    public Bio reset(Op op, long offset, long length, int flags, PooledBuffer buffer) {
        if (offset < 0 || length < 0) {
            throw new IllegalArgumentException("negative range: offset " + offset + " length " + length);
        }
        if (op.carriesData()) {
            if (buffer == null) {
                throw new IllegalArgumentException(op + " needs a buffer");
            }
            if (length > buffer.capacity()) {
                throw new IllegalArgumentException(
                        "length " + length + " exceeds buffer capacity " + buffer.capacity());
            }
        }
        giveBackLent(); // an owner that forgot would keep the lender's memory mapped for good
        this.lendable = false;
        this.op = op;
        this.offset = offset;
        this.length = length;
        this.flags = flags;
        this.buffer = buffer;
        this.bufferOffset = 0;
        this.status = Errno.OK;
        this.depth = 0;
        this.device = null;
        this.next = null;
        this.queueNext = null;
        return this;
    }

    public Op op() {
        return op;
    }

    public long offset() {
        return offset;
    }

    public long length() {
        return length;
    }

    public int flags() {
        return flags;
    }

    public boolean hasFlag(int flag) {
        return (flags & flag) != 0;
    }

    /** 0 when the request succeeded, else an {@link Errno} value. Valid once completed. */
    public int status() {
        return status;
    }

    /** The buffer holding this bio's data, or null for operations without payload. */
    public PooledBuffer buffer() {
        return buffer;
    }

    /** Where in {@link #buffer()} this bio's data starts. */
    public int bufferOffset() {
        return bufferOffset;
    }

    /**
     * The data as a segment of exactly {@link #length()} bytes. Slicing allocates a small view, so
     * hot paths use {@link #buffer()} with {@link #bufferOffset()} instead.
     */
    public MemorySegment data() {
        return buffer.segment().asSlice(bufferOffset, length);
    }

    /**
     * The buffer's reusable byte-buffer view, positioned on this bio's data. It is shared with
     * every other use of the same buffer, so take it, use it, and do not keep it.
     */
    public ByteBuffer dataBuffer() {
        ByteBuffer bb = buffer.byteBuffer();
        bb.limit(bufferOffset + (int) length).position(bufferOffset);
        return bb;
    }

    /**
     * Lets the device at the bottom of the stack complete this READ by lending its memory (see
     * {@link #lend}) rather than copying into the buffer. The bio's owner calls this after pushing
     * its own completion step and must then, once done with the data, call {@link #giveBackLent()}.
     * A layer that pushes a completion step which {@linkplain BioCompletion#readsData() reads the
     * data}, or that splits the bio, withdraws the permission, since it would look in the buffer.
     */
    public void allowLending() {
        lendable = op == Op.READ;
    }

    /** Whether a device may answer this bio with {@link #lend}. */
    public boolean lendingAllowed() {
        return lendable;
    }

    /**
     * Answers this READ with {@link #length()} bytes of the lender's memory at {@code address}
     * instead of the buffer's contents. The lender keeps the memory mapped until
     * {@link #giveBackLent()}.
     *
     * @throws IllegalStateException if lending was not allowed or the bio holds a loan already
     */
    public void lend(Lender lender, long address) {
        if (!lendable || this.lender != null) {
            throw new IllegalStateException("lending not allowed for " + this);
        }
        this.lender = lender;
        this.lentAddress = address;
    }

    /** Whether the data is lent memory ({@link #lentAddress()}) rather than the buffer. */
    public boolean lent() {
        return lender != null;
    }

    /** The address of the lent data, valid while {@link #lent()}. */
    public long lentAddress() {
        return lentAddress;
    }

    /** Ends the loan, if any; the data must not be read afterwards. */
    public void giveBackLent() {
        Lender l = lender;
        if (l != null) {
            lender = null;
            l.giveBack();
        }
    }

    /** Moves the bio to another byte offset, as a remapping target does before passing it down. */
    public void remap(long newOffset) {
        if (newOffset < 0) {
            throw new IllegalArgumentException("negative offset " + newOffset);
        }
        this.offset = newOffset;
    }

    /** Narrows the bio to part of its range, for targets that split (the caller keeps the rest). */
    public void narrow(long newOffset, long newLength, int newBufferOffset) {
        this.offset = newOffset;
        this.length = newLength;
        this.bufferOffset = newBufferOffset;
    }

    /** Points this bio at part of another bio's data, for a split child. */
    public Bio resetChild(Bio parent, long newOffset, long newLength, int parentBufferOffset) {
        if (parent.op.carriesData()
                && (parentBufferOffset < 0 || newLength > parent.buffer.capacity() - (long) parentBufferOffset)) {
            throw new IllegalArgumentException("child range " + parentBufferOffset + "+" + newLength
                    + " exceeds buffer capacity " + parent.buffer.capacity());
        }
        reset(parent.op, newOffset, newLength, parent.flags, parent.buffer);
        this.bufferOffset = parentBufferOffset;
        return this;
    }

    /**
     * Pushes a completion step, run when the layers below complete this bio.
     *
     * @throws IllegalStateException when the stack reserved for this bio is full
     */
    public void pushCompletion(BioCompletion step, long state) {
        if (depth == steps.length) {
            throw new IllegalStateException("bio completion stack full at depth " + depth);
        }
        if (step.readsData()) {
            lendable = false;
        }
        steps[depth] = step;
        stepState[depth] = state;
        depth++;
    }

    /** How many more completion steps fit, so a layer can tell whether it may push one. */
    public int completionRoom() {
        return steps.length - depth;
    }

    /**
     * The next bio in a queue kept by the layer that owns this bio now (I/O held while a device is
     * suspended, bios waiting on a timer). Such queues are intrusive so that holding a bio
     * allocates nothing. Separate from the dispatch queue's link, which {@link Dispatch} owns.
     */
    public Bio queueNext() {
        return queueNext;
    }

    /** Links this bio to the next one in its owner's queue; see {@link #queueNext()}. */
    public void queueNext(Bio next) {
        this.queueNext = next;
    }

    /** How many completion steps are pending. */
    public int completionDepth() {
        return depth;
    }

    /**
     * Ends this bio at the current layer with {@code errno} (0 for success) and runs the pending
     * completion steps, innermost first. Iterative, so stack depth stays constant however deep the
     * device stack is. A step that returns false stops the walk and owns the bio from then on.
     */
    public void complete(int errno) {
        if (errno != Errno.OK && status == Errno.OK) {
            status = errno; // the first error wins; later layers must not hide it
        }
        while (depth > 0) {
            depth--;
            BioCompletion step = steps[depth];
            long state = stepState[depth];
            steps[depth] = null;
            if (!step.bioDone(this, state)) {
                return;
            }
        }
    }

    /** Sets the status without running completion, for a step that merges children's results. */
    public void setStatus(int errno) {
        this.status = errno;
    }

    @Override
    public String toString() {
        return op + " " + offset + "+" + length + (flags != 0 ? " flags=" + flags : "")
                + (status != 0 ? " status=" + Errno.name(status) : "");
    }
}
