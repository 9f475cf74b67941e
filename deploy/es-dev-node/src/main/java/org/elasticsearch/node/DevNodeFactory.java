package org.elasticsearch.node;

import java.util.List;

import org.elasticsearch.env.Environment;
import org.elasticsearch.plugins.ClasspathPluginsService;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.plugins.PluginsLoader;
import org.elasticsearch.plugins.PluginsService;

/**
 * Builds a Node whose plugins come from the classpath. In this package because the Node constructor
 * that takes a prepared construction, and the service provider hook, are package-private.
 */
public final class DevNodeFactory {

    private DevNodeFactory() {}

    public static Node create(Environment environment, List<Class<? extends Plugin>> plugins) {
        NodeServiceProvider provider = new NodeServiceProvider() {
            @Override
            PluginsService newPluginService(Environment env, PluginsLoader loader) {
                return new ClasspathPluginsService(env.settings(), env.configDir(), plugins);
            }
        };
        PluginsLoader empty = PluginsLoader.createPluginsLoader(java.util.Set.of(), java.util.Set.of(), java.util.Map.of(), false);
        return new Node(NodeConstruction.prepareConstruction(environment, empty, provider, true));
    }
}
