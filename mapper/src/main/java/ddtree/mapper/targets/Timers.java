package ddtree.mapper.targets;

import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;

/** A timer thread for targets whose timed work is light (flakey's state changes). */
final class Timers {
    private Timers() {}

    private static final class Holder {
        static final ScheduledExecutorService SHARED = daemon("ddtree-mapper-timer");
    }

    /** The shared timer: its tasks must not do I/O, which would hold up every other target's. */
    static ScheduledExecutorService shared() {
        return Holder.SHARED;
    }

    /** A new one-thread timer on a platform daemon thread, for a target that does I/O from its tasks. */
    static ScheduledExecutorService daemon(String name) {
        ScheduledThreadPoolExecutor e = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        });
        e.setRemoveOnCancelPolicy(true); // cancelled state-change timers must not pile up
        return e;
    }
}
