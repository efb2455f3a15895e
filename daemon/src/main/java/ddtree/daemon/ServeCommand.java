package ddtree.daemon;

import ddtree.ddlink.SizeParser;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code ddtree serve}: runs the daemon in the foreground until Ctrl-C or SIGTERM. */
@Command(
        name = "serve",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        sortOptions = false,
        usageHelpAutoWidth = true,
        description = {
            "Serves block devices over NBD until stopped with Ctrl-C or SIGTERM.",
            "",
            "Each device is exported under its name; the first is also the default export.",
            "With no --device, serves disk0: a sparse 1 GiB file STATE/disk0.img.",
            "Devices made with ddsetup over the control socket are saved in STATE and come back on restart.",
            "On stop, requests in flight finish and file devices are flushed before exit.",
        },
        footer = {
            "",
            "Sizes are bytes or a number with K, M, G or T (powers of 1024).",
            "Examples:",
            "  ddtree serve",
            "  ddtree serve --device vm1=file:vm1.img:20G --device scratch=ram:512M",
            "  ddtree serve --listen [::1]:10809 --device iso=file:debian.iso --read-only iso",
        })
public final class ServeCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--state", paramLabel = "DIR", defaultValue = "./var",
            description = "State directory, made if missing (default: ${DEFAULT-VALUE}).")
    String state;

    @Option(names = "--listen", paramLabel = "HOST:PORT", defaultValue = "127.0.0.1:10809",
            description = "Address for NBD clients; [IPV6]:PORT for IPv6 (default: ${DEFAULT-VALUE}).")
    String listen;

    @Option(names = "--device", paramLabel = "NAME=ram:SIZE|NAME=file:PATH[:SIZE]",
            description = {
                "A device to serve (repeatable). ram:SIZE keeps the data in memory until exit;",
                "file:PATH uses a file, created sparse at SIZE if missing (an existing file keeps its size).",
            })
    List<String> devices = new ArrayList<>();

    @Option(names = "--read-only", paramLabel = "NAME", description = "Export this device read-only (repeatable).")
    List<String> readOnly = new ArrayList<>();

    @Option(names = "--control", paramLabel = "PATH",
            description = "Control socket for ddsetup, mode 0600 (default: STATE/control.sock).")
    String control;

    @Option(names = "--buffer-budget", paramLabel = "SIZE", defaultValue = "256M",
            description = "Memory for request buffers, 1/8 of it kept for flush and writeback (default: ${DEFAULT-VALUE}).")
    String bufferBudget;

    @Option(names = "--max-connections", paramLabel = "N", defaultValue = "" + DaemonConfig.DEFAULT_MAX_CONNECTIONS,
            description = "Refuse clients beyond this many connections (default: ${DEFAULT-VALUE}).")
    int maxConnections;

    @Option(names = "--busy-poll", paramLabel = "USEC", defaultValue = "" + DaemonConfig.DEFAULT_BUSY_POLL_MICROS,
            description = "Poll a client's socket this long for its next request before sleeping; costs CPU,"
                    + " saves latency; 0 turns it off (default: ${DEFAULT-VALUE}).")
    int busyPoll;

    /** Turns the options into a config, or throws a usage error naming the bad argument. */
    DaemonConfig config() {
        try {
            Path stateDir;
            try {
                stateDir = Path.of(state);
            } catch (InvalidPathException e) {
                throw new IllegalArgumentException("--state " + state + ": " + e.getReason());
            }
            if (state.isEmpty()) {
                throw new IllegalArgumentException("--state: empty directory name");
            }
            ListenAddress address = ListenAddress.parse(listen);
            List<DeviceSpec> specs = new ArrayList<>();
            for (String d : devices) {
                specs.add(DeviceSpec.parse(d));
            }
            long budget;
            try {
                budget = SizeParser.parse(bufferBudget);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--buffer-budget " + bufferBudget + ": " + e.getMessage(), e);
            }
            Path controlPath = null;
            if (control != null) {
                if (control.isEmpty()) {
                    throw new IllegalArgumentException("--control: empty path");
                }
                try {
                    controlPath = Path.of(control);
                } catch (InvalidPathException e) {
                    throw new IllegalArgumentException("--control " + control + ": " + e.getReason());
                }
                // sun_path holds 107 bytes and a terminating NUL; a longer path cannot be bound.
                int length = controlPath.toAbsolutePath().toString().getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
                if (length > 107) {
                    throw new IllegalArgumentException("--control " + control + ": the absolute path is " + length
                            + " bytes; a Unix socket path holds at most 107");
                }
            }
            return DaemonConfig.of(stateDir, address, specs, readOnly, budget, maxConnections, controlPath)
                    .withBusyPollMicros(busyPoll);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage(), e);
        }
    }

    @Override
    public Integer call() throws InterruptedException {
        DaemonConfig config = config();
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Daemon daemon = new Daemon(config);
        try {
            daemon.start();
        } catch (IOException e) {
            err.println("ddtree: " + e.getMessage());
            err.flush();
            return 1;
        }
        Stopper stopper = new Stopper(daemon, out, err);
        Runtime.getRuntime().addShutdownHook(new Thread(stopper::stop, "ddtree-shutdown"));
        stopper.installSignalHandlers();
        printBanner(daemon, out);
        stopper.awaitSignal();
        return stopper.stop() ? 0 : 1;
    }

    /**
     * Where the daemon listens, its devices, and how to connect to it; written in one piece so a
     * reader that sees the first line sees them all.
     */
    static void printBanner(Daemon daemon, PrintWriter out) {
        DaemonConfig config = daemon.config();
        StringBuilder b = new StringBuilder();
        String nl = System.lineSeparator();
        b.append("ddtree serving on ").append(ListenAddress.format(daemon.address()))
                .append(" (state ").append(config.stateDir()).append(")").append(nl);
        int width = 0;
        int sizeWidth = 0;
        for (Daemon.Served s : daemon.served()) {
            width = Math.max(width, s.name().length());
            sizeWidth = Math.max(sizeWidth, SizeParser.format(s.device().size()).length());
        }
        for (Daemon.Served s : daemon.served()) {
            b.append("  ").append(pad(s.name(), width)).append("  ")
                    .append(pad(SizeParser.format(s.device().size()), sizeWidth)).append("  ")
                    .append(s.description()).append(s.readOnly() ? "  read-only" : "")
                    .append(s.export() == null ? "  (not exported)" : s.export().equals(s.name()) ? "" : "  exported as " + s.export())
                    .append(nl);
        }
        b.append("  control socket ").append(config.control()).append(nl);
        String uri = daemon.uri(config.defaultExport());
        if (daemon.served().size() > 1) {
            b.append("  nbdinfo --list ").append(uri, 0, uri.lastIndexOf('/')).append(nl);
        }
        b.append("  nbdinfo ").append(uri).append(nl);
        b.append("  qemu-img info ").append(uri).append(nl);
        b.append("  nbdfuse DIR ").append(uri).append(nl);
        out.print(b);
        out.flush();
    }

    private static String pad(String s, int width) {
        return s + " ".repeat(Math.max(0, width - s.length()));
    }

    /**
     * Stops the daemon once, whether asked by a signal (the main thread then exits 0) or by the
     * JVM shutting down for another reason (the shutdown hook). A second Ctrl-C or SIGTERM while
     * stopping exits at once.
     */
    static final class Stopper {
        private final Daemon daemon;
        private final PrintWriter out;
        private final PrintWriter err;
        private final CountDownLatch signalled = new CountDownLatch(1);
        private final AtomicBoolean stopping = new AtomicBoolean();
        private final CountDownLatch stopped = new CountDownLatch(1);
        private volatile boolean clean;
        private long firstSignal;

        Stopper(Daemon daemon, PrintWriter out, PrintWriter err) {
            this.daemon = daemon;
            this.out = out;
            this.err = err;
        }

        @SuppressWarnings("sunapi")
        void installSignalHandlers() {
            for (String name : new String[] {"INT", "TERM"}) {
                try {
                    sun.misc.Signal.handle(new sun.misc.Signal(name), this::onSignal);
                } catch (IllegalArgumentException | UnsupportedOperationException e) {
                    // The JVM keeps this signal (e.g. under -Xrs); the shutdown hook still stops cleanly.
                }
            }
        }

        @SuppressWarnings("sunapi")
        private synchronized void onSignal(sun.misc.Signal signal) {
            long now = System.nanoTime();
            if (signalled.getCount() != 0) {
                firstSignal = now;
                err.println("ddtree: SIG" + signal.getName() + ": stopping (again to exit at once)");
                err.flush();
                signalled.countDown();
            } else if (now - firstSignal > 1_000_000_000L) { // not a duplicate of the first one
                err.println("ddtree: SIG" + signal.getName() + " again: exiting without waiting");
                err.flush();
                Runtime.getRuntime().halt(128 + signal.getNumber());
            }
        }

        void awaitSignal() throws InterruptedException {
            signalled.await();
        }

        /** Stops the daemon and says so; returns whether every device closed cleanly. */
        boolean stop() {
            if (!stopping.compareAndSet(false, true)) {
                try {
                    stopped.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return clean;
            }
            try {
                daemon.close();
                clean = true;
                out.println("ddtree stopped: clients disconnected, devices flushed and closed");
            } catch (IOException | RuntimeException e) {
                err.println("ddtree: stopped with errors: " + e.getMessage());
                for (Throwable s : e.getSuppressed()) {
                    err.println("ddtree:   also: " + s.getMessage());
                }
            } finally {
                out.flush();
                err.flush();
                stopped.countDown();
            }
            return clean;
        }
    }
}
