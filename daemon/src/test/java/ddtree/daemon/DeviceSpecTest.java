package ddtree.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class DeviceSpecTest {
    @Test
    void ram() {
        assertThat(DeviceSpec.parse("scratch=ram:512M")).isEqualTo(DeviceSpec.ram("scratch", 512L << 20));
    }

    @Test
    void files() {
        assertThat(DeviceSpec.parse("vm1=file:vm1.img:20G"))
                .isEqualTo(DeviceSpec.file("vm1", Path.of("vm1.img"), OptionalLong.of(20L << 30)));
        assertThat(DeviceSpec.parse("iso=file:/srv/debian.iso"))
                .isEqualTo(DeviceSpec.file("iso", Path.of("/srv/debian.iso"), OptionalLong.empty()));
        // A colon inside the path: only a trailing part that starts with a digit is a size.
        assertThat(DeviceSpec.parse("x=file:/srv/a:b.img"))
                .isEqualTo(DeviceSpec.file("x", Path.of("/srv/a:b.img"), OptionalLong.empty()));
        assertThat(DeviceSpec.parse("x=file:/srv/a:b.img:4096"))
                .isEqualTo(DeviceSpec.file("x", Path.of("/srv/a:b.img"), OptionalLong.of(4096)));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "disk1=file:|--device disk1=file:: missing path",
        "disk1=file::8M|--device disk1=file::8M: missing path",
        "d=ram:12Q|--device d=ram:12Q: size '12Q': unknown suffix 'Q' (use K, M, G or T)",
        "d=file:x.img:12Q|--device d=file:x.img:12Q: size '12Q': unknown suffix 'Q' (use K, M, G or T)",
        "d=ram:|--device d=ram:: missing size (e.g. d=ram:64M)",
        "d=ram|--device d=ram: missing size (e.g. d=ram:64M)",
        "d=ram:0|--device d=ram:0: size '0' must be more than 0",
        "d=disk:1M|--device d=disk:1M: unknown kind 'disk' (use ram:SIZE or file:PATH[:SIZE])",
        "d=|--device d=: missing kind after '=' (use ram:SIZE or file:PATH[:SIZE])",
        "=ram:1M|--device =ram:1M: missing device name before '='",
        "disk0|--device disk0: expected NAME=ram:SIZE or NAME=file:PATH[:SIZE]",
        "d=file:x.img:|--device d=file:x.img:: missing size after the last ':'",
    })
    void mistakesAreNamed(String text, String message) {
        assertThatThrownBy(() -> DeviceSpec.parse(text)).isInstanceOf(IllegalArgumentException.class).hasMessage(message);
    }

    @Test
    void namesStayPlain() {
        assertThatThrownBy(() -> DeviceSpec.parse("a b=ram:1M")).hasMessageContaining("bad device name 'a b'");
        assertThatThrownBy(() -> DeviceSpec.parse("a/b=ram:1M")).hasMessageContaining("bad device name 'a/b'");
        assertThatThrownBy(() -> DeviceSpec.parse("-x=ram:1M")).hasMessageContaining("bad device name '-x'");
        assertThat(DeviceSpec.parse("vm-1.disk_2=ram:1M").name()).isEqualTo("vm-1.disk_2");
    }
}
