# Sourced by the launchers: finds a JDK 25 or newer and sets JAVA_HOME to it.
# JAVA_HOME wins when it is new enough; then the java on PATH; then the usual install places.

ddtree_java_version() { # prints the feature version of the java at $1, or nothing
    "$1" -XshowSettings:properties -version 2>&1 |
        sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p' | head -n 1
}

ddtree_find_jdk() {
    local candidates=() c v
    [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME")
    if command -v javac >/dev/null 2>&1; then
        candidates+=("$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")")
    fi
    for c in /usr/lib/jvm/* /usr/local/lib/jvm/* /opt/java/* /opt/jdk* "$HOME"/.sdkman/candidates/java/*; do
        [ -d "$c" ] && candidates+=("$c")
    done
    for c in "${candidates[@]}"; do
        [ -x "$c/bin/java" ] && [ -x "$c/bin/javac" ] || continue
        v=$(ddtree_java_version "$c/bin/java")
        if [ -n "$v" ] && [ "$v" -ge 25 ]; then
            echo "$c"
            return 0
        fi
    done
    return 1
}

if ! DDTREE_JDK=$(ddtree_find_jdk); then
    echo "ddtree needs a JDK 25 or newer and found none." >&2
    echo "Looked at JAVA_HOME (${JAVA_HOME:-unset}), the javac on PATH and /usr/lib/jvm." >&2
    echo "Install one (on Debian: a Temurin or OpenJDK 25 package) or set JAVA_HOME to it." >&2
    exit 1
fi
export JAVA_HOME=$DDTREE_JDK
export PATH="$JAVA_HOME/bin:$PATH"
