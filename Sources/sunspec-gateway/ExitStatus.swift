import ArgumentParser

/// The documented exit statuses (sysexits.h).
enum ExitStatus {
    /// Bad input data: a capture, a model file.
    static let dataError = ExitCode(65)
    /// An input file does not exist or cannot be opened.
    static let noInput = ExitCode(66)
    /// Writing the output failed.
    static let ioError = ExitCode(74)
}
