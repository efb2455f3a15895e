package ddtree.block;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class BioTest {

    @Test
    void completionStepsRunInnermostFirstWithTheirState() {
        Bio bio = new Bio(4).reset(Op.FLUSH, 0, 0, 0, null);
        List<Long> order = new ArrayList<>();
        BioCompletion record = (b, state) -> order.add(state);
        bio.pushCompletion(record, 1);
        bio.pushCompletion(record, 2);
        bio.pushCompletion(record, 3);
        assertThat(bio.completionDepth()).isEqualTo(3);
        bio.complete(Errno.OK);
        assertThat(order).containsExactly(3L, 2L, 1L);
        assertThat(bio.completionDepth()).isZero();
        assertThat(bio.status()).isZero();
    }

    @Test
    void aStepReturningFalseStopsTheWalkUntilItCompletesAgain() {
        Bio bio = new Bio().reset(Op.FLUSH, 0, 0, 0, null);
        List<String> order = new ArrayList<>();
        bio.pushCompletion((b, s) -> order.add("outer"), 0);
        bio.pushCompletion((b, s) -> {
            order.add("takes over");
            return false;
        }, 0);
        bio.pushCompletion((b, s) -> order.add("inner"), 0);
        bio.complete(Errno.OK);
        assertThat(order).containsExactly("inner", "takes over");
        assertThat(bio.completionDepth()).isEqualTo(1);
        bio.complete(Errno.OK);
        assertThat(order).containsExactly("inner", "takes over", "outer");
    }

    @Test
    void theFirstErrorWins() {
        Bio bio = new Bio().reset(Op.WRITE_ZEROES, 0, 4096, 0, null);
        int[] seen = new int[1];
        bio.pushCompletion((b, s) -> {
            seen[0] = b.status();
            return true;
        }, 0);
        bio.pushCompletion((b, s) -> false, 0); // a layer that retries, say
        bio.complete(Errno.EIO);
        assertThat(bio.status()).isEqualTo(Errno.EIO);
        bio.complete(Errno.ENOSPC);
        assertThat(seen[0]).isEqualTo(Errno.EIO);

        Bio ok = new Bio().reset(Op.FLUSH, 0, 0, 0, null);
        ok.complete(Errno.EIO);
        ok.complete(Errno.OK);
        assertThat(ok.status()).isEqualTo(Errno.EIO);
    }

    @Test
    void resetClearsTheLastRequest() {
        Bio bio = new Bio(2).reset(Op.DISCARD, 8192, 4096, Bio.FUA, null);
        bio.pushCompletion((b, s) -> false, 0);
        bio.complete(Errno.ENOSPC);
        bio.reset(Op.FLUSH, 0, 0, 0, null);
        assertThat(bio.status()).isZero();
        assertThat(bio.completionDepth()).isZero();
        assertThat(bio.op()).isEqualTo(Op.FLUSH);
        assertThat(bio.hasFlag(Bio.FUA)).isFalse();
    }

    @Test
    void theCompletionStackIsBoundedByTheDepthGivenAtCreation() {
        Bio bio = new Bio(2).reset(Op.FLUSH, 0, 0, 0, null);
        bio.pushCompletion((b, s) -> true, 0);
        bio.pushCompletion((b, s) -> true, 0);
        assertThatThrownBy(() -> bio.pushCompletion((b, s) -> true, 0))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("depth 2");
        assertThatThrownBy(() -> new Bio(0)).hasMessageContaining("(0)");
    }

    @Test
    void badRequestsAreRefusedWithTheValue() throws Exception {
        BufferPool pool = new BufferPool(BufferPool.MAX_BUFFER, 0);
        PooledBuffer buffer = pool.acquire(4096, false);
        Bio bio = new Bio();
        assertThatThrownBy(() -> bio.reset(Op.READ, -1, 10, 0, buffer)).hasMessageContaining("-1");
        assertThatThrownBy(() -> bio.reset(Op.WRITE, 0, 10, 0, null)).hasMessageContaining("WRITE");
        assertThatThrownBy(() -> bio.reset(Op.READ, 0, 8192, 0, buffer)).hasMessageContaining("8192");
        assertThatThrownBy(() -> bio.remap(-5)).hasMessageContaining("-5");
        bio.reset(Op.READ, 100, 4096, 0, buffer);
        assertThat(bio.data().byteSize()).isEqualTo(4096);
        assertThat(bio.dataBuffer().remaining()).isEqualTo(4096);
        buffer.release();
        pool.close();
    }

    @Test
    void aChildSharesItsParentsBuffer() throws Exception {
        BufferPool pool = new BufferPool(BufferPool.MAX_BUFFER, 0);
        PooledBuffer buffer = pool.acquire(8192, false);
        Bio parent = new Bio().reset(Op.WRITE, 0, 8192, Bio.FUA, buffer);
        Bio child = new Bio().resetChild(parent, 100_000, 4096, 4096);
        assertThat(child.buffer()).isSameAs(buffer);
        assertThat(child.bufferOffset()).isEqualTo(4096);
        assertThat(child.op()).isEqualTo(Op.WRITE);
        assertThat(child.hasFlag(Bio.FUA)).isTrue();
        assertThatThrownBy(() -> new Bio().resetChild(parent, 0, 4097, 4096)).hasMessageContaining("4096+4097");
        buffer.release();
        pool.close();
    }

    @Test
    void completionRoomAndTheOwnersQueueLink() {
        Bio a = new Bio(2).reset(Op.FLUSH, 0, 0, 0, null);
        Bio b = new Bio().reset(Op.FLUSH, 0, 0, 0, null);
        assertThat(a.completionRoom()).isEqualTo(2);
        a.pushCompletion((x, s) -> true, 0);
        assertThat(a.completionRoom()).isEqualTo(1);
        a.queueNext(b);
        assertThat(a.queueNext()).isSameAs(b);
        a.reset(Op.FLUSH, 0, 0, 0, null);
        assertThat(a.queueNext()).as("a new request starts unlinked").isNull();
        assertThat(a.completionRoom()).isEqualTo(2);
    }

    /** Counts loans given back, as a device's hold count would. */
    private static final class CountingLender implements Lender {
        int givenBack;

        @Override
        public void giveBack() {
            givenBack++;
        }
    }

    @Test
    void onlyReadsMayBeLentAndDataReadingStepsOrSplitsWithdrawThePermission() throws Exception {
        BufferPool pool = new BufferPool(40L << 20, 1L << 20);
        PooledBuffer buffer = pool.acquire(4096, false);
        Bio write = new Bio().reset(Op.WRITE, 0, 0, 0, buffer);
        write.allowLending();
        assertThat(write.lendingAllowed()).as("writes carry their own data").isFalse();

        Bio read = new Bio().reset(Op.READ, 0, 0, 0, buffer);
        read.allowLending();
        read.pushCompletion(BioCompletion.blind((b, s) -> true), 0);
        assertThat(read.lendingAllowed()).as("a step that only counts").isTrue();
        read.pushCompletion((b, s) -> true, 0);
        assertThat(read.lendingAllowed()).as("a step that may look at the buffer").isFalse();
        assertThatThrownBy(() -> read.lend(new CountingLender(), 4096))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("lending not allowed");

        Bio parent = new Bio().reset(Op.READ, 0, 0, 0, buffer);
        parent.allowLending();
        Bio child = new Bio().resetChild(parent, 0, 0, 0);
        assertThat(child.lendingAllowed()).as("a split child's data belongs in the parent's buffer").isFalse();
        buffer.release();
        pool.close();
    }

    @Test
    void aLoanIsGivenBackOnceAndAResetEndsAForgottenOne() throws Exception {
        BufferPool pool = new BufferPool(40L << 20, 1L << 20);
        PooledBuffer buffer = pool.acquire(4096, false);
        CountingLender lender = new CountingLender();
        Bio bio = new Bio().reset(Op.READ, 8192, 0, 0, buffer);
        bio.allowLending();
        bio.lend(lender, 0x10000);
        assertThat(bio.lent()).isTrue();
        assertThat(bio.lentAddress()).isEqualTo(0x10000);
        assertThatThrownBy(() -> bio.lend(lender, 0x20000)).isInstanceOf(IllegalStateException.class);
        bio.giveBackLent();
        bio.giveBackLent();
        assertThat(lender.givenBack).isEqualTo(1);
        assertThat(bio.lent()).isFalse();

        bio.reset(Op.READ, 0, 0, 0, buffer);
        bio.allowLending();
        bio.lend(lender, 0x30000);
        bio.reset(Op.READ, 0, 0, 0, buffer);
        assertThat(lender.givenBack).as("the next request's reset ends the loan").isEqualTo(2);
        assertThat(bio.lent()).isFalse();
        assertThat(bio.lendingAllowed()).isFalse();
        buffer.release();
        pool.close();
    }
}
