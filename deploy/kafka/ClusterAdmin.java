// Users and ACLs of the secured cluster, through Kafka's own AdminClient (aiokafka has no ACL or
// SCRAM admin API). Compiled once into the jar cache by cluster.sh, like Probe.
//
//   ClusterAdmin <bootstrap> <client.properties> users      stdin: "name password" per line;
//                                                           upserts each SCRAM-SHA-512 credential
//   ClusterAdmin <bootstrap> <client.properties> acls       stdin: the plan, one ACL per line:
//                                                           "User:name OPERATION TOPIC|GROUP LITERAL|PREFIXED name";
//                                                           creates what is missing and removes every
//                                                           other ALLOW of the plan's principals
//   ClusterAdmin <bootstrap> <client.properties> list-acls  prints the cluster's ACLs in that form
import java.io.BufferedReader;
import java.io.FileInputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialAlteration;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;

public final class ClusterAdmin {
    private static List<String> stdinLines() throws Exception {
        List<String> out = new ArrayList<>();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        for (String line; (line = in.readLine()) != null; ) {
            line = line.strip();
            if (!line.isEmpty() && !line.startsWith("#")) out.add(line);
        }
        return out;
    }

    private static AclBinding binding(String line) {
        String[] f = line.split("\\s+");
        if (f.length != 5) throw new IllegalArgumentException("an ACL line has 5 fields: " + line);
        return new AclBinding(
            new ResourcePattern(ResourceType.fromString(f[2]), f[4], PatternType.fromString(f[3])),
            new AccessControlEntry(f[0], "*", AclOperation.fromString(f[1]), AclPermissionType.ALLOW));
    }

    private static String line(AclBinding b) {
        return b.entry().principal() + " " + b.entry().operation() + " " + b.pattern().resourceType() + " "
            + b.pattern().patternType() + " " + b.pattern().name();
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: ClusterAdmin <bootstrap> <client.properties> users|acls|list-acls");
            System.exit(2);
        }
        Properties props = new Properties();
        try (FileInputStream in = new FileInputStream(args[1])) {
            props.load(in);
        }
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");
        try (Admin admin = Admin.create(props)) {
            switch (args[2]) {
                case "users" -> {
                    List<UserScramCredentialAlteration> upserts = new ArrayList<>();
                    for (String l : stdinLines()) {
                        String[] f = l.split("\\s+", 2);
                        upserts.add(new UserScramCredentialUpsertion(
                            f[0], new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192), f[1]));
                    }
                    admin.alterUserScramCredentials(upserts).all().get(60, TimeUnit.SECONDS);
                    System.out.println("users: " + upserts.size() + " SCRAM credentials set");
                }
                case "acls" -> {
                    Set<AclBinding> wanted = new HashSet<>();
                    Set<String> principals = new HashSet<>();
                    for (String l : stdinLines()) {
                        AclBinding b = binding(l);
                        wanted.add(b);
                        principals.add(b.entry().principal());
                    }
                    List<AclBindingFilter> stale = new ArrayList<>();
                    for (AclBinding have : admin.describeAcls(AclBindingFilter.ANY).values().get(60, TimeUnit.SECONDS)) {
                        if (principals.contains(have.entry().principal()) && !wanted.contains(have)) {
                            stale.add(have.toFilter());
                        }
                    }
                    admin.createAcls(wanted).all().get(60, TimeUnit.SECONDS);
                    if (!stale.isEmpty()) admin.deleteAcls(stale).all().get(60, TimeUnit.SECONDS);
                    System.out.println("acls: " + wanted.size() + " in the plan, " + stale.size() + " others removed");
                }
                case "list-acls" -> {
                    TreeSet<String> lines = new TreeSet<>();
                    for (AclBinding b : admin.describeAcls(AclBindingFilter.ANY).values().get(60, TimeUnit.SECONDS)) {
                        lines.add(line(b));
                    }
                    lines.forEach(System.out::println);
                }
                default -> {
                    System.err.println("unknown command " + args[2]);
                    System.exit(2);
                }
            }
        }
    }
}
