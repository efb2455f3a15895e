package ddtree.mapper.targets;

import ddtree.block.Bio;
import ddtree.block.Capabilities;
import ddtree.block.Dispatch;
import ddtree.block.Extents;
import ddtree.mapper.SimpleTargetType;
import ddtree.mapper.StatusType;
import ddtree.mapper.TableException;
import ddtree.mapper.TableLine;
import ddtree.mapper.Target;
import ddtree.mapper.TargetArgs;
import ddtree.mapper.TargetContext;
import ddtree.mapper.TargetType;
import ddtree.nbd.client.ClientOptions;
import ddtree.nbd.client.NbdClientDevice;
import java.io.IOException;
import java.util.List;
import java.util.Locale;

/**
 * {@code nbd <host:port> <export> [<offset>]}: a range of an export on another NBD server, reached
 * through the project's own client. The target owns its connection; when the server goes away,
 * I/O waits while the client reconnects (up to the client's request timeout), and the drop and
 * the return are reported as target events.
 */
public final class NbdTarget implements Target {
    public static final TargetType TYPE = new SimpleTargetType("nbd", "1.0.0", NbdTarget::create);

    private final String address;
    private final String exportName;
    /** Null when the table gave no offset, so that TABLE prints the line as it was written. */
    private final String offsetArg;
    private final long offsetBytes;
    private final NbdClientDevice client;

    private NbdTarget(String address, String exportName, String offsetArg, long offsetSectors,
            NbdClientDevice client) {
        this.address = address;
        this.exportName = exportName;
        this.offsetArg = offsetArg;
        this.offsetBytes = offsetSectors * TableLine.SECTOR;
        this.client = client;
    }

    private static Target create(TargetContext ctx, String deviceName, TableLine line) throws TableException {
        List<String> args = line.args();
        if (args.size() != 2 && args.size() != 3) {
            throw new TableException("expects 2 or 3 arguments (<host:port> <export> [<offset>]) but got "
                    + args.size() + TargetArgs.describe(args));
        }
        String address = args.get(0);
        int colon = address.lastIndexOf(':');
        if (colon <= 0 || colon == address.length() - 1) {
            throw new TableException("address '" + address + "' is not <host:port>");
        }
        String host = address.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1); // [::1]:10809
        }
        int port = (int) TargetArgs.number("port", address.substring(colon + 1), 1, 65535, "a TCP port");
        String exportName = args.get(1);
        String offsetArg = args.size() == 3 ? args.get(2) : null;
        long offset = offsetArg == null ? 0 : TargetArgs.sectors("offset", offsetArg);
        String where = address + "/" + exportName;
        ClientOptions options = ClientOptions.defaults()
                .withEvents(event -> ctx.event(deviceName, "nbd " + where + ": " + event));
        NbdClientDevice client;
        try {
            client = NbdClientDevice.connect(deviceName + "@" + line.start(), host, port, exportName, options);
        } catch (IOException e) {
            throw new TableException("cannot open export: " + e.getMessage());
        } catch (IllegalArgumentException e) {
            throw new TableException(e.getMessage());
        }
        try {
            TargetArgs.fits(where, client, offset, line.length());
        } catch (TableException e) {
            client.close();
            throw e;
        }
        return new NbdTarget(address, exportName, offsetArg, offset, client);
    }

    @Override
    public void map(Bio bio) {
        bio.remap(bio.offset() + offsetBytes);
        Dispatch.submit(client, bio);
    }

    /** INFO: connected, reconnecting, failed or closed. TABLE: the arguments as the table gave them. */
    @Override
    public String status(StatusType type) {
        if (type == StatusType.INFO) {
            return client.state().name().toLowerCase(Locale.ROOT);
        }
        return address + " " + exportName + (offsetArg == null ? "" : " " + offsetArg);
    }

    /** None: the export is on another server, not a device of this one. */
    @Override
    public List<String> dependencies() {
        return List.of();
    }

    @Override
    public Capabilities capabilities() {
        return client.capabilities();
    }

    @Override
    public void extents(long offset, long length, Extents out) throws IOException {
        client.extents(offset + offsetBytes, length, out);
    }

    @Override
    public void close() {
        client.close();
    }

    @Override
    public String toString() {
        return "nbd " + address + " " + exportName;
    }
}
