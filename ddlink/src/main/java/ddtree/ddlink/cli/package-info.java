/**
 * What the command lines that talk to the daemon over its control socket ({@code ddsetup},
 * {@code ddsnap}) share, so they behave alike: exit codes, where the socket is, usage errors,
 * turning one call's outcome into an exit code and a message, and the version they report.
 */
package ddtree.ddlink.cli;
