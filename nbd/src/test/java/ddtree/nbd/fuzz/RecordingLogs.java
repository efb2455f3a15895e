package ddtree.nbd.fuzz;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.ILoggerFactory;
import org.slf4j.IMarkerFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.Marker;
import org.slf4j.event.Level;
import org.slf4j.helpers.BasicMarkerFactory;
import org.slf4j.helpers.LegacyAbstractLogger;
import org.slf4j.helpers.MessageFormatter;
import org.slf4j.helpers.NOPMDCAdapter;
import org.slf4j.spi.MDCAdapter;
import org.slf4j.spi.SLF4JServiceProvider;

/**
 * An SLF4J provider for the fuzz test that counts ERROR events, so a connection that swallows an
 * unexpected exception (and logs it) still fails the test. ERROR goes to standard error, and WARN
 * too except while fuzzing, where hostile input makes nearly every connection warn; lower levels
 * are dropped.
 *
 * <p>Chosen with the {@code slf4j.provider} system property, which only works if nothing in the
 * JVM has used SLF4J yet; {@link #active()} tells whether it took.
 */
public final class RecordingLogs implements SLF4JServiceProvider {
    private static final boolean FUZZING = !System.getenv().getOrDefault("JAZZER_FUZZ", "").isEmpty();
    private static final AtomicLong ERRORS = new AtomicLong();
    private static final AtomicReference<String> LAST_ERROR = new AtomicReference<>();

    private final IMarkerFactory markers = new BasicMarkerFactory();
    private final MDCAdapter mdc = new NOPMDCAdapter();
    private final ILoggerFactory loggers = RecordingLogger::new;

    /** Asks SLF4J to use this provider; call before anything logs. */
    static void install() {
        if (System.getProperty("slf4j.provider") == null) {
            System.setProperty("slf4j.provider", RecordingLogs.class.getName());
        }
    }

    /** True when SLF4J ended up with this provider. */
    static boolean active() {
        return LoggerFactory.getLogger(RecordingLogs.class) instanceof RecordingLogger;
    }

    static long errors() {
        return ERRORS.get();
    }

    static String lastError() {
        return LAST_ERROR.get();
    }

    @Override
    public ILoggerFactory getLoggerFactory() {
        return loggers;
    }

    @Override
    public IMarkerFactory getMarkerFactory() {
        return markers;
    }

    @Override
    public MDCAdapter getMDCAdapter() {
        return mdc;
    }

    @Override
    public String getRequestedApiVersion() {
        return "2.0.99";
    }

    @Override
    public void initialize() {
        // nothing to set up
    }

    private static final class RecordingLogger extends LegacyAbstractLogger {
        private static final long serialVersionUID = 1L;

        RecordingLogger(String name) {
            this.name = name;
        }

        @Override
        public boolean isTraceEnabled() {
            return false;
        }

        @Override
        public boolean isDebugEnabled() {
            return false;
        }

        @Override
        public boolean isInfoEnabled() {
            return false;
        }

        @Override
        public boolean isWarnEnabled() {
            return !FUZZING;
        }

        @Override
        public boolean isErrorEnabled() {
            return true;
        }

        @Override
        protected String getFullyQualifiedCallerName() {
            return null;
        }

        @Override
        protected void handleNormalizedLoggingCall(
                Level level, Marker marker, String pattern, Object[] args, Throwable thrown) {
            String text = level + " " + name + ": " + MessageFormatter.basicArrayFormat(pattern, args);
            if (level == Level.ERROR) {
                ERRORS.incrementAndGet();
                LAST_ERROR.set(thrown == null ? text : text + ": " + thrown);
            }
            if (level == Level.ERROR || (level == Level.WARN && !FUZZING)) {
                System.err.println(text);
                if (thrown != null && level == Level.ERROR) {
                    thrown.printStackTrace(System.err);
                }
            }
        }
    }
}
