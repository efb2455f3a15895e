package ddtree.mapper;

import static org.assertj.core.api.Assertions.assertThat;

import ddtree.block.Bio;
import ddtree.block.Op;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(30)
class AdmissionTest {

    private static Bio bio(long offset) {
        return new Bio().reset(Op.FLUSH, offset, 0, 0, null);
    }

    @Test
    void holdsWhileClosedAndGivesBackInOrder() {
        Admission a = new Admission();
        assertThat(a.enter(bio(0))).isTrue();
        a.exit();
        a.close();
        List<Bio> held = List.of(bio(1), bio(2), bio(3));
        held.forEach(b -> assertThat(a.enter(b)).isFalse());
        List<Bio> back = new ArrayList<>();
        for (Bio b = a.open(); b != null; b = b.queueNext()) {
            back.add(b);
        }
        assertThat(back).containsExactlyElementsOf(held);
        assertThat(a.closed()).isFalse();
        assertThat(a.open()).as("nothing held twice").isNull();
    }

    @Test
    void drainWaitsForEveryBioInFlight() throws Exception {
        Admission a = new Admission();
        assertThat(a.enter(bio(0))).isTrue();
        assertThat(a.enter(bio(1))).isTrue();
        a.close();
        CompletableFuture<Void> drained = CompletableFuture.runAsync(a::awaitDrainedUninterruptibly);
        a.exit();
        Thread.sleep(50);
        assertThat(drained).isNotDone();
        a.exit();
        drained.get(5, TimeUnit.SECONDS);
    }

    /** Submitters racing a close: every bio is either counted (and drained) or held, never lost. */
    @Test
    void racingSubmittersAreCountedOrHeld() throws Exception {
        for (int round = 0; round < 50; round++) {
            Admission a = new Admission();
            int per = 200;
            List<CompletableFuture<Integer>> admitted = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                admitted.add(CompletableFuture.supplyAsync(() -> {
                    int n = 0;
                    for (int i = 0; i < per; i++) {
                        if (a.enter(bio(i))) {
                            n++;
                            a.exit();
                        }
                    }
                    return n;
                }));
            }
            a.close();
            a.awaitDrained();
            int in = 0;
            for (CompletableFuture<Integer> f : admitted) {
                in += f.get(10, TimeUnit.SECONDS);
            }
            int heldCount = 0;
            for (Bio b = a.open(); b != null; b = b.queueNext()) {
                heldCount++;
            }
            assertThat(in + heldCount).isEqualTo(4 * per);
        }
    }
}
