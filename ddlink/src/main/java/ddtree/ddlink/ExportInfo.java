package ddtree.ddlink;

/**
 * @param device the exported device
 * @param export the name NBD clients ask for
 * @param readOnly whether writes, trims and zeroes get EPERM
 */
public record ExportInfo(String device, String export, boolean readOnly) {}
