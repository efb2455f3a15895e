package ddtree.nbd;

import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A connection's helper thread that works through request slots posted to it. A connection has
 * two: one submits large requests to the device, so that the reader goes on reading the next
 * request while a megabyte is copied; one sends the replies of requests that complete on some
 * other thread than the reader (a device's flush thread, the submitter), so a client that stops
 * reading its replies stalls only its own connection, never a thread other connections share.
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
    private int head;
    private int count;
    private boolean stopping;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition posted = lock.newCondition();
    private Thread thread;

    SlotWorker(int capacity, Handler handler) {
        this.ring = new int[capacity];
        this.handler = handler;
    }

    /** Starts the worker thread. */
    void start(String name) {
        thread = Thread.ofVirtual().name(name).start(this::run);
    }

    void post(int slot) {
        lock.lock();
        try {
            if (count == ring.length) {
                throw new IllegalStateException("slot queue overflow: slot " + slot + " posted twice");
            }
            ring[(head + count) % ring.length] = slot;
            count++;
            posted.signal();
        } finally {
            lock.unlock();
        }
    }

    /** Lets the worker finish what is queued, then end. */
    void stop() {
        lock.lock();
        try {
            stopping = true;
            posted.signal();
        } finally {
            lock.unlock();
        }
        if (thread != null) {
            try {
                thread.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void run() {
        while (true) {
            int slot;
            boolean last;
            lock.lock();
            try {
                while (count == 0 && !stopping) {
                    posted.awaitUninterruptibly();
                }
                if (count == 0) {
                    return;
                }
                slot = ring[head];
                head = (head + 1) % ring.length;
                count--;
                last = count == 0;
            } finally {
                lock.unlock();
            }
            handler.handle(slot);
            if (last) {
                handler.idle();
            }
        }
    }
}
