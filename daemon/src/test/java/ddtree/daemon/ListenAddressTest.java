package ddtree.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ListenAddressTest {
    @Test
    void parses() {
        assertThat(ListenAddress.parse("127.0.0.1:10809")).isEqualTo(new ListenAddress("127.0.0.1", 10809));
        assertThat(ListenAddress.parse("[::1]:10809")).isEqualTo(new ListenAddress("::1", 10809));
        assertThat(ListenAddress.parse("localhost:0")).isEqualTo(new ListenAddress("localhost", 0));
        assertThat(ListenAddress.parse("[::1]:10809").toString()).isEqualTo("[::1]:10809");
        assertThat(ListenAddress.DEFAULT.toString()).isEqualTo("127.0.0.1:10809");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "127.0.0.1|expected HOST:PORT",
        "127.0.0.1:|missing port",
        ":10809|missing host",
        "127.0.0.1:99999|port 99999 is not between 0 and 65535",
        "127.0.0.1:http|port 'http' is not a number",
        "[::1:10809|missing ']'",
        "[::1]10809|missing ':PORT' after ']'",
        "::1:10809|put an IPv6 address in brackets",
        "[foo]:1|is not an IPv6 address",
    })
    void mistakesAreNamed(String text, String message) {
        assertThatThrownBy(() -> ListenAddress.parse(text))
                .hasMessageStartingWith("--listen " + text + ": ")
                .hasMessageContaining(message);
    }
}
