// Readiness and status probe for the local broker: sends a Metadata request (describeCluster)
// and lists topics through Kafka's own AdminClient, so "ready" means the broker answers clients,
// not merely that its port is open. Compiled once into the jar cache by kafka.sh.
//   Probe <bootstrap> [--topics] [--config client.properties]   (--config: TLS/SASL of a secured cluster)
import java.io.FileInputStream;
import java.io.InputStream;
import java.util.Properties;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.ListTopicsOptions;

public final class Probe {
    /** The version of the Kafka jars this probe and the broker share (kafka-clients' own resource). */
    private static String kafkaVersion() throws Exception {
        Properties v = new Properties();
        try (InputStream in = Probe.class.getClassLoader().getResourceAsStream("kafka/kafka-version.properties")) {
            if (in != null) v.load(in);
        }
        return v.getProperty("version", "unknown");
    }

    public static void main(String[] args) throws Exception {
        String bootstrap = args.length > 0 ? args[0] : "127.0.0.1:9092";
        boolean listTopics = false;
        Properties props = new Properties();
        for (int i = 1; i < args.length; i++) {
            if (args[i].equals("--topics")) {
                listTopics = true;
            } else if (args[i].equals("--config") && i + 1 < args.length) {
                try (FileInputStream in = new FileInputStream(args[++i])) {
                    props.load(in);
                }
            }
        }
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "3000");
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "4000");
        props.put(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "500");
        try (Admin admin = Admin.create(props)) {
            DescribeClusterResult cluster = admin.describeCluster();
            String clusterId = cluster.clusterId().get(5, TimeUnit.SECONDS);
            int brokers = cluster.nodes().get(5, TimeUnit.SECONDS).size();
            System.out.println("version=" + kafkaVersion());
            System.out.println("cluster_id=" + clusterId);
            System.out.println("brokers=" + brokers);
            if (listTopics) {
                TreeSet<String> names = new TreeSet<>(
                    admin.listTopics(new ListTopicsOptions().listInternal(false)).names().get(5, TimeUnit.SECONDS));
                System.out.println("topics=" + String.join(",", names));
            }
        } catch (Exception e) {
            System.err.println("not ready: " + e.getClass().getSimpleName() + ": " + e.getMessage());
            System.exit(1);
        }
    }
}
