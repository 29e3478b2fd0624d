/** The floor of any JVM agent: a JVM that does nothing but sleep (bench/jvm_floor.sh). */
public final class Idle {
    public static void main(String[] args) throws InterruptedException {
        while (true) {
            Thread.sleep(60_000);
        }
    }
}
