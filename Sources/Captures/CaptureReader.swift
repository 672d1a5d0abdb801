import SunSpec

/// Reads captures in any supported format from bytes; I/O is the caller's.
public enum CaptureReader {
    /// Reads every capture in `bytes` (several for a `.jsonl`), handing each to `body` in order.
    /// Bad parts are returned as errors; the good ones before and after them are still delivered.
    public static func read(
        _ bytes: [UInt8], name: String, options: CaptureOptions = CaptureOptions(), _ body: (Capture) -> Void
    ) -> [CaptureError] {
        let format = options.format ?? CaptureFormat.detect(bytes)
        switch format {
        case .capture:
            return CaptureJSON.read(bytes, name: name, body)
        case .pysunspec2:
            do {
                body(try PysunspecDevice.read(bytes, name: name, catalog: options.catalog))
                return []
            } catch {
                return [error]
            }
        case .mbpoll:
            do {
                body(try MbpollText.read(bytes, name: name, zeroBased: options.zeroBased))
                return []
            } catch {
                return [error]
            }
        case .csv:
            do {
                body(try CSVCapture.read(bytes, name: name))
                return []
            } catch {
                return [error]
            }
        }
    }
}
