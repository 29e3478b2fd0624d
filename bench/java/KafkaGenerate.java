import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.BufferedInputStream;
import java.io.BufferedWriter;
import java.io.FileInputStream;
import java.io.FileWriter;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.zip.GZIPInputStream;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.metadata.placement.ClusterDescriber;
import org.apache.kafka.metadata.placement.PlacementSpec;
import org.apache.kafka.metadata.placement.StripedReplicaPlacer;
import org.apache.kafka.metadata.placement.TopicAssignment;
import org.apache.kafka.metadata.placement.UsableBroker;

/**
 * Kafka's own `kafka-reassign-partitions.sh --generate` algorithm, from the released 4.3.1 jars,
 * over a kmedic cluster file (master/src/sim/file.rs, gzipped or plain).
 *
 * <p>In Kafka 4.x `--generate` no longer calls `AdminUtils.assignReplicasToBrokers` (removed with
 * ZooKeeper): `ReassignPartitionsCommand.calculateAssignment` groups the named topics' partitions by
 * topic and, for each topic, calls `StripedReplicaPlacer.place(new PlacementSpec(0, partitions,
 * rf), brokers)` with the rf of the topic's first partition, over the `--broker-list` brokers
 * (unfenced, with their racks unless --disable-rack-aware). The tool's placer uses `new Random()`;
 * this driver uses `new Random(seed)` so runs repeat (the 4.x counterpart of the old fixed start
 * index). Everything else is the tool's own code path.
 *
 * <p>Usage: {@code KafkaGenerate <cluster-file> <out.tsv> <seed> <runs> <brokers: alive|all>
 * <topics: all|on-dead>}. `on-dead` passes only the topics with a replica on a non-alive broker
 * (what an operator healing a dead broker would name). Writes `topic TAB partition TAB r1,r2,..`
 * lines and prints `place_ms_median=<ms> runs=<n> partitions=<n>` on stdout.
 */
public final class KafkaGenerate {
    record Partition(int partition, int[] replicas) {}

    record Topic(String name, List<Partition> partitions) {}

    record Broker(int id, String rack, String state) {}

    public static void main(String[] args) throws Exception {
        if (args.length != 6) {
            System.err.println(
                "usage: KafkaGenerate <cluster-file> <out.tsv> <seed> <runs> <alive|all> <all|on-dead>");
            System.exit(2);
        }
        List<Broker> brokers = new ArrayList<>();
        List<Topic> topics = new ArrayList<>();
        read(args[0], brokers, topics);
        long seed = Long.parseLong(args[2]);
        int runs = Integer.parseInt(args[3]);
        boolean aliveOnly = args[4].equals("alive");
        boolean onDead = args[5].equals("on-dead");

        Set<Integer> down = new HashSet<>();
        List<UsableBroker> usable = new ArrayList<>();
        for (Broker b : brokers) {
            boolean alive = b.state.equals("alive");
            if (!alive) {
                down.add(b.id);
            }
            if (alive || !aliveOnly) {
                Optional<String> rack = b.rack.isEmpty() ? Optional.empty() : Optional.of(b.rack);
                usable.add(new UsableBroker(b.id, rack, false));
            }
        }
        List<Topic> named = new ArrayList<>();
        for (Topic t : topics) {
            boolean hit = !onDead;
            for (Partition p : t.partitions) {
                for (int r : p.replicas) {
                    hit |= down.contains(r);
                }
            }
            if (hit && !t.partitions.isEmpty()) {
                named.add(t);
            }
        }
        ClusterDescriber describer = new ClusterDescriber() {
            @Override
            public Iterator<UsableBroker> usableBrokers() {
                return usable.iterator();
            }

            @Override
            public Uuid defaultDir(int brokerId) {
                return Uuid.ZERO_UUID;
            }
        };
        long[] nanos = new long[runs];
        List<TopicAssignment> result = null;
        int partitions = 0;
        for (int run = 0; run < runs; run++) {
            long t0 = System.nanoTime();
            StripedReplicaPlacer placer = new StripedReplicaPlacer(new Random(seed));
            List<TopicAssignment> out = new ArrayList<>(named.size());
            for (Topic t : named) {
                short rf = (short) t.partitions.get(0).replicas.length;
                out.add(placer.place(new PlacementSpec(0, t.partitions.size(), rf), describer));
            }
            nanos[run] = System.nanoTime() - t0;
            result = out;
        }
        try (BufferedWriter w = new BufferedWriter(new FileWriter(args[1]))) {
            for (int i = 0; i < named.size(); i++) {
                Topic t = named.get(i);
                var assignments = result.get(i).assignments();
                // The tool maps the placer's i-th assignment to partition i of the topic.
                for (int p = 0; p < assignments.size(); p++) {
                    partitions++;
                    w.write(t.name);
                    w.write('\t');
                    w.write(Integer.toString(p));
                    w.write('\t');
                    List<Integer> rs = assignments.get(p).replicas();
                    for (int k = 0; k < rs.size(); k++) {
                        if (k > 0) {
                            w.write(',');
                        }
                        w.write(Integer.toString(rs.get(k)));
                    }
                    w.write('\n');
                }
            }
        }
        Arrays.sort(nanos);
        System.out.printf(
            "place_ms_median=%.3f runs=%d partitions=%d%n", nanos[runs / 2] / 1e6, runs, partitions);
    }

