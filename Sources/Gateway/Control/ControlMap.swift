import SunSpec

/// A point found in a device's SunSpec map as last read: where it is, its scale factor, its value.
struct MappedPoint: Sendable {
    /// The point's definition (the device's catalog: quirks applied).
    let definition: PointDefinition
    /// Its first register.
    let address: Int
    /// Registers it takes.
    let size: Int
    /// The power of ten of its raw value (scale factor and quirk adjustment): nil when it has none.
    let scaleFactor: Int?
    /// Why its scale factor cannot be used, when it cannot (never read, not implemented).
    let scaleProblem: String?
    /// Its value in the latest registers (nil: not read, or not implemented).
    let value: SetpointValue?
    /// Where its scale factor register is (nil: it has none).
    var scaleAddress: Int? = nil
    /// Registers of the point, at a scale factor, as a value.
    let decode: @Sendable ([UInt16], Int?) -> SetpointValue?
}

/// Finds points in a SunSpec map held as registers: a device's own map (its models where discovery
/// found them), or a standard map at 40000 (a profile's, the export's).
struct ControlMap: Sendable {
    let image: RegisterImage
    let models: [ModelHeader]
    let catalog: ModelCatalog

    /// The map of a device's registers as the runner reported them.
    init(_ registers: DeviceRegisters, catalog: ModelCatalog) {
        self.init(image: registers.image, models: registers.models ?? Self.chain(registers.image, base: 40000), catalog: catalog)
    }

    init(image: RegisterImage, models: [ModelHeader], catalog: ModelCatalog) {
        self.image = image
        self.models = models
        self.catalog = catalog
    }

    /// The models of a standard map: `SunS` at `base`, then id/length headers to the end marker.
    static func chain(_ image: RegisterImage, base: Int) -> [ModelHeader] {
        guard image.value(at: base) == 0x5375, image.value(at: base + 1) == 0x6E53 else { return [] }
        var headers: [ModelHeader] = []
        var address = base + 2
        while let id = image.value(at: address), id != 0xFFFF, let length = image.value(at: address + 1), address + 2 + Int(length) <= 65536
        {
            headers.append(ModelHeader(id: Int(id), address: address, length: Int(length)))
            address += 2 + Int(length)
        }
        return headers
    }

    /// The point at `path`, or why it is not on this map.
    func find(_ path: PointPath) -> Result<MappedPoint, ControlOutcome> {
        let instances = models.filter { $0.id == path.model }
        guard path.instance < instances.count else {
            let found = instances.isEmpty ? "no model \(path.model)" : "\(instances.count) instance(s) of model \(path.model)"
            return .failure(ControlOutcome(.unknownPoint, error: "\(path): the device's map has \(found)"))
        }
        let header = instances[path.instance]
        guard let definition = catalog.definition(for: path.model) else {
            return .failure(ControlOutcome(.unknownPoint, error: "\(path): model \(path.model) has no definition"))
        }
        let point: PointDefinition
        do { point = try definition.point(at: path) } catch {
            return .failure(ControlOutcome(.unknownPoint, error: "\(path): \(error)"))
        }
        let registers = (0..<(header.length + 2)).map { image.value(at: header.address + $0) }
        guard let location = ControlLayout.locate(path, in: definition, registers: registers) else {
            return .failure(ControlOutcome(.unknownPoint, error: "\(path): the device's model \(path.model) has no such group instance"))
        }
        var scaleFactor: Int?
        var problem: String?
        var scaleAddress: Int?
        switch location.scale {
        case .none:
            scaleFactor = point.exponentAdjust == 0 ? nil : point.exponentAdjust
        case .constant(let n):
            scaleFactor = n + point.exponentAdjust
        case .register(let offset):
            scaleAddress = header.address + offset
            if let raw = registers[offset] {
                if let sf = SetpointEncoding.scaleFactor(register: raw) {
                    scaleFactor = sf + point.exponentAdjust
                } else {
                    problem = "\(path): its scale factor is not implemented (raw \(raw))"
                }
            } else {
                problem = "\(path): its scale factor was never read"
            }
        }
        let raw = registers[location.offset..<(location.offset + location.size)]
        var value: SetpointValue?
        if problem == nil, raw.allSatisfy({ $0 != nil }) {
            value = SetpointEncoding.decode(raw.map { $0! }, point: point, scaleFactor: scaleFactor)
        }
        return .success(
            MappedPoint(
                definition: point, address: header.address + location.offset, size: location.size, scaleFactor: scaleFactor,
                scaleProblem: problem, value: value, scaleAddress: scaleAddress,
                decode: { SetpointEncoding.decode($0, point: point, scaleFactor: $1) }))
    }

    /// The target of writing `value` to `path`: encoded at the device's current scale factor.
    func target(_ path: PointPath, value: SetpointValue) -> Result<ControlTarget, ControlOutcome> {
        let point: MappedPoint
        switch find(path) {
        case .failure(let outcome): return .failure(outcome)
        case .success(let found): point = found
        }
        if let problem = point.scaleProblem { return .failure(ControlOutcome(.precondition, error: problem)) }
        let registers: [UInt16]
        do {
            registers = try SetpointEncoding.encode(value, point: point.definition, scaleFactor: point.scaleFactor)
        } catch {
            return .failure(Self.refusal(error, before: point.value))
        }
        let definition = point.definition
        let scaleFactor = point.scaleFactor
        return .success(
            ControlTarget(
                point: path.description, address: point.address, registers: registers, before: point.value,
                decode: { SetpointEncoding.decode($0, point: definition, scaleFactor: scaleFactor) }))
    }

    /// The outcome of a value the encoder refused.
    static func refusal(_ error: SetpointError, before: SetpointValue?) -> ControlOutcome {
        switch error {
        case .outOfRange(let why): ControlOutcome(.outOfRange, before: before, error: why)
        case .notRepresentable(let why): ControlOutcome(.notRepresentable, before: before, error: why)
        case .precondition(let why): ControlOutcome(.precondition, before: before, error: why)
        }
    }
}
