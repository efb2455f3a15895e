package ddtree.nbd;

import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Sends the replies of requests that complete on some other thread than the connection's reader
 * (a device's flush thread, a lower server's reply thread). That thread only posts the request's
 * slot here and goes on; this connection's own writer thread does the socket write. So a client
 * that stops reading its replies stalls only its own connection, never a device's thread that
 * every connection shares.
 *
 * <p>The queue is a ring with room for every slot, and a slot is posted at most once per request,
 * so {@link #post} never blocks and never allocates.
 */
final class CompletionWriter {
    /** What the writer does for a posted slot, and when its queue runs dry. */
    interface Sender {
        void send(int slot);

        void flush();
    }

    private final Sender sender;
    private final int[] ring;
    private int head;
    private int count;
    private boolean stopping;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition posted = lock.newCondition();
    private Thread thread;

    CompletionWriter(int capacity, Sender sender) {
        this.ring = new int[capacity];
        this.sender = sender;
    }

    /** Starts the writer thread, named after the connection. */
    void start(String name) {
        thread = Thread.ofVirtual().name(name).start(this::run);
    }

    void post(int slot) {
        lock.lock();
        try {
            if (count == ring.length) {
                throw new IllegalStateException("completion queue overflow: slot " + slot + " posted twice");
            }
            ring[(head + count) % ring.length] = slot;
            count++;
            posted.signal();
        } finally {
            lock.unlock();
        }
    }

    /** Lets the writer finish what is queued, then end. */
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
            sender.send(slot);
            if (last) {
                sender.flush();
            }
        }
    }
}
