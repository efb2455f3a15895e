package ddtree.bench;

import com.fasterxml.jackson.databind.JsonNode;
import ddtree.ddlink.DdlinkClient;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * The ddsnap snapshot series of bench/ddsnap-bench.sh, against a running daemon: before each
 * snapshot, fio rewrites a share of the volume with random writes; at the milestones, fio
 * measures 4k random writes at queue depth 32 on the volume. Snapshots are taken over one
 * control connection, so their times are the daemon's, not a JVM start's. Ends with the read
 * rate of a full delta stream of the last snapshot.
 *
 * <p>Arguments: CONTROL_SOCKET VOLUME NBD_URI VOLUME_BYTES REWRITE_PERCENT RUNTIME_S MILESTONES...
 */
public final class SnapshotSeries {
    private SnapshotSeries() {}

    public static void main(String[] args) throws Exception {
        Path control = Path.of(args[0]);
        String volume = args[1];
        String uri = args[2];
        long volumeBytes = Long.parseLong(args[3]);
        int percent = Integer.parseInt(args[4]);
        int runtime = Integer.parseInt(args[5]);
        List<Integer> milestones = new ArrayList<>();
        for (int i = 6; i < args.length; i++) {
            milestones.add(Integer.parseInt(args[i]));
        }
        long rewrite = volumeBytes * percent / 100 / 65536 * 65536;
        try (DdlinkClient c = DdlinkClient.connect(control, "ddsnap-bench")) {
            int taken = 0;
            List<Double> recent = new ArrayList<>();
            double maxMs = 0;
            System.out.printf(Locale.ROOT, "%-12s %10s %12s %12s%n", "snapshots", "IOPS", "create_ms", "create_max");
            for (int target : milestones) {
                while (taken < target) {
                    fio(uri, "rewrite", List.of("--rw=randwrite", "--bs=64k", "--iodepth=8", "--end_fsync=1", "--io_size=" + rewrite));
                    long t0 = System.nanoTime();
                    c.message(volume, 0, "snapshot s" + (taken + 1));
                    double ms = (System.nanoTime() - t0) / 1e6;
                    recent.add(ms);
                    if (recent.size() > 10) {
                        recent.removeFirst();
                    }
                    maxMs = Math.max(maxMs, ms);
                    taken++;
                }
                JsonNode r = fio(uri, "measure", List.of("--rw=randwrite", "--bs=4k", "--iodepth=32", "--time_based",
                        "--runtime=" + runtime, "--ramp_time=1"));
                double iops = r.path("jobs").get(0).path("write").path("iops").asDouble();
                double mean = recent.stream().mapToDouble(Double::doubleValue).average().orElse(0);
                System.out.printf(Locale.ROOT, "%-12d %10.0f %12.2f %12.2f%n", taken, iops, mean, maxMs);
                maxMs = 0;
            }
            long[] bytes = {0};
            OutputStream sink = new OutputStream() {
                @Override
                public void write(int b) {
                    bytes[0]++;
                }

                @Override
                public void write(byte[] b, int off, int len) {
                    bytes[0] += len;
                }
            };
            long t0 = System.nanoTime();
            JsonNode d = c.deltaSend(volume, Optional.empty(), "s" + taken, false, sink, n -> { });
            double s = (System.nanoTime() - t0) / 1e9;
            System.out.printf(Locale.ROOT, "delta_full_MBps %.0f (%d chunks, %.1f s)%n",
                    volumeBytes / s / 1e6, d.path("chunks").asLong(), s);
        }
    }

    private static JsonNode fio(String uri, String name, List<String> opts) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("fio", "--name=" + name, "--ioengine=nbd", "--uri=" + uri,
                "--numjobs=1", "--output-format=json", "--randrepeat=0"));
        cmd.addAll(opts);
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (p.waitFor() != 0) {
            throw new IOException("fio " + name + " failed: " + new String(out));
        }
        String text = new String(out);
        return new com.fasterxml.jackson.databind.ObjectMapper().readTree(text.substring(text.indexOf('{')));
    }
}
