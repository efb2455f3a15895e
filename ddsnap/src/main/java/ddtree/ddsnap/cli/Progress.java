package ddtree.ddsnap.cli;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;

/** A one-line progress bar on standard error, shown only when standard error is a terminal. */
final class Progress {
    private final PrintStream err;
    private final boolean shown;
    private final String what;
    private long total;
    private long lastPrint;

    Progress(String what) {
        this.err = System.err;
        this.what = what;
        this.shown = stderrIsTerminal();
    }

    private static boolean stderrIsTerminal() {
        try {
            String target = Files.readSymbolicLink(Path.of("/proc/self/fd/2")).toString();
            return target.startsWith("/dev/pts/") || target.startsWith("/dev/tty");
        } catch (Exception e) {
            return false;
        }
    }

    void total(long bytes) {
        total = bytes;
    }

    void at(long bytes) {
        long now = System.nanoTime();
        if (!shown || now - lastPrint < 200_000_000L) {
            return;
        }
        lastPrint = now;
        int width = 30;
        int filled = total > 0 ? (int) Math.min(width, bytes * width / total) : 0;
        err.print("\r" + what + " [" + "#".repeat(filled) + " ".repeat(width - filled) + "] " + Verbs.size(bytes)
                + (total > 0 ? " of " + Verbs.size(total) : "") + "   ");
        err.flush();
    }

    void done() {
        if (shown && lastPrint != 0) {
            err.print("\r" + " ".repeat(79) + "\r");
            err.flush();
        }
    }
}
