package ddtree.block;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Submits bios iteratively. A target that remaps a bio onto a lower device calls
 * {@link #submit} from inside its own {@code submit}; rather than recurse, the bio joins a queue
 * that the outermost call on this thread drains. A stack of any depth costs constant call-stack
 * depth, as Linux does with {@code current->bio_list}.
 */
public final class Dispatch {
    private static final Logger LOG = LoggerFactory.getLogger(Dispatch.class);
    private static final ThreadLocal<Queue> QUEUE = ThreadLocal.withInitial(Queue::new);

    private Dispatch() {}

    private static final class Queue {
        Bio head;
        Bio tail;
        boolean draining;
    }

    /** Sends {@code bio} to {@code device}, now or once the current dispatch on this thread returns. */
    public static void submit(BlockDevice device, Bio bio) {
        bio.device = device;
        bio.next = null;
        Queue q = QUEUE.get();
        if (q.tail == null) {
            q.head = bio;
        } else {
            q.tail.next = bio;
        }
        q.tail = bio;
        if (q.draining) {
            return;
        }
        q.draining = true;
        try {
            Bio b;
            while ((b = q.head) != null) {
                q.head = b.next;
                if (q.head == null) {
                    q.tail = null;
                }
                b.next = null;
                BlockDevice d = b.device;
                try {
                    d.submit(b);
                } catch (RuntimeException e) {
                    // A bug in one device must not take down the submitter; the request fails.
                    LOG.error("device {} threw on {}", d.name(), b, e);
                    b.complete(Errno.EIO);
                }
            }
        } finally {
            q.draining = false;
        }
    }
}
