package dev.onestep.pipeline;

import dev.onestep.io.config.VaeConfig;
import dev.onestep.testutil.Fixtures;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MemoryBudgetTest {
    @Test
    void sd2AtNativeSizeOfAPhoneImageIsRefusedWith768Accepted() {
        java.util.Map<String, Object> json = new java.util.HashMap<>(dev.onestep.io.JsonFields.readObject(Fixtures.model().resolve("vae/config.json")));
        json.put("block_out_channels", java.util.List.of(128L, 256L, 512L, 512L));
        VaeConfig sd2 = VaeConfig.fromJson(json, null);
        // 5 × 256 channels × 4 bytes per processed pixel
        assertEquals(768L * 768 * 5 * 256 * 4, MemoryBudget.activationBytes(768, 768, sd2));
        MemoryBudget b = MemoryBudget.withLimit(MemoryBudget.parseSize("16g"));
        assertDoesNotThrow(() -> b.check("photo.jpg", 4000, 3000, 768, sd2));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> b.check("photo.jpg", 4000, 3000, 0, sd2));
        assertTrue(e.getMessage().contains("photo.jpg: 4000×3000 at processing resolution 0 (native)")
                && e.getMessage().contains("57.2 GB") && e.getMessage().contains("16.0 GB"), e.getMessage());
    }

    @Test
    void sizesParse() {
        assertEquals(512L << 20, MemoryBudget.parseSize("512m"));
        assertEquals(3L << 29, MemoryBudget.parseSize("1.5G"));
        assertEquals(8L << 30, MemoryBudget.parseSize("8GiB"));
        assertEquals(2048, MemoryBudget.parseSize("2048"));
        assertThrows(IllegalArgumentException.class, () -> MemoryBudget.parseSize("lots"));
        assertThrows(IllegalArgumentException.class, () -> MemoryBudget.parseSize("-1g"));
    }

    @Test
    void theFixtureVaeEstimateIsSmall() {
        VaeConfig tiny = VaeConfig.load(Fixtures.model().resolve("vae/config.json"));
        assertEquals(64L * 48 * 5 * 32 * 4, MemoryBudget.activationBytes(64, 48, tiny));
    }

    @Test
    void aBatchHoldsAsManyImagesAsTheLimitHasRoomForAndAlwaysOne() {
        VaeConfig tiny = VaeConfig.load(Fixtures.model().resolve("vae/config.json"));
        long one = MemoryBudget.activationBytes(64, 48, tiny);
        assertEquals(3, MemoryBudget.withLimit(3 * one + one / 2).imagesThatFit(64, 48, tiny));
        assertEquals(1, MemoryBudget.withLimit(one / 2).imagesThatFit(64, 48, tiny), "an image admitted alone still runs");
        assertEquals(Integer.MAX_VALUE, MemoryBudget.withLimit(Long.MAX_VALUE).imagesThatFit(1, 1, tiny));
    }

    /** A Backend that only answers what onDevice asks: its name, dtype and available device memory (-1: the host). */
    private static dev.onestep.backend.Backend device(String name, dev.onestep.tensor.DType dtype, long available) {
        return (dev.onestep.backend.Backend) java.lang.reflect.Proxy.newProxyInstance(getClass0().getClassLoader(),
                new Class<?>[] {dev.onestep.backend.Backend.class}, (proxy, m, args) -> switch (m.getName()) {
                    case "name" -> name;
                    case "computeType" -> dtype;
                    case "deviceMemoryAvailableBytes" -> available;
                    default -> throw new UnsupportedOperationException(m.getName());
                });
    }

    private static Class<?> getClass0() { return MemoryBudgetTest.class; }

    @Test
    void onADeviceTheLimitIsItsFreeMemoryAndActivationsAreInTheComputeDtype() {
        java.util.Map<String, Object> json = new java.util.HashMap<>(dev.onestep.io.JsonFields.readObject(Fixtures.model().resolve("vae/config.json")));
        json.put("block_out_channels", java.util.List.of(128L, 256L, 512L, 512L));
        VaeConfig sd2 = VaeConfig.fromJson(json, null);
        MemoryBudget host = MemoryBudget.withLimit(MemoryBudget.parseSize("64g"));
        assertEquals(host, host.onDevice(device("cpu", dev.onestep.tensor.DType.F32, -1), true), "a host backend keeps the budget");

        MemoryBudget gpu = MemoryBudget.defaults().onDevice(device("cuda", dev.onestep.tensor.DType.BF16, 10_000_000_000L), false);
        assertEquals(9_000_000_000L, gpu.activationLimit());
        assertEquals(2, gpu.activationElementBytes());
        assertDoesNotThrow(() -> gpu.check("photo.jpg", 4000, 3000, 768, sd2)); // 768×576 × 5 × 256 × 2 B = 1.1 GB
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> gpu.check("photo.jpg", 4000, 3000, 0, sd2));
        assertTrue(e.getMessage().contains("28.6 GB") && e.getMessage().contains("free memory of the cuda device"), e.getMessage());

        MemoryBudget explicit = host.onDevice(device("cuda", dev.onestep.tensor.DType.F16, 1L << 30), true);
        assertEquals(host.activationLimit(), explicit.activationLimit(), "--max-memory wins over the device's free memory");
        assertEquals(2, explicit.activationElementBytes());
    }
}
