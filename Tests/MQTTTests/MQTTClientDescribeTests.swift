import CMosquitto
import Testing

@testable import MQTT

/// The texts the client logs for libmosquitto's result codes.
@Suite struct MQTTClientDescribeTests {
    /// A stalled broker (SIGSTOP: the connection open, PINGREQ unanswered) is reported by libmosquitto as
    /// `MOSQ_ERR_KEEPALIVE`, which its own `mosquitto_strerror` calls "Unknown error." (2.0.11).
    @Test func keepaliveTimeoutIsNamed() {
        #expect(MQTTClient.describe(Int32(MOSQ_ERR_KEEPALIVE.rawValue)) == "no answer from the broker within the keepalive")
    }

    @Test func otherCodesAreLibmosquittos() {
        #expect(MQTTClient.describe(Int32(MOSQ_ERR_NO_CONN.rawValue)) == "The client is not currently connected.")
    }
}
