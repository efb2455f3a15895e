package ddtree.nbd;

/**
 * A connection's helper thread that works through request slots posted to it. A connection has
 * two: one submits large requests to the device, so that the reader goes on reading the next
 * request while a megabyte is copied; one sends the replies of requests that complete on a thread
 * the connection does not own (a device's flush or I/O thread), so a client that stops reading
 * its replies stalls only its own connection, never a thread other connections share.
 *
 * <p>The queue is a ring with room for every slot, and a slot is posted at most once per request,
 * so {@link #post} never blocks and never allocates.
 */
final class SlotWorker {
    /** What the worker does with a posted slot, and when its queue runs dry. */
    interface Handler {
        void handle(int slot);

        default void idle() {}
    }

    private final Handler handler;
    private final int[] ring;
    /** Guarded by this object's monitor, which (unlike a lock's condition) allocates nothing to wait. */
    private int head;
    private int count;
    private boolean stopping;
    private Thread thread;

    SlotWorker(int capacity, Handler handler) {
        this.ring = new int[capacity];
        this.handler = handler;
    }

    /**
     * Starts the worker, on a platform thread: a virtual thread would allocate a task object each
     * time it is woken, and these wake once per request.
     */
    void start(String name) {
        thread = Thread.ofPlatform().daemon(true).name(name).start(this::run);
    }

    /** True on the worker's own thread. */
    boolean isCurrent() {
        return Thread.currentThread() == thread;
    }

    synchronized void post(int slot) {
        if (count == ring.length) {
            throw new IllegalStateException("slot queue overflow: slot " + slot + " posted twice");
        }
        ring[(head + count) % ring.length] = slot;
        count++;
        notify();
    }

    /** Lets the worker finish what is queued, then end. */
    void stop() {
        synchronized (this) {
            stopping = true;
            notify();
        }
        if (thread != null) {
            boolean interrupted = false;
            while (thread.isAlive()) {
                try {
                    thread.join();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void run() {
        while (true) {
            int slot;
            boolean last;
            synchronized (this) {
                while (count == 0 && !stopping) {
                    try {
                        wait();
                    } catch (InterruptedException e) {
                        // nobody interrupts this thread; stop() is the way to end it
                    }
                }
                if (count == 0) {
                    return;
                }
                slot = ring[head];
                head = (head + 1) % ring.length;
                count--;
                last = count == 0;
            }
            handler.handle(slot);
            if (last) {
                handler.idle();
            }
        }
    }
}
