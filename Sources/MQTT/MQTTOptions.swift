/// How a client reaches its broker.
public struct MQTTOptions: Sendable, Equatable {
    /// TLS files: the CA that signs the broker's certificate, and optionally our own certificate and key.
    public struct TLS: Sendable, Equatable {
        /// PEM file of the CA certificates the broker's certificate is checked against.
        public var caFile: String
        /// PEM file of the client certificate (with `keyFile`), for brokers that ask for one.
        public var certFile: String?
        /// PEM file of the client key.
        public var keyFile: String?

        /// Creates TLS options.
        public init(caFile: String, certFile: String? = nil, keyFile: String? = nil) {
            self.caFile = caFile
            self.certFile = certFile
            self.keyFile = keyFile
        }
    }

    /// Host name or address of the broker.
    public var host: String
    /// TCP port.
    public var port: Int
    /// The MQTT client id.
    public var clientID: String
    /// User name, if the broker wants one.
    public var username: String?
    /// Password (read from `password_file`).
    public var password: String?
    /// Seconds between keepalive pings (at least 5: libmosquitto refuses less).
    public var keepalive: Int
    /// TLS, when set.
    public var tls: TLS?
    /// Longest wait between two connect attempts, in seconds (the wait doubles from 1 s up to it).
    public var maxReconnectDelay: Int

    /// Creates options.
    public init(
        host: String, port: Int, clientID: String, username: String? = nil, password: String? = nil, keepalive: Int = 30,
        tls: TLS? = nil, maxReconnectDelay: Int = 30
    ) {
        self.host = host
        self.port = port
        self.clientID = clientID
        self.username = username
        self.password = password
        self.keepalive = keepalive
        self.tls = tls
        self.maxReconnectDelay = maxReconnectDelay
    }
}
