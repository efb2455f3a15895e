package ddtree.daemon;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;

/**
 * A {@code --listen} argument: {@code HOST:PORT}, or {@code [IPV6]:PORT} for an IPv6 address.
 * Port 0 asks for any free port.
 */
public record ListenAddress(String host, int port) {

    public static final ListenAddress DEFAULT = new ListenAddress("127.0.0.1", 10809);

    public ListenAddress {
        if (host.isEmpty()) {
            throw new IllegalArgumentException("empty host");
        }
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port " + port + " is not between 0 and 65535");
        }
    }

    /**
     * Parses {@code HOST:PORT} or {@code [IPV6]:PORT}.
     *
     * @throws IllegalArgumentException naming what is wrong, e.g. {@code --listen 127.0.0.1: missing port}
     */
    public static ListenAddress parse(String text) {
        String where = "--listen " + text + ": ";
        String host;
        String port;
        if (text.startsWith("[")) {
            int close = text.indexOf(']');
            if (close < 0) {
                throw new IllegalArgumentException(where + "missing ']' after the IPv6 address");
            }
            host = text.substring(1, close);
            String rest = text.substring(close + 1);
            if (!rest.startsWith(":")) {
                throw new IllegalArgumentException(where + "missing ':PORT' after ']'");
            }
            port = rest.substring(1);
            if (!host.contains(":")) {
                throw new IllegalArgumentException(where + "'" + host + "' in brackets is not an IPv6 address");
            }
        } else {
            int colon = text.lastIndexOf(':');
            if (colon < 0) {
                throw new IllegalArgumentException(where + "expected HOST:PORT (e.g. 127.0.0.1:10809 or [::1]:10809)");
            }
            host = text.substring(0, colon);
            port = text.substring(colon + 1);
            if (host.contains(":")) {
                throw new IllegalArgumentException(where + "put an IPv6 address in brackets, e.g. [::1]:10809");
            }
        }
        if (host.isEmpty()) {
            throw new IllegalArgumentException(where + "missing host (e.g. 127.0.0.1:" + port + ")");
        }
        if (port.isEmpty()) {
            throw new IllegalArgumentException(where + "missing port");
        }
        int p;
        try {
            p = Integer.parseInt(port);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(where + "port '" + port + "' is not a number");
        }
        if (p < 0 || p > 65535) {
            throw new IllegalArgumentException(where + "port " + p + " is not between 0 and 65535");
        }
        return new ListenAddress(host, p);
    }

    /** Resolves the host; literal addresses need no lookup. */
    public InetSocketAddress resolve() throws UnknownHostException {
        return new InetSocketAddress(InetAddress.getByName(host), port);
    }

    @Override
    public String toString() {
        return format(host, port);
    }

    /** {@code host:port}, with an IPv6 host in brackets. */
    public static String format(String host, int port) {
        return (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
    }

    /** {@code host:port} of a bound socket address, with an IPv6 host in brackets. */
    public static String format(InetSocketAddress address) {
        String host = address.getAddress().getHostAddress();
        int pct = host.indexOf('%');
        if (pct >= 0) {
            host = host.substring(0, pct);
        }
        if (host.equals("0:0:0:0:0:0:0:1")) {
            host = "::1";
        } else if (host.equals("0:0:0:0:0:0:0:0")) {
            host = "::";
        }
        return format(host, address.getPort());
    }
}
