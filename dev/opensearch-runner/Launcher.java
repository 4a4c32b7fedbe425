import static org.codelibs.opensearch.runner.OpenSearchRunner.newConfigs;

import org.codelibs.opensearch.runner.OpenSearchRunner;

/**
 * Runs one OpenSearch node in this JVM until it is killed, for dev/opensearch.
 *
 * <p>Usage: {@code java -cp <jars> Launcher <basePath> <clusterName> [setting=value ...]}. Unlike the
 * runner's own main, a failure to start prints its stack trace. Prints "READY" once the cluster
 * is yellow.
 */
public class Launcher {
    public static void main(String[] args) throws InterruptedException {
        OpenSearchRunner runner = new OpenSearchRunner();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                runner.close();
            } catch (Exception e) {
                e.printStackTrace();
            }
        }));
        try {
            runner.onBuild((n, settings) -> {
                settings.put("network.host", "127.0.0.1");
                settings.put("discovery.type", "single-node");
                settings.put("cluster.routing.allocation.disk.threshold_enabled", "false");
                for (int i = 2; i < args.length; i++) {
                    String[] kv = args[i].split("=", 2);
                    settings.put(kv[0], kv[1]);
                }
            });
            runner.build(newConfigs().basePath(args[0]).numOfNode(1).clusterName(args[1]));
            runner.ensureYellow();
        } catch (Throwable e) {
            e.printStackTrace();
            System.exit(1);
        }
        System.out.println("READY");
        Thread.currentThread().join(); // the node's threads are daemons: keep the JVM alive
    }
}
