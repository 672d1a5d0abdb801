// MARK: - Writes (functions 6 and 16)

extension ModbusLink {
    /// Writes `registers` of `unit` from `address`: one request of function 16 (1...123 registers),
    /// or with `.single` one request of function 6 per register, all in one turn on the link's
    /// thread (nothing else goes on the link in between), stopping at the first that fails (the
    /// error's address is that register's).
    ///
    /// Each reply is checked like a read's (transaction, protocol, unit, function) and must echo the
    /// request (function 6: address and value; function 16: address and count). A write is never
    /// retried: after a timeout its outcome is unknown (the connection is reopened, the line
    /// flushed), and only reading the registers back tells. Cancellation and closing as for `read`.
    public func write(
        unit: Int, address: Int, registers: [UInt16], function: WriteFunction = .multiple, timeout: Duration? = nil
    ) async throws(ModbusError) {
        let operation = Self.operation(function)
        let timeout = timeout ?? defaultTimeout
        try await transaction(operation: operation, unit: unit, address: address) { [self] in
            performWrite(unit: unit, address: address, registers: registers, function: function, timeout: timeout)
        }
    }

    /// The operation named in a write's errors.
    static func operation(_ function: WriteFunction) -> String {
        function == .multiple ? "write multiple registers" : "write single register"
    }

    // MARK: - On the link's thread

    private func performWrite(
        unit: Int, address: Int, registers: [UInt16], function: WriteFunction, timeout: Duration
    ) -> Result<Void, ModbusError> {
        let operation = Self.operation(function)
        let most = function == .multiple ? 123 : 65536
        guard (1...most).contains(registers.count), address >= 0, address + registers.count <= 65536 else {
            let kind = ModbusError.Kind.invalidRequest("\(registers.count) registers at \(address)")
            return .failure(ModbusError(kind, operation: operation, unit: unit, address: address))
        }
        return ready(unit: unit, address: address, operation: operation, timeout: timeout).flatMap { wireUnit, ctx, fd in
            guard function == .single else {
                return exchange(unit: unit, address: address, operation: operation, ctx: ctx, fd: fd) { transaction in
                    WriteFrame(unit: wireUnit, function: .multiple, address: address, registers: registers, transaction: transaction)
                }
            }
            for (i, value) in registers.enumerated() {
                let result = exchange(unit: unit, address: address + i, operation: operation, ctx: ctx, fd: fd) { transaction in
                    WriteFrame(unit: wireUnit, function: .single, address: address + i, registers: [value], transaction: transaction)
                }
                if case .failure = result { return result }
            }
            return .success(())
        }
    }
}
