package ddtree.mapper.targets;

import ddtree.block.Bio;
import ddtree.block.BioCompletion;
import ddtree.block.BlockDevice;
import ddtree.block.Capabilities;
import ddtree.block.Dispatch;
import ddtree.block.Extents;
import ddtree.block.Op;
import ddtree.mapper.BioSplitter;
import ddtree.mapper.LowerDevices;
import ddtree.mapper.SimpleTargetType;
import ddtree.mapper.StatusType;
import ddtree.mapper.TableException;
import ddtree.mapper.TableLine;
import ddtree.mapper.Target;
import ddtree.mapper.TargetArgs;
import ddtree.mapper.TargetContext;
import ddtree.mapper.TargetType;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * {@code striped <#stripes> <chunk sectors> <dev> <offset> [<dev> <offset>]...}: chunks dealt
 * round-robin over the stripes (dm-stripe). Chunk {@code c} of the target lives on stripe
 * {@code c % stripes}, as that stripe's chunk {@code c / stripes}. The core splits at chunk
 * boundaries ({@link #maxIoBytes()}), so {@link #map} sees one chunk at a time.
 */
public final class StripedTarget implements Target {
    public static final TargetType TYPE = new SimpleTargetType("striped", "1.0.0", StripedTarget::create);
    /** The smallest chunk: a 4 KiB page, as dm-stripe requires. */
    public static final int MIN_CHUNK_SECTORS = 8;
    public static final int MAX_STRIPES = 1024;
    /** The most chunks one extents query walks; a shorter answer is allowed and the client asks again. */
    private static final int MAX_EXTENT_CHUNKS = 4096;

    private final LowerDevices lowers;
    private final List<String> args;
    private final String[] names;
    private final BlockDevice[] devs;
    private final long[] offsets;
    private final int stripes;
    private final int chunkShift;
    private final long chunkMask;
    /** Failed requests per stripe: the A (alive) or D (dead) of the INFO status. */
    private final AtomicLongArray errors;
    private final BioCompletion countErrors;
    /** Flushes to every stripe, and discards and zeroes split per stripe. */
    private final BioSplitter flushes = new BioSplitter();

    private StripedTarget(LowerDevices lowers, List<String> args, String[] names, BlockDevice[] devs,
            long[] offsetSectors, int chunkSectors) {
        this.lowers = lowers;
        this.args = List.copyOf(args);
        this.names = names;
        this.devs = devs;
        this.stripes = devs.length;
        this.offsets = new long[stripes];
        for (int i = 0; i < stripes; i++) {
            offsets[i] = offsetSectors[i] * TableLine.SECTOR;
        }
        long chunkBytes = (long) chunkSectors * TableLine.SECTOR;
        this.chunkShift = Long.numberOfTrailingZeros(chunkBytes);
        this.chunkMask = chunkBytes - 1;
        this.errors = new AtomicLongArray(stripes);
        this.countErrors = BioCompletion.blind((bio, stripe) -> {
            if (bio.status() != 0) {
                errors.incrementAndGet((int) stripe);
            }
            return true;
        });
    }

    private static Target create(TargetContext ctx, String deviceName, TableLine line) throws TableException {
        List<String> a = line.args();
        if (a.size() < 4) {
            throw new TableException("expects at least 4 arguments (<#stripes> <chunk sectors> <dev> <offset>"
                    + " [<dev> <offset>]...) but got " + a.size() + TargetArgs.describe(a));
        }
        int stripes = (int) TargetArgs.number("stripe count", a.get(0), 1, MAX_STRIPES, "a number of stripes");
        long chunk = TargetArgs.sectors("chunk size", a.get(1));
        if (Long.bitCount(chunk) != 1) {
            throw new TableException("chunk size " + chunk + " is not a power of two");
        }
        if (chunk < MIN_CHUNK_SECTORS) {
            throw new TableException("chunk size " + chunk + " is below the minimum of " + MIN_CHUNK_SECTORS + " sectors");
        }
        if (a.size() != 2 + 2 * stripes) {
            throw new TableException(stripes + " stripe" + (stripes == 1 ? "" : "s") + " need " + (2 + 2 * stripes)
                    + " arguments (<#stripes> <chunk sectors> and a <dev> <offset> pair per stripe) but got " + a.size());
        }
        if (line.length() % stripes != 0) {
            throw new TableException("length " + line.length() + " sectors is not divisible by " + stripes + " stripes");
        }
        long width = line.length() / stripes;
        if (width % chunk != 0) {
            throw new TableException("length " + line.length() + " sectors is not divisible by chunk size " + chunk
                    + " x " + stripes + " stripes (" + chunk * stripes + " sectors)");
        }
        long[] offsets = new long[stripes];
        for (int i = 0; i < stripes; i++) {
            offsets[i] = TargetArgs.sectors("stripe " + i + " offset", a.get(3 + 2 * i));
        }
        LowerDevices lowers = new LowerDevices(ctx);
        try {
            String[] names = new String[stripes];
            BlockDevice[] devs = new BlockDevice[stripes];
            for (int i = 0; i < stripes; i++) {
                names[i] = a.get(2 + 2 * i);
                devs[i] = lowers.get(names[i]);
                TargetArgs.fits(names[i], devs[i], offsets[i], width);
            }
            return new StripedTarget(lowers, a, names, devs, offsets, (int) chunk);
        } catch (TableException | RuntimeException e) {
            lowers.release();
            throw e;
        }
    }

    @Override
    public void map(Bio bio) {
        if (bio.op() == Op.FLUSH) {
            flush(bio);
            return;
        }
        if (wholeRange(bio.op())) {
            mapRange(bio);
            return;
        }
        long rel = bio.offset();
        long chunk = rel >>> chunkShift;
        int stripe = (int) (chunk % stripes);
        bio.remap(offsets[stripe] + ((chunk / stripes) << chunkShift) + (rel & chunkMask));
        bio.pushCompletion(countErrors, stripe);
        Dispatch.submit(devs[stripe], bio);
    }

    /** Every stripe's device gets the flush; one stripe takes the bio itself. */
    private void flush(Bio bio) {
        if (stripes == 1) {
            bio.pushCompletion(countErrors, 0);
            Dispatch.submit(devs[0], bio);
            return;
        }
        BioSplitter.Group g = flushes.begin(bio);
        try {
            for (int i = 0; i < stripes; i++) {
                Bio child = g.child(0, 0, 0);
                child.pushCompletion(countErrors, i);
                Dispatch.submit(devs[i], child);
            }
        } finally {
            g.end();
        }
    }

    @Override
    public long maxIoBytes() {
        return chunkMask + 1;
    }

    /** Discards and zeroes are not split per chunk: each stripe gets its share as one piece. */
    @Override
    public long maxIoBytes(Op op) {
        return wholeRange(op) ? 0 : maxIoBytes();
    }

    private static boolean wholeRange(Op op) {
        return op == Op.DISCARD || op == Op.WRITE_ZEROES;
    }

    /**
     * Sends each stripe the part of a DISCARD or WRITE_ZEROES range that lies on it, which is one
     * contiguous range of the stripe (dm-stripe's {@code stripe_map_range}). Split per chunk, a
     * discard would reach each stripe as pieces smaller than the units it frees space in.
     */
    private void mapRange(Bio bio) {
        long from = bio.offset();
        long to = from + bio.length();
        BioSplitter.Group g = flushes.begin(bio);
        try {
            for (int s = 0; s < stripes; s++) {
                long begin = onStripe(s, from);
                long end = onStripe(s, to);
                if (end > begin) {
                    Bio child = g.child(offsets[s] + begin, end - begin, 0);
                    child.pushCompletion(countErrors, s);
                    Dispatch.submit(devs[s], child);
                }
            }
        } finally {
            g.end();
        }
    }

    /** Where on stripe {@code s} the first of its bytes at or after target offset {@code x} lies. */
    private long onStripe(int s, long x) {
        long chunk = x >>> chunkShift;
        int stripe = (int) (chunk % stripes);
        long row = chunk / stripes;
        if (stripe == s) {
            return (row << chunkShift) + (x & chunkMask);
        }
        return (stripe < s ? row : row + 1) << chunkShift;
    }

    /** INFO as dm-stripe: {@code <#stripes> <dev>... 1 <A|D per stripe>}. TABLE: the arguments. */
    @Override
    public String status(StatusType type) {
        if (type == StatusType.TABLE) {
            return String.join(" ", args);
        }
        StringBuilder sb = new StringBuilder().append(stripes);
        for (String n : names) {
            sb.append(' ').append(n);
        }
        sb.append(" 1 ");
        for (int i = 0; i < stripes; i++) {
            sb.append(errors.get(i) != 0 ? 'D' : 'A');
        }
        return sb.toString();
    }

    @Override
    public List<String> dependencies() {
        List<String> deps = new ArrayList<>();
        for (String n : names) {
            if (!deps.contains(n)) {
                deps.add(n);
            }
        }
        return List.copyOf(deps);
    }

    /** Only what every stripe can do, except flush, which any stripe's cache calls for. */
    @Override
    public Capabilities capabilities() {
        Capabilities r = devs[0].capabilities();
        for (BlockDevice d : devs) {
            Capabilities c = d.capabilities();
            r = new Capabilities(r.flush() || c.flush(), r.fua() && c.fua(), r.discard() && c.discard(),
                    r.writeZeroes() && c.writeZeroes(), r.fastZero() && c.fastZero(), r.extents() && c.extents());
        }
        return r;
    }

    /** Each chunk's extents from its stripe, up to {@value #MAX_EXTENT_CHUNKS} chunks. */
    @Override
    public void extents(long offset, long length, Extents out) throws IOException {
        long end = offset + length;
        for (int n = 0; offset < end && n < MAX_EXTENT_CHUNKS && !out.full(); n++) {
            long chunk = offset >>> chunkShift;
            int stripe = (int) (chunk % stripes);
            long piece = Math.min(end - offset, (chunkMask + 1) - (offset & chunkMask));
            long before = out.totalLength();
            devs[stripe].extents(offsets[stripe] + ((chunk / stripes) << chunkShift) + (offset & chunkMask), piece, out);
            if (out.totalLength() - before < piece) {
                return;
            }
            offset += piece;
        }
    }

    @Override
    public void close() {
        lowers.release();
    }

    @Override
    public String toString() {
        return "striped " + String.join(" ", args);
    }
}