    /** Streams the cluster file: brokers (id, rack, state) and topics' partitions' replicas. */
    static void read(String path, List<Broker> brokers, List<Topic> topics) throws IOException {
        InputStream in = new BufferedInputStream(new FileInputStream(path), 1 << 16);
        in.mark(2);
        int b0 = in.read();
        int b1 = in.read();
        in.reset();
        if (b0 == 0x1f && b1 == 0x8b) {
            in = new BufferedInputStream(new GZIPInputStream(in, 1 << 16), 1 << 16);
        }
        try (JsonParser p = new JsonFactory().createParser(in)) {
            expect(p.nextToken(), JsonToken.START_OBJECT);
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                p.nextToken();
                switch (field) {
                    case "format" -> {
                        if (!p.getText().equals("kmedic-cluster")) {
                            throw new IOException("not a kmedic cluster file: " + path);
                        }
                    }
                    case "version" -> {
                        if (p.getIntValue() != 1) {
                            throw new IOException("cluster file version " + p.getIntValue() + ", want 1");
                        }
                    }
                    case "brokers" -> {
                        while (p.nextToken() == JsonToken.START_OBJECT) {
                            int id = 0;
                            String rack = "";
                            String state = "alive";
                            while (p.nextToken() == JsonToken.FIELD_NAME) {
                                String f = p.currentName();
                                p.nextToken();
                                switch (f) {
                                    case "id" -> id = p.getIntValue();
                                    case "rack" -> rack = p.getText();
                                    case "state" -> state = p.getText();
                                    default -> p.skipChildren();
                                }
                            }
                            brokers.add(new Broker(id, rack, state));
                        }
                    }
                    case "topics" -> {
                        while (p.nextToken() == JsonToken.START_OBJECT) {
                            String name = null;
                            List<Partition> parts = new ArrayList<>();
                            while (p.nextToken() == JsonToken.FIELD_NAME) {
                                String f = p.currentName();
                                p.nextToken();
                                if (f.equals("name")) {
                                    name = p.getText();
                                } else if (f.equals("partitions")) {
                                    while (p.nextToken() == JsonToken.START_OBJECT) {
                                        parts.add(partition(p));
                                    }
                                } else {
                                    p.skipChildren();
                                }
                            }
                            parts.sort((a, b) -> Integer.compare(a.partition, b.partition));
                            topics.add(new Topic(name, parts));
                        }
                    }
                    default -> p.skipChildren();
                }
            }
        }
    }

    static Partition partition(JsonParser p) throws IOException {
        int partition = 0;
        int[] replicas = new int[0];
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String f = p.currentName();
            p.nextToken();
            if (f.equals("partition")) {
                partition = p.getIntValue();
            } else if (f.equals("replicas")) {
                List<Integer> rs = new ArrayList<>();
                while (p.nextToken() != JsonToken.END_ARRAY) {
                    rs.add(p.getIntValue());
                }
                replicas = rs.stream().mapToInt(Integer::intValue).toArray();
            } else {
                p.skipChildren();
            }
        }
        return new Partition(partition, replicas);
    }

    static void expect(JsonToken got, JsonToken want) throws IOException {
        if (got != want) {
            throw new IOException("expected " + want + ", got " + got);
        }
    }
}
