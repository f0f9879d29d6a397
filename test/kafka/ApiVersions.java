// Prints the newest stable version of every Kafka protocol API that the kafka-clients jar on
// the classpath knows, one "ID NAME MAX" line per API key, in key order. A broker of the same
// release advertises these maxima in its ApiVersions answer (scripts/kafka-api-versions.sh
// turns them into common/kt_kafka_releases.c).
//
// Reflection keeps one source working across releases: since 3.7 latestVersion(boolean)
// exists and latestVersion() counts versions still marked unstable, which a broker does not
// advertise unless unstable.api.versions.enable is set; before that latestVersion() is it.
import java.lang.reflect.Field;
import java.lang.reflect.Method;

public final class ApiVersions {
    public static void main(String[] args) throws Exception {
        Class<?> keys = Class.forName("org.apache.kafka.common.protocol.ApiKeys");
        Method stable = null;
        try {
            stable = keys.getMethod("latestVersion", boolean.class);
        } catch (NoSuchMethodException e) {
            stable = null;
        }
        Method latest = keys.getMethod("latestVersion");
        Field id = keys.getField("id");
        Field name = keys.getField("name");
        for (Object k : keys.getEnumConstants()) {
            short max = stable != null ? (Short) stable.invoke(k, false) : (Short) latest.invoke(k);
            System.out.println(id.getShort(k) + " " + name.get(k) + " " + max);
        }
    }
}
