package ddtree.ddsetup;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine;
import picocli.CommandLine.ParameterException;

/** Where {@code create} and {@code reload} take a table from: --table, a file, or standard input. */
final class TableSource {
    private TableSource() {}

    /** The largest table read from a file or stdin; the protocol's frames are 1 MiB. */
    static final int MAX_TABLE = 512 << 10;

    static String read(CommandLine cmd, String table, String file, InputStream stdin) {
        if (table != null && file != null) {
            throw new ParameterException(cmd, "give the table with --table or as a file, not both");
        }
        if (table != null) {
            return table.replace("\\n", "\n"); // one-line shells: --table '0 8 zero\n8 8 error'
        }
        try {
            byte[] bytes;
            if (file == null || file.equals("-")) {
                bytes = stdin.readNBytes(MAX_TABLE + 1);
            } else {
                Path p = Path.of(file);
                if (!Files.isRegularFile(p)) {
                    throw new ParameterException(cmd, "table file " + file + " does not exist");
                }
                if (Files.size(p) > MAX_TABLE) {
                    throw new ParameterException(cmd, "table file " + file + " is larger than " + MAX_TABLE + " bytes");
                }
                bytes = Files.readAllBytes(p);
            }
            if (bytes.length > MAX_TABLE) {
                throw new ParameterException(cmd, "the table on standard input is larger than " + MAX_TABLE + " bytes");
            }
            return new String(bytes, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new ParameterException(cmd, "cannot read the table from " + (file == null ? "standard input" : file) + ": " + e.getMessage());
        }
    }
}
