import Foundation
import Gateway
import SunSpec

/// One request and its answer over a Unix socket, blocking (the command line's client).
enum ControlClientSocket {
    struct Failure: Error {
        let message: String
    }

    /// Sends `line` and reads up to the first newline of the answer, within `wait`.
    static func exchange(_ line: [UInt8], path: String, wait: Duration) -> Result<[UInt8], Failure> {
        guard let fd = UnixSocket.connect(path) else {
            return .failure(Failure(message: "cannot connect: \(String(cString: strerror(errno)))"))
        }
        defer { close(fd) }
        var timeout = timeval(tv_sec: Int(wait.components.seconds), tv_usec: Int(wait.components.attoseconds / 1_000_000_000_000))
        guard setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size)) == 0 else {
            return .failure(Failure(message: "cannot set the receive timeout: \(String(cString: strerror(errno)))"))
        }
        var sent = 0
        while sent < line.count {
            let n = line[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { return .failure(Failure(message: "cannot send: \(String(cString: strerror(errno)))")) }
            sent += n
        }
        var answer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while !answer.contains(UInt8(ascii: "\n")) {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0, errno == EINTR { continue }
            if n < 0, errno == EAGAIN || errno == EWOULDBLOCK {
                return .failure(Failure(message: "no answer within \(DurationText.format(wait))"))
            }
            guard n > 0 else {
                return .failure(
                    Failure(message: n == 0 ? "the gateway closed the connection before answering" : String(cString: strerror(errno))))
            }
            answer += chunk[0..<n]
        }
        return .success(Array(answer[...answer.firstIndex(of: UInt8(ascii: "\n"))!]))
    }

    /// The `result` of an answer line.
    static func result(of answer: [UInt8]) -> ControlResult? {
        var result: String?
        do {
            try JSONScanner.scan(answer[...].dropLast()) { (s: inout JSONScanner) throws(JSONScanner.Failure) in
                try s.object { (s: inout JSONScanner, key: String) throws(JSONScanner.Failure) in
                    if key == "result" { result = try s.string("result") } else { try s.skipValue() }
                }
            }
        } catch {
            return nil
        }
        return result.flatMap(ControlResult.init(rawValue:))
    }
}
