package lawkb.esdev;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.elasticsearch.common.logging.LogConfigurator;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.http.HttpServerTransport;
import org.elasticsearch.node.DevNodeFactory;
import org.elasticsearch.node.Node;
import org.elasticsearch.transport.netty4.Netty4Plugin;

/**
 * A single-node Elasticsearch on 127.0.0.1 for development and tests, in the foreground.
 *
 * Usage: DevNode [--port N] [--data DIR]. Prints "lawkb es-node ready http://127.0.0.1:PORT" once
 * it answers requests; SIGTERM or Ctrl-C closes it. Without --data the indices live in a temporary
 * directory that is deleted on exit.
 */
public final class DevNode {

    public static void main(String[] args) throws Exception {
        int port = 9200;
        Path data = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--port" -> port = Integer.parseInt(args[++i]);
                case "--data" -> data = Path.of(args[++i]).toAbsolutePath();
                default -> {
                    System.err.println("unknown argument: " + args[i] + " (usage: DevNode [--port N] [--data DIR])");
                    System.exit(2);
                }
            }
        }
        // Must come first: plugin loading reads the logging configuration.
        LogConfigurator.configureESLogging();
        Path home = Files.createTempDirectory("lawkb-es-home");
        Path config = Files.createDirectories(home.resolve("config"));
        boolean temporaryData = data == null;
        if (temporaryData) {
            data = home.resolve("data");
        }
        Files.createDirectories(data);
        Settings settings = Settings.builder()
            .put("cluster.name", "lawkb-dev")
            .put("node.name", "lawkb-dev-node")
            .put("path.home", home.toString())
            .put("path.data", data.toString())
            .put("path.logs", home.resolve("logs").toString())
            .put("discovery.type", "single-node")
            .put("network.host", "127.0.0.1")
            .put("http.port", port)
            .put("transport.port", 0)
            // The real-memory breaker misjudges a small heap shared with the launcher's own use.
            .put("indices.breaker.total.use_real_memory", false)
            // A developer's nearly full disk must not turn indices read-only.
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            .put("action.destructive_requires_name", false)
            .build();
        Environment environment = new Environment(settings, config);
        Node node = DevNodeFactory.create(environment, List.of(Netty4Plugin.class, RootPlugin.class));
        CountDownLatch stopped = new CountDownLatch(1);
        final Path home0 = home;
        final Path data0 = data;
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.prepareForClose();
                node.close();
                node.awaitClose(20, TimeUnit.SECONDS);
            } catch (Exception e) {
                System.err.println("es-node: error while closing: " + e);
            } finally {
                deleteTree(home0, temporaryData ? null : data0);
                System.err.println("lawkb es-node stopped");
                stopped.countDown();
            }
        }, "lawkb-es-node-stop"));
        node.start();
        HttpServerTransport http = node.injector().getInstance(HttpServerTransport.class);
        var address = http.boundAddress().publishAddress();
        System.out.println("lawkb es-node ready http://127.0.0.1:" + address.getPort());
        System.out.flush();
        stopped.await();
    }

    private static void deleteTree(Path root, Path keep) {
        if (root == null || !Files.exists(root)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(root)) {
            walk.sorted(Comparator.reverseOrder())
                .filter(p -> keep == null || !p.startsWith(keep))
                .forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            System.err.println("es-node: could not remove " + root + ": " + e);
        }
    }
}
