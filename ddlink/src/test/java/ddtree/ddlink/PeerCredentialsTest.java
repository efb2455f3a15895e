package ddtree.ddlink;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * SO_PEERCRED for real: a client running as another user (uid 65534) reaches the socket because
 * the test opens up its file mode, and the daemon still refuses it by its credentials.
 */
@Timeout(60)
class PeerCredentialsTest {
    @TempDir
    Path dir;

    /** Sends a hello and prints the first answer frame, in Python so it runs as another user without a JVM. */
    static final String CLIENT = String.join("\n",
            "import socket, struct, sys",
            "s = socket.socket(socket.AF_UNIX)",
            "s.connect(sys.argv[1])",
            "b = b'{\"hello\":\"ddlink\",\"protocol\":1}'",
            "s.sendall(struct.pack('>I', len(b)) + b)",
            "h = b''",
            "while len(h) < 4:",
            "    c = s.recv(4 - len(h))",
            "    if not c: sys.exit(3)",
            "    h += c",
            "n = struct.unpack('>I', h)[0]",
            "body = b''",
            "while len(body) < n:",
            "    c = s.recv(n - len(body))",
            "    if not c: break",
            "    body += c",
            "sys.stdout.write(body.decode())");

    @Test
    void anotherUserIsRefusedEvenWhenTheFileModeLetsItIn() throws Exception {
        Path setpriv = Path.of("/usr/bin/setpriv");
        Path python = Path.of("/usr/bin/python3");
        assumeTrue(Files.isExecutable(setpriv) && Files.isExecutable(python), "skipped: needs setpriv and python3");
        assumeTrue("root".equals(System.getProperty("user.name")), "skipped: switching users needs root");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path socket = dir.resolve("control.sock");
        try (ControlServer server = new ControlServer(socket, new ControlServerTest.FakeHandler(), "1")) {
            server.start();
            Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-rw-rw-"));
            Path script = dir.resolve("client.py");
            Files.writeString(script, CLIENT);
            Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rw-r--r--"));

            String asNobody = run(List.of(setpriv.toString(), "--reuid=65534", "--regid=65534", "--clear-groups",
                    python.toString(), script.toString(), socket.toString()));
            assertThat(asNobody).contains("\"ok\":false").contains("may not control this daemon");

            String asRoot = run(List.of(python.toString(), script.toString(), socket.toString()));
            assertThat(asRoot).contains("\"hello\":\"ddlink\"").contains("\"protocol\":1");
        }
    }

    private static String run(List<String> cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    }
}
