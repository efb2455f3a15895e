package ddtree.daemon;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs a command as a subprocess with a timeout and captures what it prints. Output goes to
 * files, so a chatty process never blocks on a full pipe. A process that outlives its timeout is
 * killed, with its children.
 */
final class Exec {
    private Exec() {}

    /** What a finished (or killed) command did. */
    record Result(List<String> command, int exitCode, String out, String err, boolean timedOut, Duration took) {
        /** stdout and stderr together. */
        String all() {
            return out + err;
        }

        boolean ok() {
            return !timedOut && exitCode == 0;
        }

        /** Fails with everything the command printed unless it exited 0 in time. */
        Result assertOk() {
            if (!ok()) {
                throw new AssertionError(describe());
            }
            return this;
        }

        String describe() {
            return String.join(" ", command) + "\n  " + (timedOut ? "timed out after " + took.toMillis() + " ms" : "exit code " + exitCode)
                    + "\n  stdout: " + out.strip() + "\n  stderr: " + err.strip();
        }

        @Override
        public String toString() {
            return describe();
        }
    }

    static Result run(Duration timeout, String... command) {
        return run(timeout, null, Map.of(), List.of(command));
    }

    static Result run(Duration timeout, List<String> command) {
        return run(timeout, null, Map.of(), command);
    }

    /**
     * Runs {@code command} in {@code dir} (null: the current directory) with extra environment,
     * waiting at most {@code timeout}.
     */
    static Result run(Duration timeout, Path dir, Map<String, String> env, List<String> command) {
        Path out = null;
        Path err = null;
        Process p = null;
        long start = System.nanoTime();
        try {
            out = Files.createTempFile("exec-", ".out");
            err = Files.createTempFile("exec-", ".err");
            ProcessBuilder pb = new ProcessBuilder(command)
                    .redirectOutput(out.toFile())
                    .redirectError(err.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
            if (dir != null) {
                pb.directory(dir.toFile());
            }
            pb.environment().putAll(env);
            p = pb.start();
            boolean done = p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
            if (!done) {
                kill(p);
            }
            Duration took = Duration.ofNanos(System.nanoTime() - start);
            return new Result(List.copyOf(command), done ? p.exitValue() : -1, read(out), read(err), !done, took);
        } catch (IOException e) {
            throw new AssertionError("cannot run " + String.join(" ", command) + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted running " + String.join(" ", command), e);
        } finally {
            if (p != null && p.isAlive()) {
                kill(p);
            }
            deleteQuietly(out);
            deleteQuietly(err);
        }
    }

    /** Starts a long-running command whose output goes to {@code log}; stop it with {@link #kill}. */
    static Process start(Path dir, Path log, List<String> command) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        if (dir != null) {
            pb.directory(dir.toFile());
        }
        return pb.start();
    }

    /** Ends a process and its children: SIGTERM, then SIGKILL if it has not gone within 5 s. */
    static void kill(Process p) {
        if (p == null) {
            return;
        }
        List<ProcessHandle> children = new ArrayList<>(p.descendants().toList());
        p.destroy();
        try {
            if (!p.waitFor(5, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                p.waitFor(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
        }
        for (ProcessHandle c : children) {
            if (c.isAlive()) {
                c.destroyForcibly();
            }
        }
    }

    static String read(Path file) throws IOException {
        return Files.readString(file, StandardCharsets.UTF_8);
    }

    private static void deleteQuietly(Path p) {
        if (p != null) {
            try {
                Files.deleteIfExists(p);
            } catch (IOException ignored) {
                // a temp file left behind is harmless
            }
        }
    }
}
