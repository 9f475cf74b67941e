package org.elasticsearch.plugins;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.elasticsearch.common.settings.Settings;

/**
 * Plugins taken from the classpath instead of a plugins/ directory. The published server jar has no
 * modules folder to scan, so the dev node names its plugin classes itself. It lives in this package
 * because the loaded-plugin record and the plugin factory it needs are package-private.
 */
public class ClasspathPluginsService extends PluginsService {

    private final List<LoadedPlugin> loaded;

    public ClasspathPluginsService(Settings settings, Path configPath, List<Class<? extends Plugin>> classes) {
        super(settings, configPath, PluginsLoader.createPluginsLoader(Set.of(), Set.of(), Map.of(), false));
        List<LoadedPlugin> list = new ArrayList<>();
        for (Class<? extends Plugin> cls : classes) {
            PluginDescriptor descriptor = new PluginDescriptor(
                cls.getSimpleName(), "classpath plugin " + cls.getName(), "1.0",
                org.elasticsearch.Build.current().version(), "17", cls.getName(), null,
                List.of(), false, false, false, false);
            list.add(new LoadedPlugin(descriptor, loadPlugin(cls, settings, configPath), cls.getClassLoader()));
        }
        this.loaded = List.copyOf(list);
    }

    @Override
    protected List<LoadedPlugin> plugins() {
        return loaded;
    }
}
