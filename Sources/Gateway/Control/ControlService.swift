import Foundation
import Logging
import NIOCore
import ServiceLifecycle

/// The control side of the gateway as a service: the control socket, the heartbeats, and, at a
/// graceful shutdown (before the device runners stop), the reverts of every point with a live ttl.
public struct ControlService: Service {
    /// The pipeline requests go through.
    public let controller: Controller
    let settings: ControlSettings
    let logger: Logger

    /// The service of `controller`, listening on `settings.socketPath`.
    public init(controller: Controller, settings: ControlSettings, logger: Logger) {
        self.controller = controller
        self.settings = settings
        self.logger = logger
    }

    public func run() async throws {
        let server = ControlServer(path: settings.socketPath, mode: settings.socketMode, controller: controller, logger: logger)
        let channel = try await server.start()
        logger.info("control listening", metadata: ["socket": "\(settings.socketPath)", "audit": "\(settings.auditPath)"])
        let controller = controller
        let heartbeats = Task { await controller.beatHearts() }
        do {
            try await gracefulShutdown()
        } catch {
            logger.debug("control service cancelled", metadata: ["error": "\(error)"])
        }
        do { try await channel.close() } catch { logger.warning("control socket did not close cleanly", metadata: ["error": "\(error)"]) }
        heartbeats.cancel()
        await heartbeats.value
        await controller.revertAll()
        unlink(settings.socketPath)
        logger.info("control stopped")
    }
}
