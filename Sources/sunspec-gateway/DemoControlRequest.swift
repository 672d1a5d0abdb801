import Foundation
import Gateway

/// The demo's one control request: once the battery inverter is online (seen on the stream), a `set`
/// of `124.WChaMax` with a ttl goes to the control socket; the request and its answer are printed to
/// standard error. On a thread of its own (blocking sockets), never on the cooperative pool.
final class DemoControlRequest: Sendable {
    let readings: String
    let control: String?

    init(readings: String, control: String?) {
        self.readings = readings
        self.control = control
    }

    /// Starts the thread (the stream's ready callback).
    func start() {
        guard let control else { return }
        let readings = readings
        Thread {
            guard Self.waitForOnline(readings: readings, device: "demo-bess") else { return }  // the demo ended first
            let line =
                "{\"id\":\"demo-1\",\"op\":\"set\",\"device\":\"demo-bess\",\"point\":\"124.WChaMax\",\"value\":25000,\"ttl\":\"30s\"}\n"
            printError("control request: \(line.dropLast())")
            switch ControlClientSocket.exchange(Array(line.utf8), path: control, wait: .seconds(10)) {
            case .success(let answer): printError("control answer:  \(String(decoding: answer.dropLast(), as: UTF8.self))")
            case .failure(let error): printError("control request failed: \(control): \(error.message)")
            }
        }.start()
    }

    /// Reads the stream until `device` is online; false when the stream ends first.
    static func waitForOnline(readings: String, device: String) -> Bool {
        guard let fd = UnixSocket.connect(readings) else { return false }
        defer { close(fd) }
        let wanted = "\"type\":\"status\",\"device\":\"\(device)\""
        var pending: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { return false }
            pending += chunk[0..<n]
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeSubrange(...newline)
                if line.contains(wanted), line.contains("\"state\":\"online\"") { return true }
            }
        }
    }
}
