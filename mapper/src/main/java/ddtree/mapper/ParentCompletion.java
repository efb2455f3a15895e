package ddtree.mapper;

import ddtree.block.Bio;

/**
 * Completes split parents without nesting. Completing a parent from its last child's completion
 * would nest one {@link Bio#complete} inside another for each layer of a stack that splits;
 * instead, parents finished while a completion is already running on this thread are queued and
 * completed by the outermost one, so call-stack depth stays constant however many layers split.
 */
final class ParentCompletion {
    private static final ThreadLocal<ParentCompletion> QUEUE = ThreadLocal.withInitial(ParentCompletion::new);

    private Bio head;
    private Bio tail;
    private boolean running;

    private ParentCompletion() {}

    /** Completes {@code parent} with {@code errno} (0: success), now or once the outer completion returns. */
    static void finish(Bio parent, int errno) {
        QUEUE.get().add(parent, errno);
    }

    private void add(Bio parent, int errno) {
        if (errno != 0 && parent.status() == 0) {
            parent.setStatus(errno);
        }
        parent.queueNext(null);
        if (tail == null) {
            head = parent;
        } else {
            tail.queueNext(parent);
        }
        tail = parent;
        if (running) {
            return;
        }
        running = true;
        try {
            Bio b;
            while ((b = head) != null) {
                head = b.queueNext();
                if (head == null) {
                    tail = null;
                }
                b.queueNext(null);
                b.complete(0); // the status set above stands: complete keeps the first error
            }
        } finally {
            running = false;
        }
    }
}
